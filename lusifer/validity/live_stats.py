"""What the live checks share: held-out targets per user, per-user errors and bootstrap summaries.

Statistics are means over users with a user-bootstrap 95 % interval; differences between two
conditions use the same resampled users for both (paired intervals).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import numpy as np

from lusifer.api.validity import ValidityData
from lusifer.evaluation.intervals import interval
from lusifer.validity.common import user_means

if TYPE_CHECKING:
    from lusifer.validity.live import LiveSimulator

#: (sum of squared errors, rated items, Spearman) of one user's ratings in one condition.
UserErrors = tuple[float, float, float]


def live_of(data: ValidityData) -> LiveSimulator:
    """The simulator of a live check (the battery runs live checks only when there is one)."""
    assert data.live is not None, "live checks need a simulator"
    live: LiveSimulator = data.live
    return live


def method_of(data: ValidityData) -> str:
    """The simulator column the live rows are reported under."""
    return data.simulators[0] if data.simulators else "simulator"


def targets_of(data: ValidityData) -> dict[str, list[str]]:
    """Each user's held-out item ids (strings), in frame order."""
    targets: dict[str, list[str]] = {}
    for user, item in zip(data.frame["user_id"].astype(str), data.frame["item_id"].astype(str)):
        targets.setdefault(user, []).append(item)
    return targets


def truth_of(data: ValidityData) -> dict[tuple[str, str], float]:
    """The true rating of every held-out (user, item)."""
    keys = zip(data.frame["user_id"].astype(str), data.frame["item_id"].astype(str))
    return dict(zip(keys, data.frame["rating"].to_numpy(float)))


def unrated_items(live: LiveSimulator, user: str, exclude: set[str], size: int, seed: int) -> list[str]:
    """A stable random sample of items the user has not rated in the history (nor in ``exclude``)."""
    seen = {entry.item_id for entry in live.histories.get(user, [])} | exclude
    pool = sorted(item for item in live.items if item not in seen)
    return random.Random(f"{seed}:{user}").sample(pool, min(size, len(pool)))


def summary_row(
    check: str, method: str, statistic: str, setting: str, data: ValidityData, per_user: np.ndarray
) -> tuple[Any, ...]:
    """A result row: the mean of ``per_user`` values over users and its user-bootstrap interval."""
    from lusifer.evaluation.compute import bootstrap_counts

    counts = bootstrap_counts(per_user.size, data.reps, data.seed)
    value = float(user_means(per_user, np.ones((1, per_user.size)))[0])
    return (check, method, statistic, setting, value, *interval(user_means(per_user, counts)))


def _spearman(pairs: list[tuple[float, float]]) -> float:
    from scipy.stats import spearmanr

    if len(pairs) < 2:
        return float("nan")
    truth, simulated = (np.asarray(side, dtype=float) for side in zip(*pairs))
    if np.ptp(truth) == 0 or np.ptp(simulated) == 0:
        return float("nan")
    return float(spearmanr(truth, simulated).statistic)


def user_errors(ratings: dict[str, float], items: list[str], truth: dict[str, float]) -> UserErrors:
    """One user's errors on ``items`` (items without a simulated rating are left out)."""
    pairs = [(truth[item], ratings[item]) for item in items if item in ratings]
    squared = sum((t - r) ** 2 for t, r in pairs)
    return squared, float(len(pairs)), _spearman(pairs)


def condition_curves(data: ValidityData, table: np.ndarray) -> dict[str, np.ndarray]:
    """RMSE and mean within-user Spearman per condition from ``(users, conditions, 3)`` user errors:
    ``(1 + reps, conditions)`` arrays whose row 0 is the value and the rest bootstrap replicates."""
    from lusifer.evaluation.compute import bootstrap_counts

    users, conditions = table.shape[0], table.shape[1]
    counts = np.vstack([np.ones((1, users)), bootstrap_counts(users, data.reps, data.seed)])
    with np.errstate(invalid="ignore", divide="ignore"):
        rmse = np.sqrt((counts @ table[:, :, 0]) / (counts @ table[:, :, 1]))
    spearman = np.column_stack([user_means(table[:, c, 2], counts) for c in range(conditions)])
    return {"rmse": rmse, "per_user_spearman": spearman}
