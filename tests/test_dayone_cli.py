"""CLI conventions of issue 19, item 6: estimate explains why it plans fewer users than asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands


def test_estimate_says_why_it_plans_fewer_users(ml100k: Path) -> None:
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["estimate", "--data-dir", str(ml100k), "--users", "500"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("459 users")
    assert "--users 500 asked for more users than the 459 who have test items" in result.output
    exact = CliRunner().invoke(cli, ["estimate", "--data-dir", str(ml100k), "--users", "5"])
    assert "Note:" not in exact.output


def test_logs_prints_the_recent_exchanges_of_a_run(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    out = tmp_path / "run"
    run = CliRunner().invoke(
        cli, ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "1", "--out", str(out)]
    )
    assert run.exit_code == 0, run.output
    logs = CliRunner().invoke(cli, ["logs", str(out), "-n", "1"])
    assert logs.exit_code == 0, logs.output
    assert logs.output.startswith("## feedback user 1 (offline/") and logs.output.count("## ") == 1
    assert "tokens, $0.000000" in logs.output and '< {"ratings": {' in logs.output
    assert "Rate each movie below" in logs.output
    missing = CliRunner().invoke(cli, ["logs", str(tmp_path)])
    assert missing.exit_code == 1 and "is not a run directory" in missing.output


def test_keys_get_and_remove() -> None:
    load_plugin_commands()
    runner = CliRunner()
    assert runner.invoke(cli, ["keys", "set", "openai", "--value", "sk-test-123"]).exit_code == 0
    got = runner.invoke(cli, ["keys", "get", "openai"])
    assert got.exit_code == 0 and got.output == "sk-test-123\n"
    removed = runner.invoke(cli, ["keys", "remove", "openai"])
    assert removed.exit_code == 0 and "sk-test" not in removed.output
    assert runner.invoke(cli, ["keys", "list"]).output == ""
    again = runner.invoke(cli, ["keys", "get", "openai"])
    assert again.exit_code == 1 and "no stored key 'openai'" in again.output and "sk-test" not in again.output


def test_models_lists_backend_defaults_and_prices() -> None:
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split()[:2] == ["openai", "gpt-4o-mini"] and "$0.15 in / $0.6 out" in line for line in lines)
    assert any(line.split()[:2] == ["anthropic", "claude-haiku-4-5"] for line in lines)
    assert any(line.split()[:1] == ["claude-opus-4-1"] and "$15 in / $75 out" in line for line in lines)


def test_short_model_flag(ml100k: Path) -> None:
    load_plugin_commands()
    result = CliRunner().invoke(
        cli, ["estimate", "--data-dir", str(ml100k), "--users", "2", "--backend", "openai", "-m", "gpt-4.1-nano"]
    )
    assert result.exit_code == 0, result.output
    assert "with openai/gpt-4.1-nano" in result.output


def test_keys_set_reads_a_piped_key_without_a_warning(tmp_path: Path) -> None:
    environment = {**os.environ, "LUSIFER_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "lusifer", "keys", "set", "openai"]
    stored = subprocess.run(command, input="sk-piped-1\n", capture_output=True, text=True, env=environment)
    assert stored.returncode == 0 and stored.stdout == "Stored key 'openai'.\n"
    assert stored.stderr == "" and "sk-piped" not in stored.stdout
    assert json.loads((tmp_path / "keys.json").read_text())["openai"] == "sk-piped-1"
    empty = subprocess.run(command, input="", capture_output=True, text=True, env=environment)
    assert empty.returncode == 1 and "no key for openai on standard input" in empty.stderr
