"""Pooled and per-user metrics with user-bootstrap confidence intervals, on whole data and subsets.

Input is a frame with ``user_id``, ``item_id``, a truth column and one column per method (a simulator's
ratings, a baseline's predictions, ...). NaN in a method column marks a failed or invalid output: it
lowers ``valid_share`` and is ignored by the other metrics.

The bootstrap resamples *users* with replacement (a user's rows stay together), using one set of
resampling counts per subset for every method, so intervals of different methods are paired.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lusifer.evaluation.intervals import interval

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.api.evaluator import Evaluator

METRIC_COLUMNS = ("method", "subset", "metric", "value", "ci_low", "ci_high")
#: Prefix of the per-user metrics (the mean over users of each user's own metric).
PER_USER_PREFIX = "per_user_"
#: Display order of the built-in metrics; plugin metrics follow alphabetically.
PREFERRED_ORDER = (
    "rmse",
    "mae",
    "pearson",
    "spearman",
    "r2",
    "qwk",
    "accuracy",
    "tv_distance",
    "wasserstein",
    "auc",
    "log_loss",
    "ece",
    "valid_share",
)
#: Cells of one dense weight matrix (replicates x rows): small enough to stay in CPU cache while every
#: metric reads it, which is several times faster than one big matrix.
_MAX_CELLS = 1 << 16


def select_evaluators(kind: str, names: Sequence[str] | None = None) -> list[Evaluator]:
    """Registered evaluators for feedback ``kind`` (all of them, or the given ``names`` in order)."""
    from lusifer.api.errors import NotFoundError
    from lusifer.kernel.registry import evaluators, get_evaluator

    if names is not None:
        chosen = [get_evaluator(name) for name in names]
        wrong = [evaluator.name for evaluator in chosen if kind not in evaluator.kinds]
        if wrong:
            raise NotFoundError(f"metric(s) {', '.join(wrong)} do not apply to {kind} feedback")
        return chosen
    found = [entry.obj for entry in evaluators().entries() if kind in entry.obj.kinds]
    rank = {name: position for position, name in enumerate(PREFERRED_ORDER)}
    return sorted(found, key=lambda evaluator: (rank.get(evaluator.name, len(rank)), evaluator.name))


def bootstrap_counts(n_users: int, reps: int, seed: int) -> np.ndarray:
    """How often each of ``n_users`` users is drawn in each of ``reps`` resamples: ``(reps, n_users)``."""
    rng = np.random.default_rng(seed)
    if n_users == 0 or reps == 0:
        return np.zeros((reps, n_users))
    return rng.multinomial(n_users, np.full(n_users, 1.0 / n_users), size=reps).astype(float)


def _replicates(evaluator: Evaluator, y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The metric on each weighted replicate (one row of ``weights`` each)."""
    if evaluator.weighted is not None:
        return np.asarray(evaluator.weighted(y, p, weights), dtype=float)
    rows = np.arange(y.size)
    values = np.empty(weights.shape[0])
    for k, row_weights in enumerate(weights):
        index = np.repeat(rows, row_weights.astype(int))
        values[k] = evaluator(y[index], p[index]) if index.size else np.nan
    return values


def _chunks(total: int, size: int) -> Iterator[slice]:
    size = max(1, size)
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


def per_user_metrics(frame: pd.DataFrame, method: str, truth: str, evaluators: Sequence[Evaluator]) -> pd.DataFrame:
    """Each user's own metrics: one row per user (index ``user_id``), one column per metric."""
    import pandas as pd

    codes, users = pd.factorize(frame["user_id"], sort=True)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    y = frame[truth].to_numpy(dtype=float)[order]
    p = frame[method].to_numpy(dtype=float)[order]
    bounds = np.searchsorted(sorted_codes, np.arange(len(users) + 1))
    mean_rows = max(1.0, len(frame) / max(1, len(users)))
    result = {evaluator.name: np.full(len(users), np.nan) for evaluator in evaluators}
    for block in _chunks(len(users), int(np.sqrt(_MAX_CELLS / mean_rows))):
        rows = slice(bounds[block.start], bounds[block.stop])
        local = sorted_codes[rows] - block.start
        weights = (local[None, :] == np.arange(block.stop - block.start)[:, None]).astype(float)
        for evaluator in evaluators:
            with np.errstate(all="ignore"):
                result[evaluator.name][block] = _replicates(evaluator, y[rows], p[rows], weights)
    return pd.DataFrame(result, index=pd.Index(users, name="user_id"))


def metric_table(
    frame: pd.DataFrame,
    methods: Sequence[str],
    evaluators: Sequence[Evaluator],
    truth: str = "rating",
    subsets: Mapping[str, np.ndarray] | None = None,
    reps: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    per_user: Sequence[str] = ("all",),
    on_step: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Metrics of every method on every subset, with user-bootstrap percentile intervals.

    :param frame: ``user_id``, the ``truth`` column and the ``methods`` columns (NaN = failed output).
    :param subsets: name -> boolean row mask (default: ``{"all": every row}``); empty subsets are skipped.
    :param reps: bootstrap replicates (0: no intervals).
    :param per_user: subsets that also get ``per_user_<metric>``, the mean over users of each user's
        own metric (with the same bootstrap over users).
    :param on_step: told ``"bootstrap: i/n (subset, method)"`` before each method of each subset.
    :returns: rows ``method, subset, metric, value, ci_low, ci_high``.
    """
    import pandas as pd

    subsets = subsets or {"all": np.ones(len(frame), dtype=bool)}
    records = []
    cells, done = len(methods) * sum(bool(np.asarray(mask).any()) for mask in subsets.values()), 0
    for subset, mask in subsets.items():
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            continue
        part = frame.loc[mask]
        codes, users = pd.factorize(part["user_id"], sort=True)
        counts = bootstrap_counts(len(users), reps, seed)
        y = part[truth].to_numpy(dtype=float)
        for method in methods:
            done += 1
            if on_step is not None:
                on_step(f"bootstrap: {done}/{cells} ({reps} resamples; subset {subset}, {method})")
            p = part[method].to_numpy(dtype=float)
            replicates: dict[str, list[np.ndarray]] = {evaluator.name: [] for evaluator in evaluators}
            for block in _chunks(reps, _MAX_CELLS // max(1, len(part))):
                weights = counts[block][:, codes]
                for evaluator in evaluators:
                    with np.errstate(all="ignore"):
                        replicates[evaluator.name].append(_replicates(evaluator, y, p, weights))
            for evaluator in evaluators:
                with np.errstate(all="ignore"):
                    value = evaluator(y, p)
                boot = np.concatenate(replicates[evaluator.name]) if reps else np.empty(0)
                low, high = interval(boot, confidence)
                records.append((method, subset, evaluator.name, value, low, high))
            if subset in per_user:
                users_table = per_user_metrics(part, method, truth, evaluators)
                for evaluator in evaluators:
                    values = users_table[evaluator.name].to_numpy()
                    finite = np.isfinite(values)
                    with np.errstate(all="ignore"):
                        boot = (counts @ np.where(finite, values, 0.0)) / (counts @ finite)
                    value = float(values[finite].mean()) if finite.any() else float("nan")
                    low, high = interval(boot, confidence)
                    records.append((method, subset, PER_USER_PREFIX + evaluator.name, value, low, high))
    return pd.DataFrame.from_records(records, columns=list(METRIC_COLUMNS))


def paired_difference(
    frame: pd.DataFrame,
    method: str,
    reference: str,
    evaluator: Evaluator,
    truth: str = "rating",
    reps: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """``metric(method) - metric(reference)`` on all rows, with a paired user-bootstrap interval.

    Both methods are scored on the same resampled users in every replicate, so the interval reflects
    the difference itself rather than two overlapping marginal intervals.
    """
    import pandas as pd

    codes, users = pd.factorize(frame["user_id"], sort=True)
    counts = bootstrap_counts(len(users), reps, seed)
    y = frame[truth].to_numpy(dtype=float)
    a, b = frame[method].to_numpy(dtype=float), frame[reference].to_numpy(dtype=float)
    differences = []
    for block in _chunks(reps, _MAX_CELLS // max(1, len(frame))):
        weights = counts[block][:, codes]
        with np.errstate(all="ignore"):
            differences.append(_replicates(evaluator, y, a, weights) - _replicates(evaluator, y, b, weights))
    with np.errstate(all="ignore"):
        value = evaluator(y, a) - evaluator(y, b)
    low, high = interval(np.concatenate(differences) if reps else np.empty(0), confidence)
    return value, low, high


def cold_start_subsets(
    test: pd.DataFrame, history: pd.DataFrame, user_below: int = 20, item_below: int = 10
) -> dict[str, np.ndarray]:
    """Row masks over ``test``: all rows, cold users, cold items and items unseen in ``history``.

    A cold user has fewer than ``user_below`` ratings in the training slice ``history``; a cold item
    fewer than ``item_below``; an unseen item none.
    """
    from lusifer.engine.selection import cold_start_items, cold_start_users

    users, items = test["user_id"], test["item_id"]
    return {
        "all": np.ones(len(test), dtype=bool),
        f"cold_users<{user_below}": users.isin(cold_start_users(history, test, user_below)).to_numpy(),
        f"cold_items<{item_below}": items.isin(cold_start_items(history, test, item_below)).to_numpy(),
        "unseen_items": items.isin(cold_start_items(history, test, 1)).to_numpy(),
    }
