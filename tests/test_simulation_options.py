"""`lusifer run` options beyond the defaults: Anthropic through its base URL, template overrides,
applying a calibrator fitted by `lusifer evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from simulation_fakes import ScriptedModel, intended_rating

from lusifer.cli import cli, load_plugin_commands
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeAnthropicServer


def _invoke(*arguments: str) -> object:
    load_plugin_commands()
    return CliRunner().invoke(cli, list(arguments))


def test_anthropic_backend_end_to_end_through_its_base_url(ml100k: Path, tmp_path: Path) -> None:
    with FakeAnthropicServer(ScriptedModel()) as server:
        result = _invoke(
            "run",
            "--no-progress",
            "--data-dir",
            str(ml100k),
            "--users",
            "3",
            "--history",
            "20",
            "--backend",
            "anthropic",
            "--base-url",
            server.base_url,
            "--key",
            "sk-ant-test",
            "--out",
            str(tmp_path / "run"),
        )
        assert all(request.json["tool_choice"]["type"] == "tool" for request in server.requests)
    assert result.exit_code == 0, result.output
    ratings = pd.read_csv(tmp_path / "run" / "ratings.csv", dtype={"item_id": str})
    assert len(ratings) == 30
    assert list(ratings["simulated_rating"]) == [intended_rating(item) for item in ratings["item_id"]]


def test_prompts_dir_overrides_one_template(ml100k: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prompts" / "movies"
    folder.mkdir(parents=True)
    (folder / "system.j2").write_text("You are user {{ user_id }}. Reply in JSON.")
    out = tmp_path / "run"
    result = _invoke(
        "run",
        "--no-progress",
        "--data-dir",
        str(ml100k),
        "--users",
        "1",
        "--prompts-dir",
        str(tmp_path / "prompts"),
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    exchanges = RunStore(out).exchanges()
    assert {exchange["messages"][0]["content"] for exchange in exchanges} == {"You are user 1. Reply in JSON."}
    assert all("Rate each movie" in e["messages"][1]["content"] for e in exchanges if e["task"] == "feedback")
    broken_folder = tmp_path / "broken-prompts" / "movies"
    broken_folder.mkdir(parents=True)
    (broken_folder / "feedback.j2").write_text("{{ no_such_variable }}")
    broken = _invoke(
        "run",
        "--no-progress",
        "--data-dir",
        str(ml100k),
        "--users",
        "1",
        "--prompts-dir",
        str(tmp_path / "broken-prompts"),
        "--out",
        str(tmp_path / "broken"),
    )
    assert broken.exit_code == 1 and "'no_such_variable' is undefined" in broken.output


def test_run_applies_a_calibrator_fitted_by_evaluate(ml100k: Path, tmp_path: Path) -> None:
    first = _invoke("run", "--no-progress", "--data-dir", str(ml100k), "--users", "30", "--out", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output
    evaluated = _invoke("evaluate", str(tmp_path / "a"), "--out", str(tmp_path / "eval"), "--no-baselines")
    assert evaluated.exit_code == 0, evaluated.output
    calibrator = tmp_path / "eval" / "calibrators" / "simulated_rating.isotonic_cv.json"
    second = _invoke(
        "run",
        "--no-progress",
        "--data-dir",
        str(ml100k),
        "--user-ids",
        "31,32",
        "--calibrator",
        str(calibrator),
        "--out",
        str(tmp_path / "b"),
    )
    assert second.exit_code == 0, second.output
    ratings = pd.read_csv(tmp_path / "b" / "ratings.csv")
    assert ratings["calibrated_rating"].between(1, 5).all()
    assert json.loads((tmp_path / "b" / "config.json").read_text())["run"]["calibrator"] == str(calibrator)
