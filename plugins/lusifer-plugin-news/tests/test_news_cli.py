"""``lusifer run --domain news ... --backend offline`` end to end, then ``lusifer evaluate`` on the run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lusifer.testing import invoke_cli


def _lusifer(*arguments: str) -> object:
    return invoke_cli(*arguments, catch_exceptions=False)


def test_plugins_and_domains_list_the_news_plugin() -> None:
    listing = json.loads(_lusifer("plugins").output)
    news = next(plugin for plugin in listing["plugins"] if plugin["name"] == "news")
    assert news["package"] == "lusifer-plugin-news" and not news["builtin"]
    assert news["registered"]["domains"] == ["news"] and len(news["registered"]["templates"]) == 1
    domains = _lusifer("domains").output
    assert "news" in domains and "binary 0..1" in domains and "mind-small" in domains


def test_run_and_evaluate_end_to_end_on_fixture_data(mind_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = _lusifer(
        "run",
        "--domain",
        "news",
        "--data-dir",
        str(mind_dir),
        "--backend",
        "offline",
        "--out",
        str(out),
        "--no-progress",
    )  # fmt: skip  (no --dataset: the domain's first, mind-small, is the default)
    assert run.exit_code == 0, run.output
    assert "users 10 done / 0 failed; ratings 80 done / 0 failed" in run.output
    ratings = pd.read_csv(out / "ratings.csv")
    assert set(ratings["simulated_rating"]) == {0, 1} and set(ratings["rating"]) == {0, 1}
    config = json.loads((out / "config.json").read_text())
    assert (config["domain"], config["dataset"]) == ("news", "mind-small")

    evaluation = _lusifer("evaluate", str(out), "--bootstrap", "20")
    assert evaluation.exit_code == 0, evaluation.output
    header = next(line for line in evaluation.output.splitlines() if line.startswith("method"))
    assert header.split() == ["method", "auc", "accuracy", "log_loss", "ece", "valid_share"]  # the domain's
    metrics = pd.read_csv(out / "evaluation" / "metrics.csv")
    raw = metrics[(metrics["method"] == "simulated_rating") & (metrics["subset"] == "all")]
    assert {"auc", "accuracy", "log_loss", "ece"} <= set(raw["metric"])
    assert "rmse" not in set(metrics["metric"])
    assert raw.set_index("metric").loc["auc", "value"] > 0.5  # the offline model follows the favourite topics
