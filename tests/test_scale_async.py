"""``await simulate(config)``: the same run as ``run_simulation``, from inside a running event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lusifer.api.errors import ConfigError, KeyMissingError, LusiferError
from lusifer.api.settings import LusiferConfig
from lusifer.kernel.settings import load_config
from lusifer.runs.runner import run_simulation, simulate

EXPORTS = ("ratings.csv", "profiles.jsonl", "history.csv", "failures.csv")


def config(ml100k: Path, out: Path, **run: object) -> LusiferConfig:
    return load_config(
        None, {"data": {"path": ml100k, "history": 20}, "run": {"out": out, "users": 8, **run}}, environ={}
    )


def test_simulate_in_a_running_loop_matches_run_simulation(ml100k: Path, tmp_path: Path) -> None:
    run_simulation(config(ml100k, tmp_path / "sync"))

    async def inside_a_loop() -> int:
        ticks = 0

        async def tick() -> None:  # the loop keeps serving other tasks while the run goes on
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        run, summary = await simulate(config(ml100k, tmp_path / "async"))
        ticker.cancel()
        assert run.out == tmp_path / "async" and summary.users_done == 8
        return ticks

    assert asyncio.run(inside_a_loop()) > 0
    for name in EXPORTS:
        assert (tmp_path / "async" / name).read_bytes() == (tmp_path / "sync" / name).read_bytes(), name
    assert (tmp_path / "async" / "summary.json").is_file()


@pytest.mark.parametrize(
    ("run", "backend", "error"),
    [
        ({"user_ids": ["no-such-user"]}, {}, ConfigError),
        ({"calibrator": "missing-calibrator.json"}, {}, LusiferError),
        ({}, {"name": "anthropic"}, KeyMissingError),
    ],
)
def test_bad_input_fails_before_the_run_directory_exists(
    ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: dict, backend: dict, error: type
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    out = tmp_path / "deep" / "run"
    bad = load_config(
        None,
        {"data": {"path": ml100k}, "backend": backend, "run": {"out": out, "users": 2, **run}},
        environ={},
    )
    with pytest.raises(error):
        asyncio.run(simulate(bad))
    assert not (tmp_path / "deep").exists()
