"""What a run's own exchanges say about token counts, so that ``lusifer estimate`` can hold to them.

:func:`calibration_from_store` reads the answered exchanges of a run directory (a pilot run, or the
run being resumed) and measures, for the model that answered them:

- completion tokens per profile answer (``profile`` and ``profile_update`` tasks);
- completion tokens per rated item of a feedback answer (its parsed ``ratings``);
- reported prompt tokens per estimated token (characters / 4 of the messages sent).

Each is a mean with a 95 % interval for it (1.96 standard errors), which the estimate turns into an
interval for its totals. Without a calibration the estimate keeps its fixed assumptions and a wide
interval (:data:`UNCALIBRATED_RANGE`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lusifer.runs.store import STORE_FILE, RunStore

#: The spread assumed without a calibration: totals between these multiples of the point estimate
#: (completion tokens, whose length depends on the model), and for prompt tokens (characters / 4).
UNCALIBRATED_RANGE = {"completion": (0.5, 2.0), "prompt": (0.85, 1.15)}
PROFILE_TASKS = frozenset({"profile", "profile_update"})
#: z for a two-sided 95 % interval.
Z95 = 1.96


@dataclass(frozen=True)
class Measured:
    """A per-unit quantity measured on ``count`` exchanges: its mean and the 95 % interval of the mean."""

    mean: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Measured | None:
        values = list(values)
        if not values:
            return None
        mean = statistics.fmean(values)
        half = Z95 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else abs(mean)
        return cls(mean, max(mean - half, 0.0), mean + half, len(values))


@dataclass(frozen=True)
class Calibration:
    """Token counts measured on a run's exchanges (any of them None when the run has none of that kind)."""

    source: Path
    profile_completion: Measured | None
    completion_per_rating: Measured | None
    prompt_ratio: Measured | None


def calibration_from_store(run_dir: Path, model: str | None = None) -> Calibration | None:
    """The calibration of the run in ``run_dir`` (answers of ``model`` only, when given); None without one."""
    if not (Path(run_dir) / STORE_FILE).is_file():
        return None
    store = RunStore(run_dir)
    try:
        exchanges = [
            exchange
            for exchange in store.exchanges()
            if not exchange.get("error")
            and exchange.get("completion_tokens")
            and exchange.get("parsed")
            and (model is None or exchange.get("model", "").startswith(model))
        ]
    finally:
        store.close()
    if not exchanges:
        return None
    profile = [exchange["completion_tokens"] for exchange in exchanges if exchange["task"] in PROFILE_TASKS]
    per_rating = []
    for exchange in exchanges:
        ratings = exchange["parsed"].get("ratings") if exchange["task"] == "feedback" else None
        if isinstance(ratings, dict) and ratings:
            per_rating.append(exchange["completion_tokens"] / len(ratings))
    ratios = []
    for exchange in exchanges:
        estimated = sum(len(message.get("content", "")) for message in exchange.get("messages", [])) // 4
        if estimated and exchange.get("prompt_tokens"):
            ratios.append(exchange["prompt_tokens"] / estimated)
    return Calibration(Path(run_dir), Measured.of(profile), Measured.of(per_rating), Measured.of(ratios))
