"""Raw vs calibrated vs hybrid for the paper authors' recorded LLM ratings, beside the CF baselines.

Run ``python benchmarks/bench_evaluation.py [--reps 1000] [--seed 0] [--out DIR]``; prints a markdown
table (RMSE, MAE, Pearson with 95% user-bootstrap intervals, and the rating-distribution distance) and
the run time. Needs ``../shared/data`` beside the repository: the recorded ML-100K predictions (4,292
rows of 459 users, the paper protocol), ML-100K itself and the TMDB overviews (for the training slice:
each user's last 40 ``u1.base`` ratings). ``--out`` also writes the full report (``lusifer evaluate``).

Calibrated and hybrid columns are cross-fitted over users (5 folds), so no user's own test labels
shape that user's values; the label-free columns use only the training slice.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lusifer.engine.calibration import CrossFitMap, UserMoments
from lusifer.evaluation.compute import metric_table, paired_difference, select_evaluators
from lusifer.evaluation.inputs import paper_protocol, read_predictions
from lusifer.evaluation.pipeline import evaluate

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RECORDED = SHARED / "lusifer-paper" / "recorded-ml-100k.csv"
LLMS = ("4o_mini", "Gemma3_12B", "Gemma3_4B")
#: Extra label-free / supervised variants shown only here (the CLI reports the main three).
EXTRA = {
    "user_shift": lambda: UserMoments(match_spread=False),
    "linear_cv": lambda: CrossFitMap(method="linear"),
}
VARIANT_LABELS = {
    "raw": "raw",
    "user_moments": "+ user moments (label-free)",
    "user_shift": "+ user shift only (label-free)",
    "isotonic_cv": "+ isotonic map (CV over users)",
    "linear_cv": "+ linear map (CV over users)",
    "hybrid_cv": "+ hybrid with CF (CV over users)",
}
COLUMNS = ("rmse", "mae", "pearson", "tv_distance")


def _cell(row: pd.Series, with_interval: bool) -> str:
    if not with_interval:
        return f"{row['value']:.3f}"
    return f"{row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the full report here")
    options = parser.parse_args()
    if not RECORDED.exists():
        sys.exit(f"shared data not found under {SHARED}")

    start = time.perf_counter()
    frame = read_predictions(RECORDED, LLMS)
    history, _ = paper_protocol(SHARED / "ml-100k", SHARED / "tmdb" / "ml-100k-tmdb.csv")
    result = evaluate(
        frame,
        LLMS,
        history=history,
        reps=options.reps,
        seed=options.seed,
        calibrator_dir=options.out / "calibrators" if options.out else None,
    )
    scored = result.frame
    rows: list[tuple[str, str]] = []  # (label, column)
    extra_columns = []
    for llm in LLMS:
        data = scored[["user_id", "item_id"]].assign(simulated_rating=scored[llm], rating=scored["rating"])
        for variant, make in EXTRA.items():
            column = f"{llm}+{variant}"
            scored[column] = make().cross_fit_predict(data, history, folds=5, seed=options.seed)
            extra_columns.append(column)
            result.variants[llm][variant] = column
        rows += [(f"{llm} {label}", result.variants[llm][variant]) for variant, label in VARIANT_LABELS.items()]
    rows += [(f"{name} (CF-only stack, CV)" if name == "CFStack_cv" else name, name) for name in result.controls]
    rows += [(name, name) for name in result.baselines]
    extra = metric_table(
        scored,
        extra_columns,
        select_evaluators("rating", COLUMNS),
        reps=options.reps,
        seed=options.seed,
        per_user=(),
    )
    metrics = pd.concat([result.metrics, extra], ignore_index=True)
    if options.out:
        from lusifer.evaluation.report import write_report

        result.frame, result.metrics = scored, metrics
        write_report(result, options.out, title="Recorded LLM ratings (paper protocol, ML-100K)")
    elapsed = time.perf_counter() - start

    table = metrics[metrics["subset"] == "all"].set_index(["method", "metric"])
    print(
        f"Recorded ML-100K predictions: {len(frame):,} rows, {frame['user_id'].nunique()} users; "
        f"{options.reps} bootstrap resamples over users, seed {options.seed}.\n"
    )
    print("| method | RMSE [95% CI] | MAE [95% CI] | Pearson [95% CI] | TV distance |")
    print("|---|---|---|---|---|")
    for label, column in rows:
        cells = [_cell(table.loc[(column, metric)], metric != "tv_distance") for metric in COLUMNS]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nHybrid minus CF-only stack (paired 95% user-bootstrap interval):\n")
    for llm in LLMS:
        cells = []
        for metric in ("rmse", "pearson"):
            value, low, high = paired_difference(
                scored,
                f"{llm}+hybrid_cv",
                "CFStack_cv",
                select_evaluators("rating", [metric])[0],
                reps=options.reps,
                seed=options.seed,
            )
            cells.append(f"{metric} {value:+.4f} [{low:+.4f}, {high:+.4f}]")
        print(f"- {llm}: " + "; ".join(cells))
    print(f"\n{elapsed:.1f} s on {np.__name__} {np.__version__}, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
