"""CLI conventions of issue 19, item 6: estimate explains why it plans fewer users than asked."""

from __future__ import annotations

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
