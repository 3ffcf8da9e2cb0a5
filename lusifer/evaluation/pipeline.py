"""One evaluation end to end: baselines, calibration, metrics (the engine behind ``lusifer evaluate``).

:func:`evaluate` takes predictions (``user_id, item_id``, a truth column, one column per simulator)
and optionally the training slice, and returns an :class:`Evaluation` that
:func:`lusifer.evaluation.report.write_report` turns into files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lusifer.api.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.engine.calibration import Calibrator

#: Column of the CF-only stack: what the hybrid reaches without the simulator.
CF_STACK = "CFStack_cv"
#: Baselines the hybrid stacks with the simulated rating.
HYBRID_BASELINES = ("UserItemBias", "KNNBaseline", "SVD")


@dataclass
class Evaluation:
    """Everything a report needs: the scored frame, the metric table and how columns relate."""

    frame: pd.DataFrame
    metrics: pd.DataFrame
    truth: str
    kind: str
    simulators: list[str]
    baselines: list[str] = field(default_factory=list)
    #: simulator column -> {variant: column}, ``raw`` included.
    variants: dict[str, dict[str, str]] = field(default_factory=dict)
    controls: list[str] = field(default_factory=list)
    subsets: dict[str, int] = field(default_factory=dict)
    calibrators: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def display_metrics(self, headline: Sequence[str]) -> list[str]:
        """Metrics for the console table: the ``--metric`` choice, else ``headline`` (the domain's
        ``evaluators``) followed by every metric a non-built-in plugin registered; ``valid_share`` aside."""
        computed = [name for name in dict.fromkeys(self.metrics.get("metric", [])) if name != "valid_share"]
        if self.settings.get("metric_names"):
            return [name for name in self.settings["metric_names"] if name in computed]
        from lusifer.kernel.plugins import BUILTIN_PLUGINS
        from lusifer.kernel.registry import evaluators

        plugin_metrics = [entry.name for entry in evaluators().entries() if entry.plugin not in BUILTIN_PLUGINS]
        return [name for name in dict.fromkeys([*headline, *plugin_metrics]) if name in computed]

    @property
    def methods(self) -> list[str]:
        """Every scored column: simulators with their variants, then controls and baselines."""
        columns = [column for variants in self.variants.values() for column in variants.values()]
        return columns + self.controls + self.baselines


def align_ids(frame: pd.DataFrame, history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give ``user_id``/``item_id`` one type in both tables (int64 when both are integers, else str)."""
    import pandas as pd

    frame, history = frame.copy(), history.copy()
    for column in ("user_id", "item_id"):
        if pd.api.types.is_integer_dtype(frame[column]) and pd.api.types.is_integer_dtype(history[column]):
            frame[column] = frame[column].astype("int64")
            history[column] = history[column].astype("int64")
        else:
            frame[column] = frame[column].astype(str)
            history[column] = history[column].astype(str)
    return frame, history


def _calibrator_frame(frame: pd.DataFrame, method: str, truth: str, extra: Sequence[str]) -> pd.DataFrame:
    from lusifer.engine.calibration import SIMULATED, TRUTH

    columns = ["user_id", "item_id", *extra]
    return frame[columns].assign(**{SIMULATED: frame[method].to_numpy(), TRUTH: frame[truth].to_numpy()})


def _calibrators(kind: str, has_history: bool, scale: tuple[float, float], seed: int) -> dict[str, Calibrator]:
    from lusifer.engine.calibration import CrossFitMap, Hybrid, UserMoments

    chosen: dict[str, Calibrator] = {}
    if kind == "rating" and has_history:
        chosen["user_moments"] = UserMoments(scale=scale)
    chosen["isotonic_cv"] = CrossFitMap(scale=scale, method="isotonic")
    if has_history:
        chosen["hybrid_cv"] = Hybrid(scale=scale, baselines=HYBRID_BASELINES, seed=seed)
    return chosen


def evaluate(
    frame: pd.DataFrame,
    simulators: Sequence[str],
    truth: str = "rating",
    history: pd.DataFrame | None = None,
    kind: str = "rating",
    scale: tuple[float, float] = (1, 5),
    baselines: bool = True,
    calibrate: bool = True,
    reps: int = 1000,
    seed: int = 0,
    folds: int = 5,
    metric_names: Sequence[str] | None = None,
    calibrator_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Evaluation:
    """Score ``simulators`` (columns of ``frame``) against ``truth``, beside baselines and calibrations.

    :param frame: ``user_id``, ``item_id``, ``truth`` and the simulator columns (NaN = failed output).
    :param history: the training slice (``user_id, item_id, rating``); baselines, the label-free and
        hybrid calibrators and the cold-start subsets need it and are skipped without it.
    :param calibrate: add each simulator's calibrated variants (cross-fitted over users, ``folds`` folds).
    :param calibrator_dir: where to save each calibrator fitted on all rows, as JSON (None: not saved).
    :param on_step: told what starts (``"baselines: ..."``, ``"calibration: ..."``, ``"bootstrap: i/n ..."``),
        for progress on long evaluations.

    When ``frame`` holds a rating distribution (``p_<point>`` columns), its NLL, RPS and ECE join the
    metrics under the method ``distribution``.
    """
    import numpy as np
    import pandas as pd

    from lusifer.api.domain import FeedbackScale
    from lusifer.engine.baselines import BASELINES, predict_baselines
    from lusifer.engine.calibration import Hybrid
    from lusifer.evaluation.compute import cold_start_subsets, metric_table, select_evaluators
    from lusifer.evaluation.scoring import distribution_metrics, has_distribution

    feedback_scale = FeedbackScale(kind, round(scale[0]), round(scale[1]), "")  # type: ignore[arg-type]
    evaluators = [evaluator.for_scale(feedback_scale) for evaluator in select_evaluators(kind, metric_names)]
    frame = frame.reset_index(drop=True)
    variants = {method: {"raw": method} for method in simulators}
    notes: list[str] = []
    baseline_columns: list[str] = []
    controls: list[str] = []
    saved: dict[str, Path] = {}
    if history is not None:
        frame, history = align_ids(frame, history)
    if baselines and history is not None:
        clashes = [name for name in BASELINES if name in frame.columns]
        if clashes:
            raise DataError(f"column(s) {', '.join(clashes)} clash with baseline names; rename them")
        if on_step is not None:
            on_step(f"baselines: training {len(BASELINES)} on {len(history):,} history ratings")
        frame = frame.join(predict_baselines(history, frame, BASELINES, seed=seed, scale=scale))
        baseline_columns = list(BASELINES)
    elif baselines:
        notes.append("Baselines skipped: no training history (use --history or --protocol paper).")
    if calibrate:
        extra = [name for name in HYBRID_BASELINES if name in frame.columns]
        for method in simulators:
            data = _calibrator_frame(frame, method, truth, extra)
            for variant, calibrator in _calibrators(kind, history is not None, scale, seed).items():
                column = f"{method}+{variant}"
                if on_step is not None:
                    on_step(f"calibration: {column} ({folds} folds)")
                try:
                    frame[column] = calibrator.cross_fit_predict(data, history, folds=folds, seed=seed)
                    if calibrator_dir is not None:
                        calibrator_dir.mkdir(parents=True, exist_ok=True)
                        path = calibrator_dir / f"{method}.{variant}.json"
                        calibrator.input = method
                        saved[column] = calibrator.fit(data, history).save(path)
                except DataError as error:
                    notes.append(f"{column} skipped: {error}")
                    continue
                variants[method][variant] = column
        if len(extra) == len(HYBRID_BASELINES):
            control = Hybrid(scale=scale, baselines=HYBRID_BASELINES, use_simulated=False, seed=seed)
            data = frame[["user_id", "item_id", *extra]].assign(rating=frame[truth].to_numpy())
            frame[CF_STACK] = control.cross_fit_predict(data, history, folds=folds, seed=seed)
            controls.append(CF_STACK)
    if history is not None:
        subsets = cold_start_subsets(frame, history)
    else:
        subsets = {"all": np.ones(len(frame), dtype=bool)}
    result = Evaluation(
        frame=frame,
        metrics=pd.DataFrame(),
        truth=truth,
        kind=kind,
        simulators=list(simulators),
        baselines=baseline_columns,
        variants=variants,
        controls=controls,
        subsets={name: int(mask.sum()) for name, mask in subsets.items()},
        calibrators=saved,
        notes=notes,
        settings={"reps": reps, "seed": seed, "folds": folds, "scale": scale, "metric_names": list(metric_names or [])},
    )
    result.metrics = metric_table(
        frame, result.methods, evaluators, truth, subsets, reps=reps, seed=seed, on_step=on_step
    )
    if kind == "rating" and has_distribution(frame):
        scored = distribution_metrics(frame, truth, subsets, reps=reps, seed=seed)
        result.metrics = pd.concat([result.metrics, scored], ignore_index=True)
    return result
