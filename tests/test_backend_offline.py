"""The offline backend: valid, deterministic answers computed from the request context."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from calls_helpers import VALIDATORS, make_config

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.domain import CLICK, STAR_RATING, FeedbackScale
from lusifer.api.errors import BackendError
from lusifer.api.prompt_context import TASK_CONTEXTS, ItemView, PromptContext
from lusifer.api.settings import BackendConfig
from lusifer.engine.backends.offline import OfflineBackend, Taste, parse_profile, read_item, render_profile
from lusifer.engine.calls import CallLayer
from lusifer.engine.validation import feedback_schema, profile_schema
from lusifer.runs.backend_factory import create_backend

STARS = STAR_RATING
CLICKS = CLICK
#: What a context needs beyond the fields a test sets.
CONTEXT_DEFAULTS = {"user_id": "u1", "user_info": "", "item_noun": "movie"}
PROFILE_DEFAULTS = {"step": 0, "previous_profile": None, "profile_min_words": 5}
#: Per test item: title, genres and the rest of its text (a domain's item text and features are made of them).
ITEMS = {
    "c": ("Laugh Riot (1994)", ("Comedy", "Romance"), "Overview: Two friends fall in love."),
    "h": ("Night Blood (1990)", ("Horror",), "Overview: A killer stalks a dark town."),
    "d": ("Long Road (1996)", ("Drama",), "Overview: A family crosses the country."),
}


def _rated(item_id: str, rating: int, suffix: str = "") -> dict[str, Any]:
    return {**_item(item_id, suffix), "rating": rating}


def _item(item_id: str, suffix: str = "") -> dict[str, Any]:
    """An item of ``ITEMS`` as a domain shows it: its text, its genres, and its text without them."""
    title, genres, overview = ITEMS[item_id]
    return {
        "item_id": item_id + suffix,
        "title": title,
        "item_info": f"{title}. Genres: {', '.join(genres)}. {overview}",
        "features": {"genres": genres, "description": f"{title}. {overview}"},
    }


def _context(task: str, fields: dict[str, Any]) -> PromptContext:
    """The typed context of ``task`` from the fields a test sets (the rest from the defaults)."""
    defaults = {**CONTEXT_DEFAULTS, **(PROFILE_DEFAULTS if task.startswith("profile") else {})}
    return TASK_CONTEXTS[task].model_validate({**defaults, **fields})


def _answer(task: str, context: dict[str, Any], seed: int | None = None) -> dict[str, Any]:
    typed = _context(task, context) if task in TASK_CONTEXTS else None
    request = LLMRequest(task, (Message("user", "prompt text " * 10),), context=typed)
    response = asyncio.run(OfflineBackend(BackendConfig(seed=seed)).acomplete(request))
    assert response.model == "offline-content-bias-v1" and response.usage.prompt_tokens == 30
    return json.loads(response.text)


def _profile(batches: list[list[dict[str, Any]]], scale: FeedbackScale = STARS) -> list[dict[str, Any]]:
    answers, previous = [], None
    for step, batch in enumerate(batches):
        context = {
            "user_id": "u1",
            "user_info": "",
            "scale": scale,
            "item_noun": "movie",
            "step": step,
            "previous_profile": previous,
            "batch": batch,
        }
        answer = _answer("profile" if previous is None else "profile_update", context)
        answers.append(answer)
        previous = answer["profile"]
    return answers


def _feedback(profile: str, items: list[str], scale: FeedbackScale = STARS, **extra: Any) -> dict[str, Any]:
    seed = extra.pop("seed", None)
    context = {
        "user_id": "u1",
        "user_info": "",
        "scale": scale,
        "item_noun": "movie",
        "profile": profile,
        "user_stats": None,
        "recent": [],
        "items": [{**_item(item_id[0], item_id[1:]), "community": {"mean": 3.5, "count": 20}} for item_id in items],
        "item_ids": list(items),
        **extra,
    }
    return _answer("feedback", context, seed)


def test_profile_summarises_likes_dislikes_and_habits() -> None:
    first, second = _profile(
        [
            [_rated("c", 5, "1"), _rated("c", 5, "2"), _rated("h", 1, "3"), _rated("d", 3, "4")],
            [_rated("h", 2, "5"), _rated("c", 4, "6"), _rated("d", 4, "7"), _rated("d", 5, "8")],
        ]
    )
    assert first["explanation"] == "Initial profile from 4 ratings."
    lines = first["profile"].splitlines()
    assert lines[0].startswith("Likes: comedy, romance") and lines[1] == "Dislikes: horror."
    assert "Rating habits: average 3.50 of 5 over 4 ratings" in first["profile"]
    assert "Rating habits: average 3.62 of 5 over 8 ratings" in second["profile"]
    assert second["profile"].splitlines()[0] == "Likes: comedy, romance, drama."
    assert second["explanation"] == (
        "After 4 more ratings (mean 3.8), added drama to likes and raised the rating level from 3.5 to 3.6."
    )


def test_profile_record_round_trips() -> None:
    taste = Taste()
    for item_id, rating in (("c", 5), ("h", 1), ("d", 4), ("c", 4)):
        taste.add(read_item(ItemView.model_validate(_item(item_id))), rating)
    again = parse_profile(render_profile(taste, STARS, "movie"))
    assert (
        again.count == 4 and again.mean == pytest.approx(3.5) and again.spread == pytest.approx(taste.spread, abs=0.01)
    )
    assert {name: (tally.count, round(tally.total, 2)) for name, tally in again.genres.items()} == {
        "comedy": (2, 9.0),
        "romance": (2, 9.0),
        "horror": (1, 1.0),
        "drama": (1, 4.0),
    }
    assert again.keywords["love"].count == 2 and "the" not in again.keywords


def test_feedback_follows_the_profile_and_is_valid() -> None:
    profile = _profile(
        [
            [
                _rated("c", 5, "1"),
                _rated("c", 5, "2"),
                _rated("h", 1, "3"),
                _rated("h", 1, "4"),
                _rated("d", 3, "5"),
            ]
        ]
    )[-1]["profile"]
    ids = ["c9", "h9", "d9", "c8"]
    ratings = _feedback(profile, ids)["ratings"]
    assert list(ratings) == ids and all(isinstance(value, int) and 1 <= value <= 5 for value in ratings.values())
    assert ratings["c9"] > ratings["h9"]


def test_feedback_is_deterministic_and_seeds_only_break_ties() -> None:
    profile = _profile([[_rated("c", 4, "1"), _rated("d", 2, "2")]])[-1]["profile"]
    ids = [f"{kind}{n}" for kind in "chd" for n in range(5)]
    first = _feedback(profile, ids)
    assert _feedback(profile, ids) == first
    assert _feedback(profile, ids, seed=7)["ratings"].keys() == first["ratings"].keys()


def test_binary_scale_answers_zero_or_one() -> None:
    profile = _profile([[_rated("c", 1, "1"), _rated("h", 0, "2"), _rated("c", 1, "3")]], CLICKS)[-1]["profile"]
    ratings = _feedback(profile, ["c5", "h5", "d5"], CLICKS, user_stats={"mean": 0.6, "count": 3})["ratings"]
    assert set(ratings.values()) <= {0, 1} and ratings["c5"] >= ratings["h5"]


def test_feedback_without_profile_or_community_uses_the_scale() -> None:
    context = {
        "user_id": "x",
        "scale": STARS,
        "profile": "Nothing is known yet.",
        "user_stats": None,
        "recent": [],
        "items": [{"item_id": "a", "title": "", "item_info": "", "community": None}],
        "item_ids": ["a"],
    }
    assert _answer("feedback", context) == {"ratings": {"a": 3}}


def test_bad_requests_are_backend_errors() -> None:
    with pytest.raises(BackendError, match="cannot answer task 'summary'"):
        _answer("summary", {})
    untyped = LLMRequest("feedback", (Message("user", "Rate."),), context={"item_ids": ["1"]})  # type: ignore[arg-type]
    with pytest.raises(BackendError, match="needs the typed context of a 'feedback' request, not dict"):
        asyncio.run(OfflineBackend(BackendConfig()).acomplete(untyped))


def test_through_the_call_layer_it_validates_and_skips_the_cache(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    backend = create_backend(config)
    assert isinstance(backend, OfflineBackend) and backend.cacheable is False
    profile = _profile([[_rated("c", 5, "1"), _rated("h", 2, "2")]])[-1]["profile"]
    ids = ["c1", "h1"]
    context = {
        "user_id": "u1",
        "scale": STARS,
        "profile": profile,
        "user_stats": {"mean": 3.5, "count": 2},
        "recent": [_rated("c", 5, "1")],
        "item_ids": ids,
        "items": [{**_item(i[0], i[1:]), "community": None} for i in ids],
    }
    request = LLMRequest(
        "feedback", (Message("user", "Rate."),), feedback_schema(ids, 1, 5), "feedback", _context("feedback", context)
    )
    profile_request = LLMRequest(
        "profile",
        (Message("user", "Profile."),),
        profile_schema(False),
        "profile",
        _context("profile", {"scale": STARS, "batch": [_rated("d", 5, "1"), _rated("h", 2, "2")]}),
    )

    async def go() -> list[Any]:
        calls = CallLayer(backend, config)
        results = [
            await calls.call(request, VALIDATORS),
            await calls.call(request, VALIDATORS),
            await calls.call(profile_request, VALIDATORS),
        ]
        await calls.aclose()
        return [*results, calls.stats]

    first, second, profile_result, stats = asyncio.run(go())
    assert first.validation.ok and set(first.validation.value) == set(ids)
    assert not second.cached and stats.cache_hits == 0 and stats.calls == 3 and stats.cost_usd == 0
    assert profile_result.validation.ok and "Likes: drama" in profile_result.validation.value["profile"]
    assert not (tmp_path / "cache.sqlite").exists()


def test_genres_come_from_the_domains_features_never_from_the_text() -> None:
    overview = "Overview: A quiet day."
    text = f"Odd (2001). {overview}"
    labelled = {"item_id": "x", "title": "Odd (2001)", "item_info": f"Odd (2001). Genres: Horror. {overview}"}
    with_features = {**labelled, "features": {"genres": ("Comedy",), "description": text}}
    plain = read_item(ItemView.model_validate(labelled))
    featured = read_item(ItemView.model_validate(with_features))
    assert plain.genres == () and "horror" in plain.keywords  # text is only words to the backend
    assert featured.genres == ("comedy",) and "horror" not in featured.keywords and "quiet" in featured.keywords


def test_the_movies_domain_gives_genres_and_the_text_without_them() -> None:
    import pandas as pd

    from lusifer.domains.movies.domain import MoviesDomain
    from lusifer.domains.movies.text import item_texts

    items = pd.DataFrame(
        {
            "title": ["Toy Story", "Heat"],
            "year": [1995, 1995],
            "genres": ["Animation|Children's|Comedy", None],
            "tmdb_genres": [None, "Action|Crime"],
            "overview": ["Toys come alive.", None],
        },
        index=[1, 2],
    )
    items["item_info"] = item_texts(items)
    features = MoviesDomain().item_features(items)
    assert features["1"].genres == ("Animation", "Children's", "Comedy") and features["2"].genres == ("Action", "Crime")
    assert features["1"].description == "Toy Story (1995). Overview: Toys come alive."
    assert "Genres: Animation, Children's, Comedy." in items.loc[1, "item_info"]
