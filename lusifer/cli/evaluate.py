"""``lusifer evaluate``: score simulated feedback against the truth, beside CF baselines and calibrations."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="evaluate")
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--predictions", type=click.Path(path_type=Path), help="A CSV of predictions instead of a run.")
@click.option("--user-col", help="User id column of --predictions (default: recognised from the header).")
@click.option("--item-col", help="Item id column of --predictions (default: recognised from the header).")
@click.option("--truth-col", help="True feedback column of --predictions (renamed to --truth's column).")
@click.option("--column", "columns", multiple=True, help="Prediction column to score (repeatable).")
@click.option("--truth", default="rating", show_default=True, help="Column holding the true feedback.")
@click.option("--history", type=click.Path(path_type=Path), help="Training slice CSV for baselines.")
@click.option(
    "--protocol",
    type=click.Choice(["paper"]),
    help="Build the training slice of the paper's ML-100K protocol (needs --enrich-file).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Unpacked ML-100K folder (--protocol).")
@click.option("--enrich-file", type=click.Path(path_type=Path), help="TMDB overviews CSV (--protocol).")
@click.option("--kind", type=click.Choice(["rating", "binary"]), help="Feedback kind (default: inferred).")
@click.option("--metric", "metrics", multiple=True, help="Metric to report (repeatable; default: all).")
@click.option("--baselines/--no-baselines", default=True, show_default=True, help="Train CF baselines.")
@click.option("--calibrate/--no-calibrate", default=True, show_default=True, help="Add calibrated variants.")
@click.option("--bootstrap", "reps", default=1000, show_default=True, type=click.IntRange(0), help="Resamples.")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2), help="Folds over users.")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [default: RUN_DIR/evaluation].")
@click.option("--seed", default=0, show_default=True, type=int)
def evaluate_command(
    run_dir: Path | None,
    predictions: Path | None,
    user_col: str | None,
    item_col: str | None,
    truth_col: str | None,
    columns: tuple[str, ...],
    truth: str,
    history: Path | None,
    protocol: str | None,
    data_dir: Path | None,
    enrich_file: Path | None,
    kind: str | None,
    metrics: tuple[str, ...],
    baselines: bool,
    calibrate: bool,
    reps: int,
    folds: int,
    out: Path | None,
    seed: int,
) -> None:
    """Evaluate RUN_DIR (or --predictions FILE.csv --column NAME) and write metrics.csv, report.md, plots.

    Baselines and the label-free and hybrid calibrators need the training slice the simulator saw:
    RUN_DIR/history.csv, --history FILE, or --protocol paper --data-dir DIR --enrich-file FILE.
    """
    from lusifer.evaluation.inputs import (
        EvaluationInput,
        invalidate_out_of_scale,
        paper_protocol,
        read_predictions,
        read_run_dir,
    )
    from lusifer.evaluation.pipeline import evaluate
    from lusifer.evaluation.report import write_report

    if (run_dir is None) == (predictions is None):
        raise click.UsageError("give either RUN_DIR or --predictions FILE.csv (not both)")
    if predictions is not None:
        from lusifer.evaluation.foreign import read_foreign_predictions

        table, default_column = read_foreign_predictions(
            predictions, user_col, item_col, truth_col or (truth if truth != "rating" else None)
        )
        truth = "rating"
        columns = columns or ((default_column,) if default_column else ())
        if not columns:
            raise click.UsageError("--predictions needs at least one --column NAME")
        data = EvaluationInput(
            read_predictions(predictions, columns, truth, table), list(columns), truth, source=str(predictions)
        )
        out = out or Path("evaluation")
    else:
        assert run_dir is not None
        data = read_run_dir(run_dir, columns)
        out = out or run_dir / "evaluation"
    _require_valid_values(data.frame, data.columns, data.source)
    if history is not None:
        from lusifer.evaluation.foreign import read_any_history

        data.history = read_any_history(history)
    elif protocol == "paper":
        data.history, _ = paper_protocol(data_dir, enrich_file)
        data.kind, data.scale = data.kind or "rating", data.scale or (1.0, 5.0)
    truth_values = data.frame[data.truth]
    kind = kind or data.kind or ("binary" if set(truth_values.unique()) <= {0.0, 1.0} else "rating")
    scale = data.scale or ((0.0, 1.0) if kind == "binary" else (float(truth_values.min()), float(truth_values.max())))
    data.frame, scale_notes = invalidate_out_of_scale(data.frame, data.columns, scale)
    for note in scale_notes:
        click.echo(f"lusifer: note: {note}", err=True)
    result = evaluate(
        data.frame,
        data.columns,
        truth=data.truth,
        history=data.history,
        kind=kind,
        scale=scale,
        baselines=baselines,
        calibrate=calibrate,
        reps=reps,
        seed=seed,
        folds=folds,
        metric_names=list(metrics) or None,
        calibrator_dir=out / "calibrators",
        on_step=EvaluationProgress(),
    )
    result.profiles = data.profiles
    for note in result.notes:
        click.echo(f"lusifer: note: {note}", err=True)
    written = write_report(result, out, title=f"Lusifer evaluation of {data.source}")
    _print_summary(result.metrics, result.methods, result.display_metrics(data.headline or HEADLINE[kind]))
    _print_distribution(result.metrics)
    click.echo(f"Wrote {written['report']}, {written['metrics']} and {len(written) - 2} plots to {out}")


class EvaluationProgress:
    """Prints ``lusifer: evaluate: ...`` lines to stderr: each new stage at once, then at most one line per
    progress interval (``$LUSIFER_PROGRESS_INTERVAL``, default 30 s) within a stage such as the bootstrap."""

    def __init__(self) -> None:
        import time

        from lusifer.runs.progress_lines import interval_s

        self.interval = min(interval_s(), 10.0)
        self._started = self._last = time.monotonic()
        self._stage = ""

    def __call__(self, step: str) -> None:
        import time

        now, stage = time.monotonic(), step.split(":", 1)[0]
        if stage == self._stage and now - self._last < self.interval:
            return
        self._stage, self._last = stage, now
        click.echo(f"lusifer: evaluate: {step} [{now - self._started:.0f} s]", err=True)


def _require_valid_values(frame: object, columns: list[str], source: str) -> None:
    """Refuse to score columns that hold no simulated value at all (every metric would be NaN)."""
    import pandas as pd

    from lusifer.api.errors import DataError

    assert isinstance(frame, pd.DataFrame)
    empty = [column for column in columns if not frame[column].notna().any()]
    if empty:
        raise DataError(
            f"no simulated value in {source} is valid ({', '.join(empty)}: 0 of {len(frame)} rows): nothing to "
            "evaluate; `lusifer show user ID --run RUN_DIR` prints why a user failed"
        )


#: Metrics printed when the domain is unknown (a plain predictions file).
HEADLINE = {"rating": ["rmse", "mae", "pearson"], "binary": ["auc", "log_loss"]}


def _print_distribution(metrics: object) -> None:
    """One line of the rating distribution's proper scoring rules, when the evaluation has them."""
    import pandas as pd

    from lusifer.evaluation.scoring import DISTRIBUTION

    assert isinstance(metrics, pd.DataFrame)
    rows = metrics[(metrics["method"] == DISTRIBUTION) & (metrics["subset"] == "all")]
    if len(rows):
        click.echo("distribution: " + "  ".join(f"{row.metric.upper()} {row.value:.3f}" for row in rows.itertuples()))


def _print_summary(metrics: object, methods: list[str], headline: list[str]) -> None:
    import pandas as pd

    assert isinstance(metrics, pd.DataFrame)
    names = [*headline, "valid_share"]
    table = metrics[metrics["subset"] == "all"].pivot(index="method", columns="metric", values="value")
    table = table.reindex(index=methods, columns=[name for name in names if name in table.columns])
    width = max(len(method) for method in methods) + 2
    click.echo("method".ljust(width) + "".join(f"{name:>12}" for name in table.columns))
    for method, row in table.iterrows():
        click.echo(str(method).ljust(width) + "".join(f"{value:>12.3f}" for value in row))
