"""``lusifer run --domain music ... --backend offline`` end to end, then ``lusifer evaluate`` on the run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lusifer.testing import invoke_cli


def _lusifer(*arguments: str) -> object:
    return invoke_cli(*arguments, catch_exceptions=False)


def test_plugins_and_domains_list_the_music_plugin() -> None:
    listing = json.loads(_lusifer("plugins").output)
    music = next(plugin for plugin in listing["plugins"] if plugin["name"] == "music")
    assert music["package"] == "lusifer-plugin-music" and music["registered"]["domains"] == ["music"]
    assert "digital-music" in _lusifer("domains").output


def test_run_and_evaluate_end_to_end_on_fixture_data(music_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = _lusifer(
        "run", "--domain", "music", "--dataset", "digital-music", "--data-dir", str(music_dir),
        "--fold", "80-20", "--backend", "offline", "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "users 8 done / 0 failed; ratings 8 done / 0 failed" in run.output
    ratings = pd.read_csv(out / "ratings.csv")
    assert ratings["simulated_rating"].between(1, 5).all()

    evaluation = _lusifer("evaluate", str(out), "--bootstrap", "20", "--folds", "2")
    assert evaluation.exit_code == 0, evaluation.output
    metrics = pd.read_csv(out / "evaluation" / "metrics.csv")
    assert {"rmse", "mae", "pearson"} <= set(metrics[metrics["method"] == "simulated_rating"]["metric"])
