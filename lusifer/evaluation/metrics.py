"""The built-in fidelity metrics (the evaluator contract is :class:`lusifer.api.evaluator.Evaluator`).

Every built-in metric is written once, in *weighted* form: ``weighted(y_true, y_pred, weights)`` takes
aligned 1-d arrays of length ``n`` and a ``(r, n)`` matrix of non-negative row weights and returns the
``r`` metric values, each equal to the metric on the sample in which row ``i`` appears ``weights[k, i]``
times. The plain form ``function(y_true, y_pred)`` is the single all-ones row. The bootstrap
(:mod:`lusifer.evaluation.compute`) resamples users by passing resampling counts as weights, so a
thousand replicates cost a few matrix products.

Missing predictions are explicit everywhere: a row whose prediction (or truth) is NaN means the
simulator failed or answered invalidly. It is ignored by every metric except ``valid_share``, the share
of rows with a usable prediction. Integer-scale metrics (``qwk``, ``accuracy``, ``tv_distance``,
``wasserstein``) round predictions half up; their categories span the integers from the lowest to the
highest of the rounded true and simulated values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lusifer.api.evaluator import Evaluator, WeightedMetric

# Helpers ------------------------------------------------------------------------------------------


def _prepare(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float arrays with invalid rows given zero weight (and zero values, so ``NaN * 0`` cannot leak)."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    valid = np.isfinite(y) & np.isfinite(p)
    if not valid.all():
        y, p, w = np.where(valid, y, 0.0), np.where(valid, p, 0.0), w * valid
    return y, p, w


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def round_half_up(values: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves upwards (3.5 -> 4, 2.5 -> 3)."""
    return np.floor(np.asarray(values, dtype=float) + 0.5)


def _integer_scale(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Rounded truth and predictions as category codes ``0..k-1`` over their joint integer range."""
    used = w.sum(axis=0) > 0
    truth, pred = round_half_up(y), round_half_up(p)
    if not used.any():
        return np.zeros(y.size, dtype=int), np.zeros(y.size, dtype=int), 1
    low = min(truth[used].min(), pred[used].min())
    high = max(truth[used].max(), pred[used].max())
    # unused rows hold placeholder values; clipping keeps their (zero-weight) codes in range
    return (
        (np.clip(truth, low, high) - low).astype(int),
        (np.clip(pred, low, high) - low).astype(int),
        int(high - low) + 1,
    )


def _row_sums(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``sum_i w[k, i] * values[(k,) i]`` for every replicate ``k``."""
    sums: np.ndarray = w @ values if values.ndim == 1 else (w * values).sum(axis=1)
    return sums


def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row-wise weighted Pearson correlation; ``x`` and ``y`` are ``(n,)`` or ``(r, n)``.

    A side whose weighted variance is negligible next to its second moment counts as constant (NaN).
    """
    n = w.sum(axis=1)
    x = x - x.mean()
    y = y - y.mean()
    mx, my = _ratio(_row_sums(w, x), n), _ratio(_row_sums(w, y), n)
    xx, yy = _row_sums(w, x * x), _row_sums(w, y * y)
    sxy = _row_sums(w, x * y) - n * mx * my
    sxx = xx - n * mx * mx
    syy = yy - n * my * my
    usable = (sxx > 1e-10 * xx) & (syy > 1e-10 * yy)
    denominator = np.sqrt(np.where(usable, sxx * syy, 0.0))
    correlation: np.ndarray = np.clip(_ratio(sxy, denominator), -1.0, 1.0)
    return correlation


def _group_sums(w: np.ndarray, codes: np.ndarray, groups: int) -> np.ndarray:
    """``(r, groups)`` sums of each replicate's weights per group code."""
    if groups <= 64:
        sums: np.ndarray = w @ np.eye(groups)[codes]
        return sums
    from scipy.sparse import csr_matrix

    indicator = csr_matrix((np.ones(codes.size), (np.arange(codes.size), codes)), shape=(codes.size, groups))
    return np.asarray(w @ indicator)


def weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mid-ranks of ``x`` within each weighted sample: ``(r, n)``, ties share their average rank."""
    values, codes = np.unique(x, return_inverse=True)
    group_weight = _group_sums(w, codes.ravel(), values.size)
    midrank = np.cumsum(group_weight, axis=1) - (group_weight - 1.0) / 2.0
    return midrank[:, codes.ravel()]


def _plain(weighted: WeightedMetric) -> Callable[[np.ndarray, np.ndarray], float]:
    def function(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        y_true = np.asarray(y_true, dtype=float).ravel()
        return float(weighted(y_true, np.asarray(y_pred, dtype=float).ravel(), np.ones((1, y_true.size)))[0])

    function.__name__ = weighted.__name__.removeprefix("weighted_")
    function.__doc__ = weighted.__doc__
    return function


# Weighted metrics ---------------------------------------------------------------------------------


def weighted_valid_share(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Share of rows with a usable (finite) prediction."""
    y = np.asarray(y_true, dtype=float)
    valid = (np.isfinite(np.asarray(y_pred, dtype=float)) & np.isfinite(y)).astype(float)
    w = np.atleast_2d(np.asarray(weights, dtype=float)) * np.isfinite(y)
    return _ratio(w @ valid, w.sum(axis=1))


def weighted_rmse(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Root mean squared error."""
    y, p, w = _prepare(y_true, y_pred, weights)
    rmse: np.ndarray = np.sqrt(_ratio(w @ (p - y) ** 2, w.sum(axis=1)))
    return rmse


def weighted_mae(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean absolute error."""
    y, p, w = _prepare(y_true, y_pred, weights)
    return _ratio(w @ np.abs(p - y), w.sum(axis=1))


def weighted_pearson(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson correlation (NaN when either side is constant)."""
    y, p, w = _prepare(y_true, y_pred, weights)
    return _weighted_pearson(y, p, w)


def weighted_spearman(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spearman rank correlation: Pearson correlation of mid-ranks."""
    y, p, w = _prepare(y_true, y_pred, weights)
    return _weighted_pearson(weighted_ranks(y, w), weighted_ranks(p, w), w)


def weighted_r2(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Coefficient of determination ``1 - SSE / SST`` of the predictions (not of a fitted line)."""
    y, p, w = _prepare(y_true, y_pred, weights)
    n = w.sum(axis=1)
    centred = y - y.mean()
    second = w @ centred**2
    sst = second - n * _ratio(w @ centred, n) ** 2
    return 1.0 - _ratio(w @ (p - y) ** 2, np.where(sst > 1e-10 * second, sst, 0.0))


def weighted_qwk(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Quadratic-weighted Cohen's kappa on the integer scale of the true values."""
    y, p, w = _prepare(y_true, y_pred, weights)
    ty, tp, k = _integer_scale(y, p, w)
    if k < 2:
        return np.full(w.shape[0], np.nan)
    observed = _group_sums(w, ty * k + tp, k * k)  # (r, k*k) joint counts
    n = w.sum(axis=1)
    row, col = _group_sums(w, ty, k), _group_sums(w, tp, k)
    i, j = np.divmod(np.arange(k * k), k)
    penalty = (i - j) ** 2 / (k - 1) ** 2
    expected = (row[:, i] * col[:, j]) * _ratio(np.ones_like(n), n)[:, None]
    return 1.0 - _ratio(observed @ penalty, expected @ penalty)


def weighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Exact-match accuracy after rounding predictions (for clicks: threshold 0.5)."""
    y, p, w = _prepare(y_true, y_pred, weights)
    ty, tp, _ = _integer_scale(y, p, w)
    return _ratio(w @ (ty == tp).astype(float), w.sum(axis=1))


def weighted_tv_distance(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Total-variation distance between the histograms of true and rounded simulated values."""
    y, p, w = _prepare(y_true, y_pred, weights)
    ty, tp, k = _integer_scale(y, p, w)
    n = _ratio(np.ones(w.shape[0]), w.sum(axis=1))[:, None]
    distance: np.ndarray = 0.5 * np.abs(_group_sums(w, ty, k) * n - _group_sums(w, tp, k) * n).sum(axis=1)
    return distance


def weighted_wasserstein(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Earth mover's distance (in rating points) between the true and rounded simulated histograms."""
    y, p, w = _prepare(y_true, y_pred, weights)
    ty, tp, k = _integer_scale(y, p, w)
    n = _ratio(np.ones(w.shape[0]), w.sum(axis=1))[:, None]
    difference = np.cumsum((_group_sums(w, ty, k) - _group_sums(w, tp, k)) * n, axis=1)
    distance: np.ndarray = np.abs(difference[:, :-1]).sum(axis=1)
    return distance


def weighted_auc(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Area under the ROC curve (ties count one half); truth is positive when >= 0.5."""
    y, p, w = _prepare(y_true, y_pred, weights)
    positive = (y >= 0.5).astype(float)
    ranks = weighted_ranks(p, w)
    n_pos = w @ positive
    n_neg = w.sum(axis=1) - n_pos
    rank_sum = (w * ranks) @ positive
    return _ratio(rank_sum - n_pos * (n_pos + 1) / 2, n_pos * n_neg)


def weighted_log_loss(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean binary cross-entropy of click probabilities (clipped to ``[1e-15, 1 - 1e-15]``)."""
    y, p, w = _prepare(y_true, y_pred, weights)
    p = np.clip(p, 1e-15, 1 - 1e-15)
    positive = (y >= 0.5).astype(float)
    loss = -(positive * np.log(p) + (1 - positive) * np.log(1 - p))
    return _ratio(w @ loss, w.sum(axis=1))


ECE_BINS = 10


def weighted_ece(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Expected calibration error over 10 equal-width probability bins."""
    y, p, w = _prepare(y_true, y_pred, weights)
    p = np.clip(p, 0.0, 1.0)
    bins = np.minimum((p * ECE_BINS).astype(int), ECE_BINS - 1)
    gap = _group_sums(w * ((y >= 0.5) - p), bins, ECE_BINS)
    return _ratio(np.abs(gap).sum(axis=1), w.sum(axis=1))


def _evaluator(
    weighted: WeightedMetric, kinds: tuple[str, ...], higher_is_better: bool, name: str | None = None
) -> Evaluator:
    return Evaluator(
        name=name or weighted.__name__.removeprefix("weighted_"),
        function=_plain(weighted),
        kinds=kinds,
        higher_is_better=higher_is_better,
        description=(weighted.__doc__ or "").strip(),
        weighted=weighted,
    )


RATING, BINARY = ("rating",), ("binary",)
BOTH = ("rating", "binary")


def builtin_evaluators() -> list[Evaluator]:
    """The metrics registered by the built-in ``lusifer.evaluators`` plugin."""
    return [
        _evaluator(weighted_valid_share, BOTH, True),
        _evaluator(weighted_rmse, RATING, False),
        _evaluator(weighted_mae, RATING, False),
        _evaluator(weighted_pearson, RATING, True),
        _evaluator(weighted_spearman, RATING, True),
        _evaluator(weighted_r2, RATING, True),
        _evaluator(weighted_qwk, RATING, True),
        _evaluator(weighted_accuracy, BOTH, True),
        _evaluator(weighted_tv_distance, RATING, False),
        _evaluator(weighted_wasserstein, RATING, False),
        _evaluator(weighted_auc, BINARY, True),
        _evaluator(weighted_log_loss, BINARY, False),
        _evaluator(weighted_ece, BINARY, False),
    ]
