"""Helpers the built-in validity checks share (the check contract is :mod:`lusifer.api.validity`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lusifer.api.validity import ValidityData
from lusifer.evaluation.intervals import interval


def cached(data: ValidityData, key: Any, make: Callable[[], Any]) -> Any:
    """``data.extra[key]``, computed by ``make()`` the first time."""
    if key not in data.extra:
        data.extra[key] = make()
    return data.extra[key]


def user_means(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over users of per-user ``values`` (NaN users ignored), one per weight row."""
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: np.ndarray = (weights @ np.where(finite, values, 0.0)) / (weights @ finite)
        return means


def null_rows(check: str, method: str, shuffles: dict[tuple[str, str], list[float]]) -> list[tuple[Any, ...]]:
    """Rows of a permuted null control: the mean over shuffles and the 2.5-97.5 % range of the shuffles."""
    rows = []
    for (statistic, setting), values in shuffles.items():
        array = np.asarray(values, dtype=float)
        mean = float(np.nanmean(array)) if np.isfinite(array).any() else float("nan")
        rows.append((check, method, statistic, setting, mean, *interval(array)))
    return rows


def permute_within_users(values: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``values`` shuffled among each user's own rows (the rows of one user code)."""
    order = np.lexsort((rng.random(values.size), codes))
    result = np.empty_like(values)
    source = np.argsort(codes, kind="stable")
    result[source] = values[order]
    return result
