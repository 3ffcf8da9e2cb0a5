"""``lusifer evaluate``: prediction files, run directories, the paper protocol and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ML_100K = SHARED / "data" / "ml-100k"
TMDB_100K = SHARED / "data" / "tmdb" / "ml-100k-tmdb.csv"
RECORDED_100K = SHARED / "data" / "lusifer-paper" / "recorded-ml-100k.csv"


def _invoke(*args: str):
    load_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _value(metrics: pd.DataFrame, method: str, metric: str, subset: str = "all") -> float:
    row = metrics.query("method == @method and metric == @metric and subset == @subset")
    assert len(row) == 1, (method, metric, subset)
    return float(row["value"].iloc[0])


@pytest.fixture
def recorded() -> Path:
    if not RECORDED_100K.exists():
        pytest.skip(f"shared recorded predictions not found at {RECORDED_100K}")
    return RECORDED_100K


def test_recorded_gpt4o_mini_scores_match_numpy(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = _invoke(
        "evaluate",
        "--predictions",
        str(recorded),
        "--column",
        "4o_mini",
        "--bootstrap",
        "100",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(out / "metrics.csv")
    frame = pd.read_csv(recorded)
    truth, predicted = frame["rating"].to_numpy(float), frame["4o_mini"].to_numpy(float)
    error = predicted - truth
    expected = {
        "rmse": np.sqrt(np.mean(error**2)),
        "mae": np.mean(np.abs(error)),
        "pearson": np.corrcoef(truth, predicted)[0, 1],
    }
    for metric, value in expected.items():
        assert _value(metrics, "4o_mini", metric) == pytest.approx(value, abs=1e-6)
    assert (round(expected["rmse"], 3), round(expected["mae"], 3), round(expected["pearson"], 3)) == (
        1.572,
        1.186,
        0.206,
    )
    assert "4o_mini" in result.output and "1.572" in result.output
    assert (out / "report.md").is_file() and (out / "plots" / "errors.png").is_file()
    assert "Baselines skipped" in (out / "report.md").read_text()


def _run_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    run = tmp_path / "run"
    run.mkdir()
    users = np.repeat(np.arange(1, 31), 6)
    items = np.concatenate([rng.choice(np.arange(1, 40), 6, replace=False) for _ in range(30)])  # one row per pair
    truth = rng.integers(1, 6, users.size)
    simulated = pd.array(np.clip(truth + rng.integers(-1, 2, users.size), 1, 5), dtype="Int64")
    simulated[::9] = pd.NA  # failed items are empty cells
    pd.DataFrame({"user_id": users, "item_id": items, "rating": truth, "simulated_rating": simulated}).to_csv(
        run / "ratings.csv", index=False
    )
    history_users = np.repeat(np.arange(1, 31), 12)
    pd.DataFrame(
        {
            "user_id": history_users,
            "item_id": rng.integers(1, 40, history_users.size),
            "rating": rng.integers(1, 6, history_users.size),
            "timestamp": np.arange(history_users.size),
        }
    ).to_csv(run / "history.csv", index=False)
    states = [
        {"user_id": 1, "step": step, "profile": f"profile {step}", "explanation": "", "item_ids": [step]}
        for step in (1, 2)
    ]
    (run / "profiles.jsonl").write_text("".join(json.dumps(state) + "\n" for state in states))
    (run / "config.json").write_text(json.dumps({"domain": "movies", "seed": 0}))
    return run


def test_run_dir_is_evaluated_with_baselines_calibration_and_profiles(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    result = _invoke("evaluate", str(run), "--bootstrap", "30", "--folds", "3")
    assert result.exit_code == 0, result.output
    out = run / "evaluation"
    metrics = pd.read_csv(out / "metrics.csv")
    assert _value(metrics, "simulated_rating", "valid_share") == pytest.approx(1 - 1 / 9, abs=0.01)
    assert {"simulated_rating+user_moments", "simulated_rating+hybrid_cv", "SVD", "CFStack_cv"} <= set(
        metrics["method"]
    )
    assert (out / "plots" / "profile_timeline.png").is_file()
    assert (out / "calibrators" / "simulated_rating.hybrid_cv.json").is_file()
    again = _invoke(
        "evaluate",
        str(run),
        "--bootstrap",
        "30",
        "--folds",
        "3",
        "--no-baselines",
        "--no-calibrate",
        "--out",
        str(tmp_path / "plain"),
    )
    assert again.exit_code == 0, again.output
    assert set(pd.read_csv(tmp_path / "plain" / "metrics.csv")["method"]) == {"simulated_rating"}


def test_paper_protocol_builds_the_training_slice(recorded: Path, tmp_path: Path) -> None:
    if not (ML_100K / "u1.base").exists() or not TMDB_100K.exists():
        pytest.skip(f"shared ML-100K or TMDB file not found under {SHARED}")
    out = tmp_path / "paper"
    result = _invoke(
        "evaluate",
        "--predictions",
        str(recorded),
        "--column",
        "Gemma3_12B",
        "--protocol",
        "paper",
        "--data-dir",
        str(ML_100K),
        "--enrich-file",
        str(TMDB_100K),
        "--no-calibrate",
        "--bootstrap",
        "20",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(out / "metrics.csv")
    assert _value(metrics, "UserItemBias", "rmse") == pytest.approx(0.979, abs=0.01)
    assert _value(metrics, "KNNBaseline", "pearson") == pytest.approx(0.434, abs=0.01)
    assert "cold_users<20" in set(metrics["subset"])


def test_flags_select_metrics_and_kind(tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv"
    rng = np.random.default_rng(0)
    clicks = pd.DataFrame({"user_id": np.repeat(np.arange(10), 5), "item_id": np.tile(np.arange(5), 10)})
    clicks["clicked"] = rng.integers(0, 2, len(clicks))
    clicks["p"] = np.clip(0.4 * clicks["clicked"] + rng.uniform(0, 0.6, len(clicks)), 0, 1)
    clicks.to_csv(path, index=False)
    result = _invoke(
        "evaluate",
        "--predictions",
        str(path),
        "--column",
        "p",
        "--truth",
        "clicked",
        "--metric",
        "auc",
        "--metric",
        "log_loss",
        "--no-calibrate",
        "--bootstrap",
        "10",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert set(metrics["metric"]) == {"auc", "log_loss", "per_user_auc", "per_user_log_loss"}


def _error(*args: str) -> str:
    load_plugin_commands()
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code != 0
    return result.output.strip()


def test_errors_are_one_line_and_name_the_file_or_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    pd.DataFrame({"user_id": [1, 2], "movie_id": [3, 4], "rating": [4, 5], "sim": ["4", "five"]}).to_csv(
        path, index=False
    )
    missing = _error("evaluate", "--predictions", str(tmp_path / "nope.csv"), "--column", "sim")
    assert "nope.csv: file not found" in missing and missing.count("\n") == 0
    unknown = _error("evaluate", "--predictions", str(path), "--column", "simm")
    assert "Unknown column 'simm'" in unknown and "Did you mean 'sim'?" in unknown and str(path) in unknown
    non_numeric = _error("evaluate", "--predictions", str(path), "--column", "sim")
    assert "column 'sim' has a non-numeric value 'five' on line 3" in non_numeric
    no_truth = _error("evaluate", "--predictions", str(path), "--column", "sim", "--truth", "stars")
    assert "missing truth column 'stars'" in no_truth
    pd.DataFrame({"user_id": [1], "rating": [4], "sim": [4]}).to_csv(tmp_path / "q.csv", index=False)
    assert "missing column item_id" in _error("evaluate", "--predictions", str(tmp_path / "q.csv"), "--column", "sim")
    assert "run directory not found" in _error("evaluate", str(tmp_path / "no-run"))
    assert "either RUN_DIR or --predictions" in _error("evaluate")
    assert "--column" in _error("evaluate", "--predictions", str(path))
    bad_history = _error(
        "evaluate", "--predictions", str(path), "--column", "rating", "--history", str(tmp_path / "h.csv")
    )
    assert "h.csv: file not found" in bad_history
