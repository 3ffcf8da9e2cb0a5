"""The offline backend: a small content-and-bias rating model that needs no network and no key.

It answers the same structured requests an LLM would, computed from ``request.context`` (the data
the prompt was rendered from), never from the prompt's prose:

- ``profile`` / ``profile_update``: keeps a per-user *taste record* — rating level and spread, and the
  average rating the user gave per genre and per keyword of the items' text — and writes it as a
  readable profile (``Likes: ...``, ``Dislikes: ...``, ``Rating habits: ...``) followed by the record
  lines themselves. An update parses the previous profile's record lines, adds the new batch and
  explains in one sentence what changed.
- ``feedback``: predicts ``user level + item level + content affinity``:
  the user's level is their mean rating shrunk toward the community level by their number of ratings;
  the item's level is its community mean shrunk toward the community level by its number of ratings;
  the content affinity compares the item's genres and keywords with the taste record and with the
  recent items (weighted by how far each recent rating is from the user's level). The sum is rounded
  and clipped to the scale; binary scales threshold it at one half.

What it is: a deterministic, fast, honest baseline (about as accurate as a user+item bias model —
see ``docs/offline-backend.md`` for measured numbers) that lets the whole pipeline run end to end.
What it is not: a language model. It reads no prose, knows nothing beyond the given context, and its
"profiles" are statistics written as text. The same input always gives the same output; a seed only
breaks exact ties between two ratings.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lusifer.api.backend import Backend, LLMRequest, LLMResponse, Usage
from lusifer.api.errors import BackendError
from lusifer.api.prompt_context import (
    CandidateItem,
    FeedbackContext,
    FeedbackScale,
    ItemView,
    LeaveContext,
    ProfileContext,
    RatedItem,
)

#: Ratings an item needs before its community mean counts half (shrinkage toward the community level).
ITEM_SHRINKAGE = 10.0
#: Ratings a user needs before their own mean counts half (shrinkage toward the community level).
USER_SHRINKAGE = 40.0
#: Where the community level sits on the scale (3.52 on 1-5 stars; ML-100K's mean rating is 3.53): the
#: level users and items are shrunk toward. Fixed, so a rating never depends on the request's other items.
COMMUNITY_LEVEL = 0.63
#: Pseudo-count shrinking a genre's or keyword's average rating toward the user's level.
TOKEN_SHRINKAGE = 3.0
#: How strongly genre, keyword and recent-item affinity move a prediction (rating units per unit).
GENRE_GAIN = 0.6
KEYWORD_GAIN = 0.25
RECENT_GAIN = 0.2
#: A genre or keyword is a like (dislike) when its shrunk deviation from the user's level exceeds this.
TASTE_THRESHOLD = 0.15
#: Distribution mode: the normal around a prediction has the user's rating spread times this share
#: (the model explains part of the spread), never less than the floor (in rating units per scale step).
RESIDUAL_SHARE = 0.9
MIN_RESIDUAL_SD = 0.5
#: Spread assumed for a user whose profile records none (in scale steps; about ML-100K's spread).
DEFAULT_SPREAD = 1.1
#: Keywords kept in a profile's record (most frequent, then strongest); genres are all kept.
MAX_KEYWORDS = 80
#: Shown in the readable Likes/Dislikes lines.
SHOWN_GENRES = 5
SHOWN_KEYWORDS = 6

_STOP_TEXT = """a about above after again against all almost along also although always am among an and another
    any anyone anything are around as at away back be became because become becomes been before began
    behind being below best better between beyond both but by came can cannot come comes could did do
    does doing done down during each either else even ever every find finds first for found four from
    further get gets getting give given gives go goes going gone got had has have having he her here
    hers herself him himself his how however i if in into is it its itself just know last later least
    less let life like likes made make makes making man many may me meanwhile men might more most much
    must my myself never new next no nor not nothing now of off often on once one only onto or other
    others our out over own part people place put rather really s same see seems set several she
    should show since so some something soon still story such take takes than that the their them
    themselves then there these they things this those though three through thus time to together too
    toward two under unless until up upon us very was way ways we well were what when where whether
    which while who whom whose why will with within without would year years yet you young your film
    movie genres overview tagline runtime minutes original language"""
#: Words that say nothing about taste (function words, and the labels of the item text).
STOP_WORDS = frozenset(_STOP_TEXT.split())

#: The offline backend's leave answers (``leave`` task), by whether something was picked.
LEAVE_REASONS = {True: "Found something I wanted, so I keep browsing.", False: "Nothing here was worth it, so I leave."}

_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_YEAR = re.compile(r"\(\d{4}\)")


@dataclass(frozen=True)
class ItemTokens:
    """What the model reads from an item: its genres and its keywords (title and description words)."""

    genres: tuple[str, ...]
    keywords: frozenset[str]


def read_item(item: ItemView) -> ItemTokens:
    """An item's genres (the domain's ``features.genres``, lower-cased) and keywords: the words of its text
    without the genre list (``features.description``, else ``item_info``) and of its title, no stop words."""
    genres = tuple(dict.fromkeys(" ".join(name.split()).lower() for name in item.features.genres if name.strip()))
    description = item.features.description if item.features.description is not None else item.item_info
    text = description + " " + _YEAR.sub(" ", item.title)
    words = {word.strip("'-") for word in _WORD.findall(text.lower())}
    return ItemTokens(genres, frozenset(w for w in words if len(w) > 2 and w not in STOP_WORDS))


@dataclass
class Tally:
    """How many rated items carried a genre or keyword, and the sum of their ratings."""

    count: int = 0
    total: float = 0.0

    def weight(self, level: float) -> float:
        """The shrunk deviation of this token's average rating from ``level``."""
        return (self.total - self.count * level) / (self.count + TOKEN_SHRINKAGE)


@dataclass
class Taste:
    """A user's rating record: the state a profile carries from one step to the next."""

    count: int = 0
    total: float = 0.0
    squares: float = 0.0
    genres: dict[str, Tally] = field(default_factory=dict)
    keywords: dict[str, Tally] = field(default_factory=dict)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def spread(self) -> float:
        if self.count < 2:
            return 0.0
        variance = (self.squares - self.total**2 / self.count) / (self.count - 1)
        return math.sqrt(max(variance, 0.0))

    def add(self, item: ItemTokens, rating: float) -> None:
        self.count += 1
        self.total += rating
        self.squares += rating * rating
        for name in item.genres:
            tally = self.genres.setdefault(name, Tally())
            tally.count, tally.total = tally.count + 1, tally.total + rating
        for word in item.keywords:
            tally = self.keywords.setdefault(word, Tally())
            tally.count, tally.total = tally.count + 1, tally.total + rating

    def ranked(self, tallies: Mapping[str, Tally], sign: int, limit: int) -> list[str]:
        """Names whose weight is beyond the like/dislike threshold in direction ``sign``, strongest first."""
        level = self.mean or 0.0
        scored = [(sign * tally.weight(level), name) for name, tally in tallies.items()]
        return [
            name for score, name in sorted(scored, key=lambda pair: (-pair[0], pair[1])) if score > TASTE_THRESHOLD
        ][:limit]


# The profile text -------------------------------------------------------------------------------------

_HABITS = re.compile(
    r"Rating habits: average (?P<mean>-?[\d.]+) of (?P<high>-?\d+) over (?P<count>\d+) ratings"
    r"(?: \(spread (?P<spread>[\d.]+)\))?"
)
_RECORD = re.compile(r"^(?P<kind>Genre|Keyword) record: (?P<body>.*)$", re.MULTILINE)
_ENTRY = re.compile(r"^(?P<name>.+?) (?P<avg>-?[\d.]+) x(?P<count>\d+)$")


def _record_line(kind: str, tallies: Mapping[str, Tally]) -> str:
    entries = [f"{name} {tally.total / tally.count:.2f} x{tally.count}" for name, tally in tallies.items()]
    return f"{kind} record: " + "; ".join(entries)


def _kept_keywords(taste: Taste) -> dict[str, Tally]:
    level = taste.mean or 0.0
    ranked = sorted(taste.keywords.items(), key=lambda pair: (-pair[1].count, -abs(pair[1].weight(level)), pair[0]))
    return dict(ranked[:MAX_KEYWORDS])


def render_profile(taste: Taste, scale: FeedbackScale, noun: str) -> str:
    """The readable profile: a summary, then the record lines the next step reads back."""
    nouns = noun + "s"
    likes, dislikes = (
        taste.ranked(taste.genres, 1, SHOWN_GENRES),
        taste.ranked(taste.genres, -1, SHOWN_GENRES),
    )
    keywords = _kept_keywords(taste)
    liked, disliked = taste.ranked(keywords, 1, SHOWN_KEYWORDS), taste.ranked(keywords, -1, SHOWN_KEYWORDS)
    lines = [
        f"Likes: {', '.join(likes) or 'no genre stands out yet'}.",
        f"Dislikes: {', '.join(dislikes) or 'no genre stands out yet'}.",
        f"Liked themes: {', '.join(liked) or 'none clear yet'}.",
        f"Disliked themes: {', '.join(disliked) or 'none clear yet'}.",
        (
            f"Rating habits: average {taste.mean or 0.0:.2f} of {scale.high} over {taste.count} ratings "
            f"(spread {taste.spread:.2f})."
        ),
        f"Record of the average rating per genre and keyword across the rated {nouns}:",
        _record_line("Genre", taste.genres),
        _record_line("Keyword", keywords),
    ]
    return "\n".join(lines)


def parse_profile(text: str | None) -> Taste:
    """Read a profile written by :func:`render_profile` back into a :class:`Taste` (empty if none)."""
    taste = Taste()
    if not text:
        return taste
    habits = _HABITS.search(text)
    if habits:
        taste.count = int(habits["count"])
        mean, spread = float(habits["mean"]), float(habits["spread"] or 0.0)
        taste.total = mean * taste.count
        taste.squares = spread**2 * max(taste.count - 1, 0) + mean * mean * taste.count
    for record in _RECORD.finditer(text):
        target = taste.genres if record["kind"] == "Genre" else taste.keywords
        for entry in record["body"].split("; "):
            match = _ENTRY.match(entry.strip())
            if match:
                count = int(match["count"])
                target[match["name"]] = Tally(count, float(match["avg"]) * count)
    return taste


# The rating model -------------------------------------------------------------------------------------


def _cosine(a: ItemTokens, b: ItemTokens) -> float:
    left = {f"g:{name}" for name in a.genres} | a.keywords
    right = {f"g:{name}" for name in b.genres} | b.keywords
    if not left or not right:
        return 0.0
    return len(left & right) / math.sqrt(len(left) * len(right))


def _mean_weight(tallies: Mapping[str, Tally], names: Iterable[str], level: float) -> float:
    weights = [tallies[name].weight(level) for name in names if name in tallies]
    return sum(weights) / len(weights) if weights else 0.0


def _keyword_affinity(tallies: Mapping[str, Tally], keywords: frozenset[str], level: float) -> float:
    weights = [tallies[word].weight(level) for word in keywords if word in tallies]
    return sum(weights) / math.sqrt(len(keywords)) if keywords else 0.0


def _tie_break(seed: int, user_id: str, item_id: str) -> float:
    digest = hashlib.sha256(f"{seed}\0{user_id}\0{item_id}".encode()).digest()
    return (int.from_bytes(digest[:4], "big") / 2**32 - 0.5) * 1e-6


@dataclass(frozen=True)
class Rater:
    """Predicts one user's ratings from a ``feedback`` context."""

    user_level: float
    taste: Taste
    recent: Sequence[tuple[ItemTokens, float]]
    recent_level: float
    community_level: float

    @classmethod
    def from_context(cls, context: FeedbackContext) -> Rater:
        scale = context.scale
        taste = parse_profile(context.profile)
        recent = [(read_item(r), float(r.rating)) for r in context.recent]
        stats = context.user_stats
        if stats and stats.count:
            own, count = float(stats.mean), stats.count
        elif taste.count:
            own, count = taste.mean or 0.0, taste.count
        elif recent:
            own, count = sum(rating for _, rating in recent) / len(recent), len(recent)
        else:
            own, count = (scale.low + scale.high) / 2, 0
        # Levels come from the user and the item, never from the other items of the request, so an
        # item's rating does not depend on its slate-mates.
        community_level = scale.low + COMMUNITY_LEVEL * (scale.high - scale.low) if count else own
        user_level = community_level + count / (count + USER_SHRINKAGE) * (own - community_level)
        recent_level = sum(rating for _, rating in recent) / len(recent) if recent else own
        return cls(user_level, taste, recent, recent_level, community_level)

    def predict(self, candidate: CandidateItem) -> float:
        """The unrounded rating of one item."""
        item = read_item(candidate)
        community = candidate.community
        prediction = self.user_level
        if community and community.count:
            count = community.count
            prediction += count / (count + ITEM_SHRINKAGE) * (community.mean - self.community_level)
        taste_level = self.taste.mean if self.taste.mean is not None else self.user_level
        prediction += GENRE_GAIN * _mean_weight(self.taste.genres, item.genres, taste_level)
        prediction += KEYWORD_GAIN * _keyword_affinity(self.taste.keywords, item.keywords, taste_level)
        if self.recent:
            similarities = [(_cosine(item, other), rating) for other, rating in self.recent]
            weight = sum(similarity for similarity, _ in similarities) + 1.0
            affinity = sum(s * (rating - self.recent_level) for s, rating in similarities) / weight
            prediction += RECENT_GAIN * affinity
        return prediction


def rate(context: FeedbackContext, seed: int = 0) -> dict[str, int]:
    """Integer ratings on the context's scale for every id in ``context.item_ids``."""
    low, high = context.scale.low, context.scale.high
    rater = Rater.from_context(context)
    ratings: dict[str, int] = {}
    for item in context.items:
        item_id = item.item_id
        value = rater.predict(item) + _tie_break(seed, context.user_id, item_id)
        if context.scale.kind == "binary":
            ratings[item_id] = high if value >= (low + high) / 2 else low
        else:
            ratings[item_id] = min(high, max(low, math.floor(value + 0.5)))
    return ratings


def rate_distributions(context: FeedbackContext) -> dict[str, dict[str, float]]:
    """Per id in ``context.item_ids``, a discretised normal around the unrounded prediction with the
    user's spread (on a binary scale: the chance of each side of the midpoint)."""
    from lusifer.engine.distributions import discretised_normal

    scale = context.scale
    points = scale.points
    rater = Rater.from_context(context)
    steps = (scale.high - scale.low) or 1
    spread = rater.taste.spread if rater.taste.count >= 2 else DEFAULT_SPREAD * steps / 4
    sd = max(RESIDUAL_SHARE * spread, MIN_RESIDUAL_SD * steps / 4)
    answer = {}
    for item in context.items:
        value = rater.predict(item)
        answer[item.item_id] = {str(point): p for point, p in discretised_normal(value, sd, points).items()}
    return answer


def build_profile(context: ProfileContext) -> dict[str, str]:
    """The ``{"profile", "explanation"}`` answer of a profile or profile-update step."""
    previous = parse_profile(context.previous_profile)
    taste = copy.deepcopy(previous)
    batch = context.batch
    for entry in batch:
        taste.add(read_item(entry), float(entry.rating))
    profile = render_profile(taste, context.scale, context.item_noun)
    if not previous.count:
        return {"profile": profile, "explanation": f"Initial profile from {_ratings(len(batch))}."}
    return {"profile": profile, "explanation": _explain(previous, taste, batch)}


def _explain(before: Taste, after: Taste, batch: Sequence[RatedItem]) -> str:
    batch_mean = sum(float(entry.rating) for entry in batch) / len(batch) if batch else 0.0
    changes = []
    for label, sign in (("likes", 1), ("dislikes", -1)):
        old = set(before.ranked(before.genres, sign, SHOWN_GENRES))
        new = after.ranked(after.genres, sign, SHOWN_GENRES)
        added = [name for name in new if name not in old]
        if added:
            changes.append(f"added {', '.join(added)} to {label}")
    old_mean, new_mean = before.mean or 0.0, after.mean or 0.0
    if round(new_mean, 1) != round(old_mean, 1):
        direction = "raised" if new_mean > old_mean else "lowered"
        changes.append(f"{direction} the rating level from {old_mean:.1f} to {new_mean:.1f}")
    summary = " and ".join(changes) if changes else "kept the likes, dislikes and rating level"
    return f"After {_ratings(len(batch), 'more ')} (mean {batch_mean:.1f}), {summary}."


def _ratings(count: int, adjective: str = "") -> str:
    return f"{count} {adjective}rating" + ("" if count == 1 else "s")


class OfflineBackend(Backend):
    """Answers profile and feedback requests locally with a content-and-bias model (no key, no network)."""

    name = "offline"
    description = "Built-in content-and-bias model: no network, no key, deterministic (a baseline, not an LLM)."
    key_name = None
    default_model = "offline-content-bias-v1"
    cacheable = False
    remote = False
    distribution_method = "model"

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        context = request.context
        if request.task in ("profile", "profile_update") and isinstance(context, ProfileContext):
            answer: dict[str, Any] = build_profile(context)
        elif request.task == "feedback" and isinstance(context, FeedbackContext):
            answer = {"ratings": rate(context, self.config.seed or 0)}
            if context.feedback_output == "distribution":
                answer["distributions"] = rate_distributions(context)
        elif request.task == "leave" and isinstance(context, LeaveContext):  # the documented rule
            answer = {"leave": not context.picked, "reason": LEAVE_REASONS[context.picked]}
        elif request.task not in ("profile", "profile_update", "feedback", "leave"):
            raise BackendError(f"the offline backend cannot answer task '{request.task}'")
        else:
            raise BackendError(
                f"the offline backend needs the typed context of a '{request.task}' request, "
                f"not {type(context).__name__}"
            )
        text = json.dumps(answer, ensure_ascii=False)
        prompt = sum(len(message.content) for message in request.messages)
        return LLMResponse(text=text, model=self.model, usage=Usage(prompt // 4, len(text) // 4), finish_reason="stop")
