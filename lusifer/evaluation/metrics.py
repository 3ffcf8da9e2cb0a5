"""The evaluator contract: a named metric comparing true with simulated feedback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Evaluator:
    """A metric registered through ``register_evaluators``.

    :param name: unique name (``rmse``, ``auc``, ...).
    :param function: ``function(y_true, y_pred) -> float`` on aligned 1-d arrays.
    :param kinds: feedback kinds it applies to (``"rating"``, ``"binary"``).
    :param higher_is_better: direction, for reports and bootstrap summaries.
    """

    name: str
    function: Callable[[np.ndarray, np.ndarray], float]
    kinds: tuple[str, ...] = ("rating",)
    higher_is_better: bool = False
    description: str = ""

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(self.function(y_true, y_pred))
