"""The evaluator contract: a metric comparing simulated with true feedback.

The built-in metrics, written in weighted form for a fast bootstrap, live in
:mod:`lusifer.evaluation.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import numpy as np

    from lusifer.api.domain import FeedbackScale

#: ``weighted(y_true, y_pred, weights) -> (r,) values`` for a ``(r, n)`` weight matrix.
WeightedMetric: TypeAlias = "Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]"


@dataclass(frozen=True)
class Evaluator:
    """A metric registered through ``register_evaluators``.

    :param name: unique name (``rmse``, ``auc``, ...).
    :param function: ``function(y_true, y_pred) -> float`` on aligned 1-d arrays; rows with a NaN
        prediction are failed outputs and should be ignored (built-ins do).
    :param kinds: feedback kinds it applies to (``"rating"``, ``"binary"``).
    :param higher_is_better: direction, for reports and bootstrap summaries.
    :param weighted: optional vectorised form ``weighted(y_true, y_pred, weights) -> (r,) array`` for a
        ``(r, n)`` weight matrix (see the module docstring); without it the bootstrap falls back to
        calling ``function`` once per replicate.
    :param uses_scale: True when ``function`` (and ``weighted``) take a keyword argument ``scale``, the
        :class:`~lusifer.api.domain.FeedbackScale` of the evaluated feedback (e.g. for a KL divergence
        over the scale's values).
    """

    name: str
    function: Callable[[np.ndarray, np.ndarray], float]
    kinds: tuple[str, ...] = ("rating",)
    higher_is_better: bool = False
    description: str = ""
    weighted: WeightedMetric | None = None
    uses_scale: bool = False

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(self.function(y_true, y_pred))

    def for_scale(self, scale: FeedbackScale) -> Evaluator:
        """This evaluator with ``scale`` bound, when it asks for it (``uses_scale``); else itself."""
        if not self.uses_scale:
            return self
        # with uses_scale, both also take the keyword argument ``scale``
        function: Callable[..., float] = self.function
        weighted_metric: Callable[..., np.ndarray] | None = self.weighted
        weighted = partial(weighted_metric, scale=scale) if weighted_metric is not None else None
        return replace(self, function=partial(function, scale=scale), weighted=weighted, uses_scale=False)
