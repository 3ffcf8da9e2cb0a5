"""`lusifer estimate` predicts a run's calls and price without calling anything."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands
from lusifer.kernel.settings import load_config
from lusifer.runs.estimate import estimate_run
from lusifer.runs.session import plan_run
from lusifer.runs.store import RunStore


def test_estimated_calls_match_a_real_run(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "7", "--items-per-call", "4", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    config = load_config(overrides={"data": {"path": ml100k}, "run": {"users": 7, "items_per_call": 4}}, environ={})
    estimate = estimate_run(config, plan_run(config))
    assert estimate.calls == RunStore(out).exchange_totals()["exchanges"]
    assert (estimate.users, estimate.ratings, estimate.cost_usd) == (7, 70, 0.0)


def test_cost_follows_the_price_table(ml100k: Path) -> None:
    overrides = {
        "data": {"path": ml100k},
        "run": {"users": 3},
        "backend": {"name": "openai", "model": "m"},
        "prices": {"m": {"input": 1.0, "output": 2.0}},
    }
    config = load_config(overrides=overrides, environ={})
    estimate = estimate_run(config, plan_run(config))
    expected = (estimate.prompt_tokens * 1.0 + estimate.completion_tokens * 2.0) / 1e6
    assert estimate.cost_usd == expected > 0


def test_estimate_command_needs_no_key(ml100k: Path) -> None:
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["estimate", "--data-dir", str(ml100k), "--users", "2", "--backend", "openai"])
    assert result.exit_code == 0, result.output
    assert "2 users, 20 ratings" in result.output and "openai/gpt-4o-mini" in result.output


def test_batch_mode_halves_the_estimated_price(ml100k: Path) -> None:
    overrides = {"data": {"path": ml100k}, "run": {"users": 3}, "backend": {"name": "openai", "model": "gpt-4o-mini"}}
    normal = load_config(overrides=overrides, environ={})
    batch = load_config(overrides={**overrides, "run": {"users": 3, "batch": True}}, environ={})
    full, half = estimate_run(normal, plan_run(normal)), estimate_run(batch, plan_run(batch))
    assert half.cost_usd == full.cost_usd / 2 > 0
