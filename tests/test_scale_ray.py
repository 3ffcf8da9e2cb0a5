"""`lusifer run --executor ray`: users spread over Ray workers on a local Ray instance, one run store, the same
exports byte for byte as a single-process run; resuming; limits split evenly; clear errors."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lusifer.api.settings import LusiferConfig
from lusifer.cli import cli, load_plugin_commands
from lusifer.runs.ray_executor import RAY_MISSING, share, worker_config
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply

EXPORTS = ("ratings.csv", "ratings.parquet", "profiles.jsonl", "profiles.parquet", "history.csv", "failures.csv")
SUMMARY_FIELDS = ("users", "users_done", "ratings", "ratings_failed", "calls", "prompt_tokens", "completion_tokens")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray instance for the module (the runs join it instead of starting their own)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'lusifer[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def lusifer(*arguments: str | Path) -> str:
    load_plugin_commands()
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments])
    assert result.exit_code == 0, result.output
    return result.output


def run(ml100k: Path, out: Path, *extra: str | Path) -> str:
    return lusifer(
        "run", "--no-progress", "--data-dir", ml100k, "--users", "12", "--history", "20", "--out", out, *extra
    )


def assert_same_run(single: Path, other: Path) -> None:
    for name in EXPORTS:
        assert (other / name).read_bytes() == (single / name).read_bytes(), name
    expected, got = (json.loads((folder / "summary.json").read_text()) for folder in (single, other))
    assert {key: got[key] for key in SUMMARY_FIELDS} == {key: expected[key] for key in SUMMARY_FIELDS}


def test_ray_run_exports_equal_a_single_process_run(local_ray: Any, ml100k: Path, tmp_path: Path) -> None:
    run(ml100k, tmp_path / "single", "--no-cache")
    output = run(ml100k, tmp_path / "ray", "--no-cache", "--executor", "ray", "--workers", "2")
    assert "users 12 done / 0 failed" in output
    assert_same_run(tmp_path / "single", tmp_path / "ray")
    single, distributed = RunStore(tmp_path / "single"), RunStore(tmp_path / "ray")
    assert distributed.exchange_totals()["exchanges"] == single.exchange_totals()["exchanges"]
    assert distributed.get_meta("config")["run"]["executor"] == "ray"


def test_a_ray_run_resumes_a_single_process_run_where_it_stopped(local_ray: Any, ml100k: Path, tmp_path: Path) -> None:
    run(ml100k, tmp_path / "single", "--no-cache")
    run(ml100k, tmp_path / "resumed", "--no-cache")
    before = RunStore(tmp_path / "resumed").exchange_totals()["exchanges"]
    lost = ["1", "2", "3"]  # as if the process had been killed after these users' first profile step
    with sqlite3.connect(tmp_path / "resumed" / "run.sqlite") as database:
        marks = ",".join("?" * len(lost))
        for table in ("users", "feedback", "distributions"):
            database.execute(f"DELETE FROM {table} WHERE user_id IN ({marks})", lost)
        database.execute(f"DELETE FROM profiles WHERE user_id IN ({marks}) AND step > 0", lost)
    output = run(ml100k, tmp_path / "resumed", "--no-cache", "--executor", "ray", "--workers", "2")
    assert "users 12 done / 0 failed" in output
    for name in EXPORTS:
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "single" / name).read_bytes(), name
    asked = RunStore(tmp_path / "resumed").exchanges()[before:]
    first_time = [e for e in RunStore(tmp_path / "single").exchanges() if e["user_id"] in lost]
    assert {exchange["user_id"] for exchange in asked} == set(lost)  # only the unfinished users were asked
    tasks = [exchange["task"] for exchange in asked]
    expected = [exchange["task"] for exchange in first_time]
    assert tasks.count("profile") == expected.count("profile") - len(lost)  # stored step 0 was not asked again
    assert len(tasks) == len(expected) - len(lost)


def deterministic_model(request: dict[str, Any]) -> FakeReply:
    """Answers that depend only on the request (so any worker gets the same answer)."""
    seed = int(hashlib.sha256(json.dumps(request["messages"]).encode()).hexdigest()[:8], 16)
    schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
    if "ratings" in schema.get("properties", {}):
        ids = schema["properties"]["ratings"]["required"]
        answer: dict[str, Any] = {"ratings": {item: 1 + (seed + index) % 5 for index, item in enumerate(ids)}}
    else:
        words = " ".join(f"taste{(seed + index) % 97}" for index in range(40))
        answer = {"profile": f"Likes films with {words}.", "explanation": "Shifted after the new ratings."}
    return FakeReply(content=json.dumps(answer))


def test_ray_workers_call_an_openai_server_through_the_sdk(local_ray: Any, ml100k: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(deterministic_model, latency=0.01, max_concurrency=4) as server:
        vendor = ("--backend", "openai", "-m", "gpt-4o-mini", "--base-url", server.base_url, "--key", "sk-test-123")
        run(ml100k, tmp_path / "single", "--no-cache", *vendor, "--max-concurrency", "4")
        run(ml100k, tmp_path / "ray", "--no-cache", *vendor, "--max-concurrency", "4", "--executor", "ray")
    assert server.rejected == 0  # two workers with 2 in flight each never exceeded the server's 4
    assert_same_run(tmp_path / "single", tmp_path / "ray")
    assert "sk-test-123" not in (tmp_path / "ray" / "run.sqlite").read_bytes().decode("latin-1")


def test_limits_and_the_budget_left_are_split_evenly_over_the_workers() -> None:
    assert [share(8, index, 3) for index in range(3)] == [3, 3, 2]
    assert [share(2, index, 3) for index in range(3)] == [1, 1, 1]  # every worker can make progress
    config = LusiferConfig.model_validate(
        {
            "backend": {"max_concurrency": 64, "requests_per_minute": 600, "tokens_per_minute": 90000},
            "run": {"concurrency": 10, "budget_usd": 5.0, "executor": "ray"},
        }
    )
    workers = [worker_config(config, index, 4, prior_cost_usd=1.0) for index in range(4)]
    assert sum(worker.backend.max_concurrency for worker in workers) == 64
    assert sum(worker.run.concurrency for worker in workers) == 10
    assert sum(worker.backend.requests_per_minute or 0 for worker in workers) == pytest.approx(600)
    assert sum(worker.backend.tokens_per_minute or 0 for worker in workers) == pytest.approx(90000)
    # each may spend a quarter of the $4 left on top of the $1 the run spent before
    assert [worker.run.budget_usd for worker in workers] == [pytest.approx(2.0)] * 4
    assert {worker.run.executor for worker in workers} == {"local"}
    assert config.run.executor == "ray" and config.backend.max_concurrency == 64  # the driver's is untouched


def test_without_ray_or_with_batch_the_run_stops_before_creating_its_folder(
    ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_plugin_commands()
    arguments = ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "2", "--executor", "ray"]
    batch = CliRunner().invoke(cli, [*arguments, "--vendor-batch", "--out", str(tmp_path / "batch")])
    assert batch.exit_code == 1 and "does not combine with --vendor-batch" in batch.output
    monkeypatch.setitem(sys.modules, "ray", None)  # as on a machine without the extra
    missing = CliRunner().invoke(cli, [*arguments, "--out", str(tmp_path / "missing")])
    assert missing.exit_code == 1 and RAY_MISSING in missing.output
    assert not (tmp_path / "batch").exists() and not (tmp_path / "missing").exists()


def test_each_worker_calls_its_replica_of_base_urls() -> None:
    replicas = ["http://node-1:8000/v1", "http://node-2:8000/v1"]
    config = LusiferConfig.model_validate({"backend": {"name": "openai", "base_urls": replicas}})
    assert config.backend.base_url == replicas[0]  # a single process (and the driver's checks) uses the first
    assert [worker_config(config, index, 3, 0.0).backend.base_url for index in range(3)] == [*replicas, replicas[0]]
