"""The validity-check contract, the data a check reads, and the long result table.

A *frame check* scores one method column of the held-out frame (a simulator, a control, a baseline)
from user weights: ``compute(data, column, weights)`` gets a ``(r, n_users)`` matrix whose row ``k`` says
how often each user counts in replicate ``k`` and returns ``{(statistic, setting): (r,) values}``. The
battery calls it with all-ones weights (the value), with bootstrap counts (the interval) and on
within-user permutations of the column (the null). A *live check* asks the simulator for new feedback
(:class:`lusifer.validity.live.LiveSimulator`) and returns finished rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Columns of ``validity.csv``.
RESULT_COLUMNS = ("check", "method", "statistic", "setting", "value", "ci_low", "ci_high")
#: Suffixes of the two null controls derived from each simulator column.
PERMUTED = "|permuted"
USER_MEAN = "|user_mean"

Values: TypeAlias = "dict[tuple[str, str], np.ndarray]"


@dataclass
class ValidityData:
    """What the checks read: held-out truth and predictions, the training slice, items, settings.

    :param frame: ``user_id``, ``item_id``, ``rating`` (truth) and one column per method; NaN marks a
        failed prediction.
    :param simulators: the simulator columns under test (controls are derived from them).
    :param references: baseline columns scored beside them (item mean, CF models).
    :param history: the training slice the simulator saw (``user_id, item_id, rating``, ``timestamp``).
    :param items: item table indexed by item id with ``title`` and ``item_info`` (content recommender).
    :param live: the simulator (a :class:`lusifer.validity.live.LiveSimulator`) for checks that need new
        feedback; None for recorded output. (Typed loosely: the hook contract imports this module.)
    """

    frame: pd.DataFrame
    simulators: list[str]
    references: list[str] = field(default_factory=list)
    history: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    scale: tuple[float, float] = (1.0, 5.0)
    live: Any = None
    reps: int = 1000
    seed: int = 0
    k: int = 3
    #: Feedback at or above it counts as liked (None: one below the top of the scale, the top for clicks).
    like_threshold: float | None = None
    permutations: int = 20
    recommender_file: Any = None
    extra: dict[str | tuple[str, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import pandas as pd

        self.frame = self.frame.reset_index(drop=True)
        self.user_codes, self.users = pd.factorize(self.frame["user_id"], sort=True)
        if self.like_threshold is None:
            low, high = self.scale
            self.like_threshold = high - 1 if high - low >= 2 else high

    @property
    def liked_from(self) -> float:
        """The like threshold in force (set from the scale when not given)."""
        return float(self.like_threshold)  # type: ignore[arg-type]  # set in __post_init__

    @property
    def n_users(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class ValidityCheck:
    """One check of the battery (built in or registered by a plugin).

    :param name: unique name, also the ``check`` column of ``validity.csv``.
    :param title: heading in ``validity.md``.
    :param compute: a frame check's ``compute(data, column, weights) -> {(statistic, setting): values}``.
    :param run: a live check's ``run(data) -> rows`` (tuples in :data:`RESULT_COLUMNS` order).
    :param description: one paragraph for the report: what is measured and what a good value is.
    """

    name: str
    title: str
    compute: Callable[[ValidityData, str, np.ndarray], Values] | None = None
    run: Callable[[ValidityData], list[tuple[Any, ...]]] | None = None
    description: str = ""

    @property
    def live(self) -> bool:
        return self.run is not None
