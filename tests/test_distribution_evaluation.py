"""Evaluating rating distributions: proper scoring rules in `lusifer evaluate`, argmax vs expected
rating, and calibrators fitted on expected ratings applied by `lusifer run --calibrator`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands
from lusifer.engine.calibration import load_calibrator
from lusifer.evaluation.pipeline import evaluate
from lusifer.evaluation.report import write_report
from lusifer.evaluation.scoring import _row_terms, _scored, _weighted_metrics, distribution_metrics, scores


def _invoke(*arguments: str):
    load_plugin_commands()
    return CliRunner().invoke(cli, list(arguments), catch_exceptions=False)


def _frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Ratings of 30 users with a distribution per row (a noisy softmax around the truth)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, rows).astype(float)
    logits = -0.8 * (np.arange(1, 6)[None, :] - truth[:, None] - rng.normal(0, 0.8, (rows, 1))) ** 2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"user_id": np.arange(rows) % 30, "item_id": np.arange(rows), "rating": truth})
    for point in range(1, 6):
        frame[f"p_{point}"] = probabilities[:, point - 1]
    frame["expected_rating"] = probabilities @ np.arange(1, 6)
    frame["simulated_rating"] = np.rint(frame["expected_rating"])
    frame.loc[::17, [f"p_{point}" for point in range(1, 6)]] = np.nan  # failed items have no distribution
    frame.loc[::17, ["expected_rating", "simulated_rating"]] = np.nan
    return frame


def test_scoring_rules_by_hand() -> None:
    frame = pd.DataFrame(
        {"rating": [4.0, 1.0], "p_1": [0.0, 0.5], "p_2": [0.5, 0.5], "p_3": [0.0, 0.0], "p_4": [0.5, 0.0]}
    )
    result = scores(frame)
    assert result["nll"] == pytest.approx(-math.log(0.5))
    # both rows put 0.5 on their most likely point: row 1 ties 2 and 4 (the first, 2, wins: wrong), row 2 is right
    assert result["ece"] == pytest.approx(abs(0.5 - 0.5))
    assert result["argmax_rmse"] == pytest.approx(math.sqrt((2.0**2 + 0.0) / 2))


def test_weighted_scores_equal_the_scores_of_the_resampled_rows() -> None:
    frame = _frame()
    _, probabilities, _, index = _scored(frame, "rating")
    weights = np.random.default_rng(1).integers(0, 4, len(index)).astype(float)
    weighted = _weighted_metrics(_row_terms(probabilities, index), weights[None, :])
    kept = frame.dropna(subset=["p_1"]).reset_index(drop=True)
    resampled = scores(kept.loc[np.repeat(np.arange(len(kept)), weights.astype(int))])
    for name in ("nll", "rps", "ece"):
        assert weighted[name][0] == pytest.approx(resampled[name], rel=1e-9)


def test_evaluate_scores_the_distribution_with_intervals(tmp_path: Path) -> None:
    frame = _frame()
    result = evaluate(frame, ["simulated_rating", "expected_rating"], baselines=False, reps=50, seed=2)
    rows = result.metrics[result.metrics["method"] == "distribution"].set_index("metric")
    expected = scores(frame)
    for name in ("nll", "rps", "ece"):
        assert rows.loc[name, "value"] == pytest.approx(expected[name])
        assert rows.loc[name, "ci_low"] <= rows.loc[name, "value"] <= rows.loc[name, "ci_high"]
    cells = result.metrics.set_index(["method", "subset", "metric"])["value"]
    assert cells[("expected_rating", "all", "rmse")] == pytest.approx(expected["expected_rmse"])
    assert distribution_metrics(frame, reps=0)["ci_low"].isna().all()
    written = write_report(result, tmp_path)
    report = written["report"].read_text()
    assert "## Rating distribution (proper scoring rules)" in report
    assert "![reliability](plots/reliability.png)" in report
    assert written["reliability"].read_bytes().startswith(b"\x89PNG")
    plain = evaluate(frame.drop(columns=[f"p_{p}" for p in range(1, 6)]), ["simulated_rating"], baselines=False, reps=0)
    assert "distribution" not in set(plain.metrics["method"])


def test_evaluate_a_distribution_run_then_apply_its_expected_rating_calibrator(ml100k: Path, tmp_path: Path) -> None:
    common = ["--no-progress", "--data-dir", str(ml100k)]
    first = _invoke("run", *common, "--users", "12", "--distribution", "--out", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output
    evaluated = _invoke("evaluate", str(tmp_path / "a"), "--out", str(tmp_path / "eval"), "--bootstrap", "20")
    assert evaluated.exit_code == 0, evaluated.output
    assert "distribution: NLL" in evaluated.output
    metrics = pd.read_csv(tmp_path / "eval" / "metrics.csv")
    ratings = pd.read_csv(tmp_path / "a" / "ratings.csv")
    probabilities = ratings[[f"p_{point}" for point in range(1, 6)]].to_numpy()
    argmax = probabilities.argmax(axis=1) + 1.0
    cell = metrics.set_index(["method", "subset", "metric"])["value"]
    assert cell[("argmax_rating", "all", "rmse")] == pytest.approx(np.sqrt(((argmax - ratings["rating"]) ** 2).mean()))
    assert cell[("expected_rating", "all", "mae")] == pytest.approx(
        (ratings["expected_rating"] - ratings["rating"]).abs().mean(), abs=1e-6
    )
    assert cell[("distribution", "all", "nll")] == pytest.approx(scores(ratings)["nll"], abs=1e-6)
    assert (tmp_path / "eval" / "plots" / "reliability.png").is_file()

    path = tmp_path / "eval" / "calibrators" / "expected_rating.isotonic_cv.json"
    assert json.loads(path.read_text())["input"] == "expected_rating"
    assert "input" not in json.loads((path.parent / "simulated_rating.isotonic_cv.json").read_text())
    second = _invoke(
        "run", *common, "--user-ids", "31,32", "--distribution", "--calibrator", str(path), "--out", str(tmp_path / "b")
    )
    assert second.exit_code == 0, second.output
    applied = pd.read_csv(tmp_path / "b" / "ratings.csv")
    frame = applied.assign(simulated_rating=applied["expected_rating"])
    again = load_calibrator(path).apply(frame)["calibrated_rating"]
    assert np.allclose(applied["calibrated_rating"], again)
    value_mode = _invoke("run", *common, "--user-ids", "31", "--calibrator", str(path), "--out", str(tmp_path / "c"))
    assert value_mode.exit_code != 0 and "needs a distribution-mode run (--distribution)" in value_mode.output
    assert not (tmp_path / "c").exists()
