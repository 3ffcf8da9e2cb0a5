"""Reports: metrics.csv, report.md and PNG plots, byte-identical for the same inputs and seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lusifer.evaluation.pipeline import CF_STACK, evaluate
from lusifer.evaluation.report import example_profile, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _world(seed: int = 0, users: int = 30, items: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, users + 1):
        chosen = rng.choice(items, 25, replace=False) + 1
        bias = rng.normal(0, 0.6)
        for step, item in enumerate(chosen):
            rows.append((user, int(item), float(np.clip(np.round(3.6 + bias + rng.normal(0, 0.9)), 1, 5)), step))
    table = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    history = table[table["timestamp"] < 18].reset_index(drop=True)
    test = table[table["timestamp"] >= 18].drop(columns="timestamp").reset_index(drop=True)
    test["simulated_rating"] = np.clip(np.round(0.4 * test["rating"] + 2.4 + rng.normal(0, 0.6, len(test))), 1, 5)
    test.loc[::11, "simulated_rating"] = np.nan
    return test, history


PROFILES = [
    {"user_id": 2, "step": 1, "profile": "Likes thrillers.", "explanation": "", "item_ids": [1, 2]},
    {
        "user_id": 2,
        "step": 2,
        "profile": "Likes thrillers and " + "quiet dramas " * 40,
        "explanation": "",
        "item_ids": [3],
    },
    {"user_id": 1, "step": 1, "profile": "Enjoys comedies.", "explanation": "", "item_ids": [4]},
]


def _write(out: Path, with_profiles: bool = True) -> dict[str, Path]:
    test, history = _world()
    result = evaluate(
        test,
        ["simulated_rating"],
        history=history,
        reps=60,
        seed=3,
        folds=3,
        calibrator_dir=out / "calibrators",
    )
    if with_profiles:
        result.profiles = PROFILES
    return write_report(result, out, title="Toy evaluation")


def test_report_files_are_complete(tmp_path) -> None:
    written = _write(tmp_path / "report")
    metrics = pd.read_csv(written["metrics"])
    assert list(metrics.columns) == ["method", "subset", "metric", "value", "ci_low", "ci_high"]
    methods = set(metrics["method"])
    assert {"simulated_rating", "simulated_rating+user_moments", "simulated_rating+isotonic_cv"} <= methods
    assert {"simulated_rating+hybrid_cv", CF_STACK, "UserItemBias", "KNNBaseline", "SVD"} <= methods
    assert {"all", "cold_users<20"} <= set(metrics["subset"])
    share = metrics.query("method == 'simulated_rating' and subset == 'all' and metric == 'valid_share'")
    assert share["value"].iloc[0] == pytest.approx(1 - 1 / 11, abs=0.01)
    report = written["report"].read_text()
    for heading in (
        "## All methods",
        "## Raw vs calibrated vs hybrid",
        "## Cold start",
        "## Per-user metrics",
        "## Comparison with the paper",
        "## Profile timeline",
    ):
        assert heading in report
    assert "1.310 / 0.970 / 0.230" in report and "1.572 / 1.186 / 0.206" in report
    for name in ("distributions", "errors", "calibration_curve", "user_errors", "profile_timeline"):
        assert written[name].read_bytes().startswith(PNG_SIGNATURE)
        assert f"plots/{name}.png" in report
    assert (tmp_path / "report" / "calibrators" / "simulated_rating.hybrid_cv.json").is_file()
    assert "calibrators/simulated_rating.hybrid_cv.json" in report


def test_reports_are_byte_identical_for_the_same_seed(tmp_path) -> None:
    first, second = _write(tmp_path / "a"), _write(tmp_path / "b")
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), name


def test_report_without_history_or_profiles_skips_what_needs_them(tmp_path) -> None:
    test, _ = _world()
    result = evaluate(test, ["simulated_rating"], history=None, reps=20)
    written = write_report(result, tmp_path)
    assert "profile_timeline" not in written
    report = written["report"].read_text()
    assert "Baselines skipped" in report and "## Cold start" not in report
    assert set(pd.read_csv(written["metrics"])["method"]) == {
        "simulated_rating",
        "simulated_rating+isotonic_cv",
    }


def test_binary_feedback_report(tmp_path) -> None:
    rng = np.random.default_rng(0)
    clicks = pd.DataFrame({"user_id": np.repeat(np.arange(20), 6), "item_id": np.tile(np.arange(6), 20)})
    clicks["rating"] = rng.integers(0, 2, len(clicks)).astype(float)
    clicks["p_click"] = np.clip(0.3 * clicks["rating"] + rng.uniform(0, 0.7, len(clicks)), 0, 1)
    result = evaluate(clicks, ["p_click"], kind="binary", scale=(0, 1), reps=20)
    written = write_report(result, tmp_path)
    metrics = set(pd.read_csv(written["metrics"])["metric"])
    assert {"auc", "log_loss", "ece", "accuracy", "valid_share"} <= metrics and "rmse" not in metrics
    assert "Comparison with the paper" not in written["report"].read_text()


def test_example_profile_picks_the_user_with_most_states_in_step_order() -> None:
    states = example_profile(list(reversed(PROFILES)))
    assert [state["step"] for state in states] == [1, 2] and states[0]["user_id"] == 2
    assert example_profile([]) == []
