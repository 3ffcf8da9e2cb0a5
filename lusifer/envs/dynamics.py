"""User dynamics of the recommender environments: who is simulated, noisy ratings, leaving and returning.

- **Populations**: :func:`population` picks the users episodes are drawn from (``users=`` or a seeded
  ``user_split=("train" | "test", fraction, seed)``), so agents can be evaluated on users they never saw.
- **Stochastic users**: a :class:`RatingSampler` turns the backend's rating into the rating the user gives.
  :class:`NormalNoise` samples a seeded normal around it; a sampler that reads a per-item rating
  distribution can replace it (same interface).
- **Leaving and returning**: :class:`Retention` — the user leaves after ``patience`` consecutive
  disappointing steps (no new item reaches the threshold); in a multi-session episode they come back
  after a gap that is shorter the more of the session they liked (a retention signal).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from lusifer.api.errors import ConfigError

SPLITS = ("train", "test")


def population(users: list[str], chosen: Sequence[str | int] | None, split: tuple[str, float, int] | None) -> list[str]:
    """The users episodes are drawn from: ``chosen`` ids, one part of a seeded split, or everyone."""
    if chosen is not None and split is not None:
        raise ConfigError("give users= or user_split=, not both")
    if chosen is not None:
        wanted = [str(user) for user in chosen]
        unknown = sorted(set(wanted) - set(users))
        if unknown or not wanted:
            raise ConfigError(
                f"users= must be users with training ratings (unknown: {', '.join(unknown[:5]) or 'none'})"
            )
        return wanted
    if split is None:
        return users
    try:
        part, fraction, seed = split
        fraction, seed = float(fraction), int(seed)
    except (TypeError, ValueError):
        raise ConfigError(f'user_split is ("train" | "test", fraction, seed), not {split!r}') from None
    if part not in SPLITS or not 0 < fraction < 1:
        raise ConfigError(f'user_split is ("train" | "test", fraction in (0, 1), seed), not {split!r}')
    order = np.random.default_rng(seed).permutation(len(users))
    cut = round(fraction * len(users))
    picked = order[:cut] if part == "train" else order[cut:]
    if not len(picked):
        raise ConfigError(f"user_split={split!r} leaves no {part} users")
    return [users[index] for index in sorted(picked)]


class RatingSampler(Protocol):
    """Turns the backend's rating of an item into the rating a stochastic user gives."""

    def sample(self, item_id: str, rating: int, rng: np.random.Generator) -> int: ...


@dataclass(frozen=True)
class NormalNoise:
    """A normal with standard deviation ``std`` around the backend's rating, rounded and clipped."""

    std: float
    low: int
    high: int

    def sample(self, item_id: str, rating: int, rng: np.random.Generator) -> int:
        return int(np.clip(np.rint(rng.normal(rating, self.std)), self.low, self.high))


@dataclass
class DistributionSampler:
    """Draws the user's rating from the backend's distribution of the item (distribution mode); items
    without one go to ``fallback`` (None: the backend's rating as given).

    The environment :meth:`offer` s each step's distributions before sampling.
    """

    fallback: RatingSampler | None = None
    distributions: dict[str, dict[int, float]] = field(default_factory=dict)

    def offer(self, distributions: dict[str, dict[int, float]]) -> None:
        self.distributions = dict(distributions)

    def sample(self, item_id: str, rating: int, rng: np.random.Generator) -> int:
        distribution = self.distributions.get(item_id)
        if not distribution:
            return rating if self.fallback is None else self.fallback.sample(item_id, rating, rng)
        points = sorted(distribution)
        probabilities = np.array([distribution[point] for point in points], dtype=float)
        return int(rng.choice(points, p=probabilities / probabilities.sum()))


@dataclass(frozen=True)
class Retention:
    """When a user leaves and when they come back.

    :param patience: consecutive steps without a liked new item after which the user leaves (None: never).
    :param sessions: sessions per episode; a user who leaves with sessions left returns.
    :param max_gap: the longest absence (in steps of time) before returning.
    """

    patience: int | None
    sessions: int = 1
    max_gap: int = 10

    def __post_init__(self) -> None:
        if (self.patience is not None and self.patience < 1) or self.sessions < 1 or self.max_gap < 1:
            raise ConfigError("patience, sessions and max_gap must be positive")

    def leaves(self, misses: int) -> bool:
        """Whether ``misses`` consecutive disappointing steps make the user leave."""
        return self.patience is not None and misses >= self.patience

    def return_gap(self, liked: int, shown: int) -> int:
        """The absence before the next session: 1 after a fully liked session, up to ``1 + max_gap``."""
        share = liked / shown if shown else 0.0
        return 1 + math.floor(self.max_gap * (1.0 - share))
