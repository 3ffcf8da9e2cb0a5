"""Proper scoring rules for rating distributions: NLL, ranked probability score, calibration error.

Reads the ``p_<point>`` columns of a distribution-mode ``ratings.csv`` (see
:mod:`lusifer.runs.exports`); truths are rounded to the nearest scale point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

#: Probability floor of the NLL, so that one impossible truth does not make it infinite.
NLL_FLOOR = 1e-6
ECE_BINS = 10


def probability_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The scale points and the ``rows x points`` probabilities of the ``p_<point>`` columns."""
    columns = [column for column in frame.columns if column.startswith("p_") and column[2:].lstrip("-").isdigit()]
    points = np.array([int(column[2:]) for column in columns])
    order = np.argsort(points)
    return points[order], frame[[columns[i] for i in order]].to_numpy(dtype="float64")


def scores(frame: pd.DataFrame, truth: str = "rating") -> dict[str, float]:
    """NLL of the true rating, RPS, top-label ECE, and RMSE/MAE/Pearson of argmax and expected rating."""
    points, probabilities = probability_matrix(frame)
    kept = ~np.isnan(probabilities).any(axis=1) & frame[truth].notna().to_numpy()
    probabilities, truths = probabilities[kept], frame[truth].to_numpy(dtype="float64")[kept]
    index = np.clip(np.searchsorted(points, np.rint(truths)), 0, len(points) - 1)
    rows = np.arange(len(truths))
    nll = float(-np.log(np.maximum(probabilities[rows, index], NLL_FLOOR)).mean())
    outcome = (np.arange(len(points))[None, :] >= index[:, None]).astype(float)
    rps = float((((np.cumsum(probabilities, axis=1) - outcome) ** 2)[:, :-1]).sum(axis=1).mean() / (len(points) - 1))
    argmax = points[probabilities.argmax(axis=1)].astype(float)
    mean = probabilities @ points
    result = {
        "rows": float(len(truths)),
        "nll": nll,
        "rps": rps,
        "ece": expected_calibration_error(probabilities, index),
    }
    for name, prediction in (("argmax", argmax), ("expected", mean)):
        errors = prediction - truths
        result[f"{name}_rmse"] = float(np.sqrt((errors**2).mean()))
        result[f"{name}_mae"] = float(np.abs(errors).mean())
        result[f"{name}_pearson"] = float(np.corrcoef(prediction, truths)[0, 1])
    return result


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


def expected_calibration_error(probabilities: np.ndarray, truth_index: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: the row-weighted gap between confidence and accuracy over confidence bins."""
    table = reliability(probabilities, truth_index, bins)
    total = sum(rows for _, _, rows in table)
    return float(sum(rows * abs(confidence - accuracy) for confidence, accuracy, rows in table) / total)


def reliability_plot(frame: pd.DataFrame, path: str, truth: str = "rating") -> None:
    """Save the reliability diagram (accuracy of the most likely point against its confidence)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, probabilities = probability_matrix(frame)
    kept = ~np.isnan(probabilities).any(axis=1) & frame[truth].notna().to_numpy()
    index = np.clip(np.searchsorted(points, np.rint(frame[truth].to_numpy(dtype="float64")[kept])), 0, len(points) - 1)
    table = reliability(probabilities[kept], index)
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.plot([c for c, _, _ in table], [a for _, a, _ in table], marker="o")
    axes.set(xlabel="confidence of the most likely rating", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
