"""Run the validity battery: frame checks on every method with intervals and null controls, then live checks.

For each simulator column the battery adds two controls: ``<column>|user_mean`` (every item rated at the
user's mean training rating) and ``<column>|permuted`` (the column shuffled within each user,
:attr:`ValidityData.permutations` times: its value is the mean over shuffles and its interval the
2.5-97.5 % range of the shuffles, i.e. the null distribution). Other methods get a user-bootstrap
95 % interval, with the same resampled users for every method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lusifer.api.errors import NotFoundError
from lusifer.api.validity import (
    PERMUTED,
    RESULT_COLUMNS,
    USER_MEAN,
    ValidityCheck,
    ValidityData,
)
from lusifer.evaluation.intervals import (
    interval,
)
from lusifer.validity.common import (
    null_rows,
    permute_within_users,
)

if TYPE_CHECKING:
    import pandas as pd

#: Baselines scored beside the simulators (from :mod:`lusifer.engine.baselines`).
REFERENCES = ("ItemMean", "UserItemBias", "SVD")


def builtin_checks() -> list[ValidityCheck]:
    """The built-in battery, in report order (live checks run only with a simulator)."""
    from lusifer.validity.contamination import CONTAMINATION
    from lusifer.validity.discrimination import DISCRIMINATION, DISCRIMINATION_UNRATED
    from lusifer.validity.evolution import EVOLUTION
    from lusifer.validity.invariance import INVARIANCE
    from lusifer.validity.pointwise import DISTRIBUTION, WITHIN_USER
    from lusifer.validity.ranking import RANKING, RANKING_OPEN

    frame_checks = [RANKING, WITHIN_USER, DISTRIBUTION, DISCRIMINATION]
    return [*frame_checks, RANKING_OPEN, DISCRIMINATION_UNRATED, EVOLUTION, INVARIANCE, CONTAMINATION]


def all_checks() -> list[ValidityCheck]:
    """Built-in checks, then those plugins register through ``register_validity_checks``.

    :raises PluginError: two checks share a name (the message names both plugins).
    """
    from lusifer.kernel.registry import Registry, registered_validity_checks

    registry: Registry[ValidityCheck] = Registry("validity check")
    checks = builtin_checks()
    for check in checks:
        registry.add(check.name, check, "lusifer")

    for plugin, check in registered_validity_checks():  # as the other registries: in load order
        registry.add(check.name, check, plugin)
        checks.append(check)
    return checks


def select_checks(names: Sequence[str] | None) -> list[ValidityCheck]:
    """The checks called ``names`` (all when None), in battery order.

    :raises NotFoundError: an unknown name (the message suggests the closest and lists the others).
    """
    from lusifer.kernel.registry import unknown_name_message

    checks = all_checks()
    known = [check.name for check in checks]
    for name in names or ():
        if name not in known:
            raise NotFoundError(unknown_name_message("validity check", name, known))
    return [check for check in checks if not names or check.name in set(names)]


def add_references(data: ValidityData, names: Sequence[str] = REFERENCES) -> None:
    """Predict the baselines on the held-out rows and the user-mean control of each simulator."""
    from lusifer.engine.baselines import predict_baselines
    from lusifer.evaluation.pipeline import align_ids

    if data.history is None:
        return
    frame, history = align_ids(data.frame[["user_id", "item_id"]], data.history)
    predictions = predict_baselines(history, frame, list(names), seed=data.seed, scale=data.scale)
    means = predict_baselines(history, frame, ["UserMean"], scale=data.scale)["UserMean"]
    for name in names:
        if name not in data.frame.columns:
            data.frame[name] = predictions[name].to_numpy()
            data.references.append(name)
    for column in data.simulators:
        data.frame[column + USER_MEAN] = means.to_numpy()


def _rows(check: str, method: str, values: dict[Any, np.ndarray], boot: dict[Any, np.ndarray]) -> list[tuple[Any, ...]]:
    rows = []
    for (statistic, setting), value in values.items():
        low, high = interval(boot.get((statistic, setting), np.empty(0)))
        rows.append((check, method, statistic, setting, float(value[0]), low, high))
    return rows


def run_frame_check(data: ValidityData, check: ValidityCheck) -> list[tuple[Any, ...]]:
    """One frame check on every simulator, its controls and the references."""
    from lusifer.evaluation.compute import bootstrap_counts

    assert check.compute is not None
    ones = np.ones((1, data.n_users))
    counts = bootstrap_counts(data.n_users, data.reps, data.seed)
    rows: list[tuple[Any, ...]] = []
    methods = [*data.simulators, *(c + USER_MEAN for c in data.simulators if c + USER_MEAN in data.frame)]
    for method in [*methods, *data.references]:
        with np.errstate(all="ignore"):
            rows += _rows(check.name, method, check.compute(data, method, ones), check.compute(data, method, counts))
    rng = np.random.default_rng(data.seed)
    for column in data.simulators:
        original = data.frame[column].to_numpy(float)
        shuffles: dict[Any, list[float]] = {}
        for _ in range(data.permutations):
            data.frame[column + PERMUTED] = permute_within_users(original, data.user_codes, rng)
            data.extra.pop(("per_user", column + PERMUTED), None)
            with np.errstate(all="ignore"):
                for key, value in check.compute(data, column + PERMUTED, ones).items():
                    shuffles.setdefault(key, []).append(float(value[0]))
        data.frame = data.frame.drop(columns=[column + PERMUTED])
        rows += null_rows(check.name, column + PERMUTED, shuffles)
    return rows


def validate(data: ValidityData, checks: Sequence[str] | None = None, references: bool = True) -> pd.DataFrame:
    """Run the chosen checks (all by default) and return the long table of :data:`RESULT_COLUMNS`.

    Live checks are skipped when ``data.live`` is None (recorded output only).
    """
    import pandas as pd

    chosen = select_checks(checks)
    if references:
        add_references(data)
    rows: list[tuple[Any, ...]] = []
    for check in chosen:
        if check.compute is not None:
            rows += run_frame_check(data, check)
        elif check.run is not None and data.live is not None:
            rows += check.run(data)
    return pd.DataFrame.from_records(rows, columns=list(RESULT_COLUMNS))
