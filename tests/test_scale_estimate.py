"""``lusifer estimate`` calibrated on a pilot run's exchanges holds to a real run (fake OpenAI server, real SDK)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from simulation_fakes import requested_ids

from lusifer.cli import cli, load_plugin_commands
from lusifer.kernel.settings import load_config
from lusifer.runs.estimate import estimate_run
from lusifer.runs.estimate_calibration import calibration_from_store
from lusifer.runs.session import plan_run
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply

WORDS = [
    "prefers",
    "slow",
    "character",
    "dramas",
    "and",
    "dry",
    "comedies",
    "over",
    "loud",
    "blockbusters",
    "with",
    "thin",
    "scripts",
]


def wordy_model(request: dict[str, Any]) -> FakeReply:
    """Profiles of 60-110 words (the default assumption is longer), ratings as compact JSON."""
    ids = requested_ids(request)
    if ids is not None:
        return FakeReply(content=json.dumps({"ratings": {item: 1 + int(item) % 5 for item in ids}}))
    length = 60 + len(json.dumps(request["messages"])) % 50
    profile = " ".join(WORDS[i % len(WORDS)] for i in range(length))
    return FakeReply(content=json.dumps({"profile": profile, "explanation": "Shifted toward dramas."}))


def run(server: FakeOpenAIServer, ml100k: Path, out: Path, users: int) -> None:
    """A run without the response cache: the full run pays for the pilot's users again, as an estimate assumes."""
    load_plugin_commands()
    arguments = ["run", "--no-progress", "--no-cache", "--data-dir", ml100k, "--history", "20"]
    arguments += ["--users", users, "--out", out]
    result = CliRunner().invoke(
        cli, [str(a) for a in [*arguments, "--backend", "openai", "--base-url", server.base_url]]
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def runs(ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, str]:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAIServer(wordy_model) as server:
        run(server, ml100k, tmp_path / "pilot", 4)
        run(server, ml100k, tmp_path / "full", 16)
        return tmp_path / "pilot", tmp_path / "full", server.base_url


def test_calibrated_estimate_is_within_ten_percent_and_inside_its_interval(
    runs: tuple[Path, Path, str], ml100k: Path
) -> None:
    pilot, full, base_url = runs
    config = load_config(
        overrides={
            "data": {"path": ml100k, "history": 20},
            "backend": {"name": "openai", "base_url": base_url},
            "run": {"users": 16},
        },
        environ={},
    )
    actual = RunStore(full).exchange_totals()
    uncalibrated = estimate_run(config, plan_run(config))
    calibration = calibration_from_store(pilot)
    assert calibration is not None and calibration.completion_per_rating is not None
    calibrated = estimate_run(config, plan_run(config), calibration)
    assert abs(uncalibrated.completion_tokens / actual["completion_tokens"] - 1) > 0.3  # the fixed guess is off
    for estimated, measured in (
        (calibrated.completion_tokens, actual["completion_tokens"]),
        (calibrated.prompt_tokens, actual["prompt_tokens"]),
    ):
        assert abs(estimated / measured - 1) < 0.10, (estimated, measured)
    low, high = calibrated.completion_tokens_range
    assert low <= actual["completion_tokens"] <= high
    assert calibrated.calls == actual["exchanges"] and calibrated.calibrated_from == str(pilot)


def test_estimate_command_reports_its_interval_and_calibration(runs: tuple[Path, Path, str], ml100k: Path) -> None:
    pilot, _, base_url = runs
    common = ["estimate", "--data-dir", str(ml100k), "--history", "20", "--users", "16", "--backend", "openai"]
    common += ["--base-url", base_url]
    calibrated = CliRunner().invoke(cli, [*common, "--calibrate-from", str(pilot)])
    assert calibrated.exit_code == 0, calibrated.output
    assert f"95 % interval calibrated on the exchanges stored in {pilot}" in calibrated.output
    plain = CliRunner().invoke(cli, common)
    assert plain.exit_code == 0 and "uncalibrated range" in plain.output


def test_calibrating_from_a_folder_without_answers_is_one_clear_error(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["estimate", "--data-dir", str(ml100k), "--calibrate-from", str(tmp_path)])
    assert result.exit_code != 0
    assert f"--calibrate-from {tmp_path}: no answered exchanges stored there" in result.output
    assert "Traceback" not in result.output
