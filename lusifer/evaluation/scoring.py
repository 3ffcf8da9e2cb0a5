"""Proper scoring rules for rating distributions: NLL, ranked probability score, calibration error.

Reads the ``p_<point>`` columns of a distribution-mode ``ratings.csv`` (see
:mod:`lusifer.runs.exports`); truths are rounded to the nearest scale point. Rows without a
distribution (failed items) or without a truth are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from lusifer.evaluation.intervals import interval

if TYPE_CHECKING:
    import pandas as pd

#: Probability floor of the NLL, so that one impossible truth does not make it infinite.
NLL_FLOOR = 1e-6
ECE_BINS = 10
#: ``method`` of the distribution's rows in ``metrics.csv``.
DISTRIBUTION = "distribution"
#: The distribution's metrics, in report order.
DISTRIBUTION_METRICS = ("nll", "rps", "ece")
#: Column holding the most likely scale point of each distribution (scored like any simulator column).
ARGMAX = "argmax_rating"


def probability_columns(columns: pd.Index | list[str]) -> list[str]:
    """The ``p_<point>`` columns among ``columns`` (``p_click`` is not one)."""
    return [str(column) for column in columns if str(column).startswith("p_") and str(column)[2:].lstrip("-").isdigit()]


def has_distribution(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` holds a rating distribution (``p_<point>`` columns for three or more points)."""
    return len(probability_columns(frame.columns)) >= 3


def probability_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The scale points and the ``rows x points`` probabilities of the ``p_<point>`` columns."""
    columns = probability_columns(frame.columns)
    points = np.array([int(column[2:]) for column in columns])
    order = np.argsort(points)
    return points[order], frame[[columns[i] for i in order]].to_numpy(dtype="float64", na_value=np.nan)


def argmax_ratings(frame: pd.DataFrame) -> np.ndarray:
    """The most likely scale point of each row's distribution (NaN where a row has none)."""
    points, probabilities = probability_matrix(frame)
    missing = np.isnan(probabilities).any(axis=1)
    best = points[np.nan_to_num(probabilities, nan=-1.0).argmax(axis=1)].astype(float)
    return np.where(missing, np.nan, best)


def _scored(frame: pd.DataFrame, truth: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(points, probabilities, truths, truth index) of the rows with a distribution and a truth."""
    points, probabilities = probability_matrix(frame)
    truths = frame[truth].to_numpy(dtype="float64")
    kept = ~np.isnan(probabilities).any(axis=1) & ~np.isnan(truths)
    probabilities, truths = probabilities[kept], truths[kept]
    index = np.clip(np.searchsorted(points, np.rint(truths)), 0, len(points) - 1)
    return points, probabilities, truths, index


def _row_terms(probabilities: np.ndarray, index: np.ndarray) -> dict[str, np.ndarray]:
    """Per row: its NLL, its RPS, and the confidence and correctness of its most likely point."""
    rows = np.arange(len(index))
    points = probabilities.shape[1]
    outcome = (np.arange(points)[None, :] >= index[:, None]).astype(float)
    squared = (np.cumsum(probabilities, axis=1) - outcome) ** 2
    return {
        "nll": -np.log(np.maximum(probabilities[rows, index], NLL_FLOOR)),
        "rps": squared[:, :-1].sum(axis=1) / max(points - 1, 1),
        "confidence": probabilities.max(axis=1),
        "correct": (probabilities.argmax(axis=1) == index).astype(float),
    }


def _weighted_metrics(
    terms: Mapping[str, np.ndarray], weights: np.ndarray, bins: int = ECE_BINS
) -> dict[str, np.ndarray]:
    """NLL, RPS and top-label ECE under each row of ``weights`` (``replicates x rows``)."""
    total = weights.sum(axis=1)
    which = np.minimum((terms["confidence"] * bins).astype(int), bins - 1)
    gap = np.zeros(weights.shape[0])
    for b in np.unique(which):
        inside = which == b
        gap += np.abs(weights[:, inside] @ (terms["confidence"][inside] - terms["correct"][inside]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "nll": weights @ terms["nll"] / total,
            "rps": weights @ terms["rps"] / total,
            "ece": gap / total,
        }


def scores(frame: pd.DataFrame, truth: str = "rating") -> dict[str, float]:
    """NLL of the true rating, RPS, top-label ECE, and RMSE/MAE/Pearson of argmax and expected rating."""
    points, probabilities, truths, index = _scored(frame, truth)
    terms = _row_terms(probabilities, index)
    pooled = _weighted_metrics(terms, np.ones((1, len(truths))))
    result = {"rows": float(len(truths)), **{name: float(values[0]) for name, values in pooled.items()}}
    argmax = points[probabilities.argmax(axis=1)].astype(float)
    mean = probabilities @ points
    for name, prediction in (("argmax", argmax), ("expected", mean)):
        errors = prediction - truths
        result[f"{name}_rmse"] = float(np.sqrt((errors**2).mean()))
        result[f"{name}_mae"] = float(np.abs(errors).mean())
        result[f"{name}_pearson"] = float(np.corrcoef(prediction, truths)[0, 1])
    return result


def distribution_metrics(
    frame: pd.DataFrame,
    truth: str = "rating",
    subsets: Mapping[str, np.ndarray] | None = None,
    reps: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """NLL, RPS and ECE of the distribution on each subset, with user-bootstrap percentile intervals.

    The same resampling counts as :func:`lusifer.evaluation.compute.metric_table` (same ``seed``), so the
    intervals are paired with the other methods'. Rows: ``method`` (:data:`DISTRIBUTION`), ``subset``,
    ``metric``, ``value``, ``ci_low``, ``ci_high``.
    """
    import pandas as pd

    from lusifer.evaluation.compute import METRIC_COLUMNS, bootstrap_counts

    subsets = subsets or {"all": np.ones(len(frame), dtype=bool)}
    records = []
    for subset, mask in subsets.items():
        part = frame.loc[np.asarray(mask, dtype=bool)]
        codes, users = pd.factorize(part["user_id"], sort=True)
        points, probabilities = probability_matrix(part)
        kept = ~np.isnan(probabilities).any(axis=1) & part[truth].notna().to_numpy()
        if not kept.any():
            continue
        _, probabilities, _, index = _scored(part, truth)
        terms = _row_terms(probabilities, index)
        value = _weighted_metrics(terms, np.ones((1, len(index))))
        counts = bootstrap_counts(len(users), reps, seed)
        boot = _weighted_metrics(terms, counts[:, codes[kept]]) if reps else {}
        for name in DISTRIBUTION_METRICS:
            low, high = interval(boot.get(name, np.empty(0)), confidence)
            records.append((DISTRIBUTION, subset, name, float(value[name][0]), low, high))
    return pd.DataFrame.from_records(records, columns=list(METRIC_COLUMNS))


def reliability(
    probabilities: np.ndarray, truth_index: np.ndarray, bins: int = ECE_BINS
) -> list[tuple[float, float, int]]:
    """Per confidence bin of the most likely point: (mean confidence, accuracy, rows)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth_index
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    return [
        (float(confidence[which == b].mean()), float(correct[which == b].mean()), int((which == b).sum()))
        for b in range(bins)
        if (which == b).any()
    ]


def reliability_table(
    frame: pd.DataFrame, truth: str = "rating", bins: int = ECE_BINS
) -> list[tuple[float, float, int]]:
    """:func:`reliability` of the distribution in ``frame`` against its ``truth`` column."""
    _, probabilities, _, index = _scored(frame, truth)
    return reliability(probabilities, index, bins)
