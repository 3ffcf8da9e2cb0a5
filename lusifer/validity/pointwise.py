"""Frame checks on each user's own held-out items: within-user ranking and distribution match."""

from __future__ import annotations

import numpy as np

from lusifer.api.validity import ValidityCheck, ValidityData, Values
from lusifer.validity.common import cached, user_means


def _per_user(data: ValidityData, column: str) -> dict[str, np.ndarray]:
    """Per user: Spearman with the truth, and the mean and spread of truth and predictions."""
    import pandas as pd

    from lusifer.evaluation.compute import per_user_metrics
    from lusifer.kernel.registry import get_evaluator

    frame = data.frame
    spearman = per_user_metrics(frame, column, "rating", [get_evaluator("spearman")])["spearman"].to_numpy()
    grouped = pd.DataFrame(
        {"user": data.user_codes, "truth": frame["rating"].to_numpy(float), "pred": frame[column].to_numpy(float)}
    ).groupby("user")
    return {
        "spearman": spearman,
        "true_mean": grouped["truth"].mean().to_numpy(),
        "pred_mean": grouped["pred"].mean().to_numpy(),
        "true_sd": grouped["truth"].std(ddof=0).to_numpy(),
        "pred_sd": grouped["pred"].std(ddof=0).to_numpy(),
    }


def within_user_ranking(data: ValidityData, column: str, weights: np.ndarray) -> Values:
    """Mean over users of the Spearman correlation between a user's simulated and true ratings."""
    per_user = cached(data, ("per_user", column), lambda: _per_user(data, column))
    return {("per_user_spearman", "all"): user_means(per_user["spearman"], weights)}


def _histogram(values: np.ndarray, low: float, high: float, row_weights: np.ndarray) -> np.ndarray:
    levels = int(high - low) + 1
    codes = np.clip(np.floor(values + 0.5) - low, 0, levels - 1).astype(int)
    counts = row_weights @ np.eye(levels)[codes]
    shares: np.ndarray = counts / counts.sum(axis=1, keepdims=True)
    return shares


def distribution_match(data: ValidityData, column: str, weights: np.ndarray) -> Values:
    """Histogram distances (rounded values) and per-user level and spread versus the truth."""
    from scipy.spatial.distance import jensenshannon

    low, high = data.scale
    y = data.frame["rating"].to_numpy(float)
    p = data.frame[column].to_numpy(float)
    valid = np.isfinite(p) & np.isfinite(y)
    row_weights = weights[:, data.user_codes] * valid
    truth = _histogram(np.where(valid, y, low), low, high, row_weights)
    simulated = _histogram(np.where(valid, p, low), low, high, row_weights)
    per_user = cached(data, ("per_user", column), lambda: _per_user(data, column))
    return {
        ("tv_distance", "histogram"): 0.5 * np.abs(truth - simulated).sum(axis=1),
        ("jensen_shannon", "histogram"): jensenshannon(truth, simulated, base=2, axis=1) ** 2,
        ("abs_mean_error", "per_user"): user_means(np.abs(per_user["pred_mean"] - per_user["true_mean"]), weights),
        ("spread_difference", "per_user"): user_means(per_user["pred_sd"] - per_user["true_sd"], weights),
    }


WITHIN_USER = ValidityCheck(
    "within_user",
    "Within-user ranking",
    compute=within_user_ranking,
    description=(
        "Mean over users of the Spearman correlation between each user's simulated and true ratings of "
        "their held-out items (users whose true ratings are all equal are left out). It asks whether the "
        "simulator orders a user's items as the user did; compare it with the item mean and CF baselines."
    ),
)
DISTRIBUTION = ValidityCheck(
    "distribution",
    "Distribution match",
    compute=distribution_match,
    description=(
        "Total-variation distance and Jensen-Shannon divergence (base 2, 0 = identical) between the histograms "
        "of true and rounded simulated ratings; mean absolute difference of each user's mean rating; and the "
        "mean difference of each user's spread (standard deviation; negative = compressed ratings)."
    ),
)
