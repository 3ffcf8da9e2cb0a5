"""Feedback modes, the choice model and the rewards of the recommender environments.

- ``rate``: the user rates every new item of the slate; rewards ``mean_rating`` (mean of the ratings
  obtained, 0 when none) or ``liked_count`` (ratings reaching the threshold).
- ``choose``: the user rates the slate, consumes the best-rated item if it reaches the threshold (ties:
  the earlier slate position wins) and leaves otherwise; reward ``chosen_rating`` (0 when leaving).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lusifer.api.errors import ConfigError

if TYPE_CHECKING:
    from lusifer.api.domain import FeedbackScale

#: Rewards measured in rating units: they can be taken relative to the user's own mean.
RATING_REWARDS = ("mean_rating", "chosen_rating")
#: ``reward_baseline`` values: ``user_mean`` subtracts the user's mean rating at the episode's start.
BASELINES = ("none", "user_mean")

#: The rewards each feedback mode allows; the first is its default.
REWARDS: dict[str, tuple[str, ...]] = {"rate": ("mean_rating", "liked_count"), "choose": ("chosen_rating",)}


def check_reward(feedback: str, reward: str | None) -> str:
    """The reward to use for ``feedback`` (its default when None); invalid combinations are errors."""
    if feedback not in REWARDS:
        raise ConfigError(f"feedback must be one of {', '.join(REWARDS)}, not {feedback!r}")
    if reward is None:
        return REWARDS[feedback][0]
    if reward not in REWARDS[feedback]:
        known = {name for names in REWARDS.values() for name in names}
        if reward not in known:
            raise ConfigError(f"unknown reward {reward!r}; known: {', '.join(sorted(known))}")
        raise ConfigError(
            f"reward {reward!r} does not fit feedback {feedback!r} (use {' or '.join(REWARDS[feedback])})"
        )
    return reward


def check_baseline(reward: str, baseline: str) -> str:
    """``baseline`` if it fits ``reward``: ``user_mean`` only applies to rewards in rating units."""
    if baseline not in BASELINES:
        raise ConfigError(f"reward_baseline must be one of {', '.join(BASELINES)}, not {baseline!r}")
    if baseline != "none" and reward not in RATING_REWARDS:
        raise ConfigError(f"reward_baseline={baseline!r} needs a reward in rating units ({', '.join(RATING_REWARDS)})")
    return baseline


def default_threshold(scale: FeedbackScale) -> int:
    """The lowest value that counts as liked: 4 on 1-5 stars, 1 on a 0/1 scale (75% up the scale)."""
    return math.ceil(scale.low + 0.75 * (scale.high - scale.low))


def choose(rated: list[tuple[str, int]], threshold: float) -> str | None:
    """The item a user picks from ``(item_id, rating)`` pairs in slate order, or None when none is good
    enough: the highest rating at or above ``threshold``, the earliest position among equals."""
    best: tuple[str, int] | None = None
    for item_id, rating in rated:
        if rating >= threshold and (best is None or rating > best[1]):
            best = (item_id, rating)
    return None if best is None else best[0]


def slate_reward(
    reward: str, ratings: list[int], threshold: float, chosen_rating: int | None, baseline: float = 0.0
) -> float:
    """The reward of one step from the new ratings obtained (duplicates, consumed and failed items
    excluded); rating-unit rewards are taken relative to ``baseline`` (0 when nothing was rated/chosen)."""
    if reward == "mean_rating":
        return float(sum(ratings) / len(ratings)) - baseline if ratings else 0.0
    if reward == "liked_count":
        return float(sum(1 for rating in ratings if rating >= threshold))
    return float(chosen_rating) - baseline if chosen_rating is not None else 0.0
