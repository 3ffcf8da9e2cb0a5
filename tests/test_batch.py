"""Batch mode (`lusifer run --vendor-batch`) against the fake OpenAI and Anthropic batch endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from simulation_fakes import ScriptedModel, intended_rating, malformed, missing_two

from lusifer.api.settings import LusiferConfig
from lusifer.cli import cli, load_plugin_commands
from lusifer.kernel.registry import get_backend
from lusifer.kernel.settings import load_config
from lusifer.runs.runner import run_simulation
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, FakeReply, FakeServer

SERVERS = {"openai": FakeOpenAIServer, "anthropic": FakeAnthropicServer}
USERS = 4
STEPS = 3  # two profile steps (history 20, batches of 10), then the feedback


def as_openai(model: ScriptedModel) -> Any:
    """The scripted model for Anthropic requests (it reads the schema where OpenAI requests carry it)."""

    def respond(request: dict[str, Any]) -> FakeReply:
        tools = request.get("tools") or [{}]
        schema = tools[0].get("input_schema")
        return model({"messages": request["messages"], "response_format": {"json_schema": {"schema": schema}}})

    return respond


def server_for(vendor: str, model: ScriptedModel) -> FakeServer:
    return SERVERS[vendor](model if vendor == "openai" else as_openai(model), batch_polls=2)


def config(ml100k: Path, server: FakeServer, vendor: str, out: Path, batch: bool) -> LusiferConfig:
    overrides = {
        "data": {"path": ml100k, "history": 20},
        "backend": {"name": vendor, "base_url": server.base_url},
        "run": {"users": USERS, "out": out, "vendor_batch": batch, "batch_poll": 0.01},
        "cache": {"enabled": False},
    }
    return load_config(overrides=overrides, environ={})


@pytest.mark.parametrize("vendor", sorted(SERVERS))
def test_batch_run_equals_normal_run_at_half_price(ml100k: Path, tmp_path: Path, vendor: str) -> None:
    with server_for(vendor, ScriptedModel()) as server:
        _, normal = run_simulation(config(ml100k, server, vendor, tmp_path / "normal", False), api_key="sk-test")
        _, batched = run_simulation(config(ml100k, server, vendor, tmp_path / "batch", True), api_key="sk-test")
        sizes = [len(batch.requests) for batch in server.batches.values()]
    for name in ("ratings.csv", "profiles.jsonl", "history.csv"):
        assert (tmp_path / "normal" / name).read_bytes() == (tmp_path / "batch" / name).read_bytes(), name
    assert sizes == [USERS] * STEPS  # one batch per phase step, holding every user
    assert batched.ok and batched.calls == normal.calls and batched.cost_usd == pytest.approx(normal.cost_usd / 2)
    exchanges = RunStore(tmp_path / "batch").exchanges()
    assert {exchange["batch_id"] for exchange in exchanges} == set(server.batches)


@pytest.mark.parametrize("vendor", sorted(SERVERS))
def test_invalid_and_failed_answers_are_asked_again_in_follow_up_batches(
    ml100k: Path, tmp_path: Path, vendor: str
) -> None:
    model = ScriptedModel(faults={1: malformed, 2: missing_two}, never_answer={"50"})
    with server_for(vendor, model) as server:
        server.inject(FakeReply(status=500), FakeReply(status=400))  # the first two requests of the first batch
        load_plugin_commands()
        arguments = ["run", "--no-progress", "--no-cache", "--vendor-batch", "--batch-poll", "0.01", "--key", "sk-test"]
        arguments += ["--data-dir", str(ml100k), "--users", str(USERS), "--history", "20", "--backend", vendor]
        result = CliRunner().invoke(cli, [*arguments, "--base-url", server.base_url, "--out", str(tmp_path / "run")])
        batches = [[json.dumps(body) for _, body in batch.requests] for batch in server.batches.values()]
    ratings = pd.read_csv(tmp_path / "run" / "ratings.csv", dtype={"item_id": str})
    rated = ratings.dropna(subset=["simulated_rating"])
    assert all(rated["simulated_rating"] == rated["item_id"].map(intended_rating))
    failures = pd.read_csv(tmp_path / "run" / "failures.csv", dtype={"user_id": str, "item_id": str})
    failed = set(zip(failures["user_id"], failures["item_id"]))
    user_2 = set(zip(["2"] * 10, ratings.loc[ratings["user_id"] == 2, "item_id"]))
    assert result.exit_code == 1 and failed == user_2 | {("4", "50")}  # 400 is final; 50 never answered
    assert [len(batch) for batch in batches] == [4, 3, 3, 3, 1, 1]  # user 1 is a step behind after its 500
    assert sum("Your previous answer" in body for body in batches[3]) == 2  # malformed and missing_two
    assert sum("Your previous answer" in body for body in batches[4]) == 1  # item 50, asked a third time
    assert sum("Your previous answer" in body for body in batches[5]) == 1  # and a fourth (validation_retries 3)


@pytest.mark.parametrize("vendor", sorted(SERVERS))
def test_rerun_after_submit_polls_the_stored_batch(
    ml100k: Path, tmp_path: Path, vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stopped(Exception):
        """Stands for the process being killed while its first batch runs."""

    with server_for(vendor, ScriptedModel()) as server:
        settings = config(ml100k, server, vendor, tmp_path / "run", True)

        async def stop(self: Any, batch_id: str) -> None:
            raise Stopped(batch_id)

        with monkeypatch.context() as patch, pytest.raises(Stopped):
            patch.setattr(get_backend(vendor), "poll_batch", stop)
            run_simulation(settings, api_key="sk-test")
        stored = RunStore(tmp_path / "run").open_batches(vendor)
        assert list(stored) == ["batch_fake_1"] and len(stored["batch_fake_1"]) == USERS
        _, summary = run_simulation(settings, api_key="sk-test")
        sizes = [len(batch.requests) for batch in server.batches.values()]
    assert summary.ok and sizes == [USERS] * STEPS  # the first batch was polled again, not submitted twice
    assert RunStore(tmp_path / "run").open_batches(vendor) == {}


def test_offline_backend_has_no_batch_mode(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    result = CliRunner().invoke(
        cli,
        ["run", "--no-progress", "--vendor-batch", "--data-dir", str(ml100k), "--users", "1", "--out", str(tmp_path)],
    )
    assert result.exit_code == 1 and "has no batch API" in result.output
