"""The simulator through the real OpenAI SDK against a faulty fake server: nothing lost, nothing invented."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from simulation_fakes import (
    ScriptedModel,
    fenced_strings,
    intended_rating,
    malformed,
    missing_two,
    out_of_range,
)

from lusifer.cli import cli, load_plugin_commands
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply

SECRET = "sk-test-SECRET-5d1f0c9e"


def _run_args(ml100k: Path, server: FakeOpenAIServer, out: Path, users: int) -> list[str]:
    return [
        "run",
        "--no-progress",
        "--data-dir",
        str(ml100k),
        "--users",
        str(users),
        "--out",
        str(out),
        "--backend",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--base-url",
        server.base_url,
        "--history",
        "20",
    ]


def test_faults_end_with_intended_ratings_or_recorded_failures(ml100k: Path, tmp_path: Path) -> None:
    model = ScriptedModel(
        faults={1: malformed, 2: missing_two, 3: out_of_range, 4: fenced_strings}, never_answer={"50"}
    )
    with FakeOpenAIServer(model) as server:
        server.inject(
            FakeReply(status=429, headers={"Retry-After": "0.05"}),
            FakeReply(status=500, headers={"Retry-After": "0.05"}),
            FakeReply(status=503, headers={"Retry-After": "0.05"}),
        )
        load_plugin_commands()
        result = CliRunner().invoke(cli, [*_run_args(ml100k, server, tmp_path / "run", 8), "--key", SECRET])
    ratings = pd.read_csv(tmp_path / "run" / "ratings.csv", dtype={"item_id": str})
    failures = pd.read_csv(tmp_path / "run" / "failures.csv", dtype={"item_id": str})
    rated = ratings.dropna(subset=["simulated_rating"])
    assert len(rated) + len(failures) == len(ratings) == 80
    assert all(rated["simulated_rating"] == rated["item_id"].map(intended_rating))
    assert list(failures["item_id"]) == ["50", "50", "50"]  # users 2, 4 and 8 get item 50, never answered
    assert all("missing from the answer" in reason for reason in failures["reason"])
    assert result.exit_code == 1 and "rerun the same command" in result.output
    exchanges = RunStore(tmp_path / "run").exchanges()
    assert any("removed text around the JSON object" in e["repairs"] or e["problems"] for e in exchanges)


def test_key_never_reaches_files_or_output(ml100k: Path, tmp_path: Path, isolated_user_dir: Path) -> None:
    load_plugin_commands()
    runner = CliRunner()
    assert runner.invoke(cli, ["keys", "set", "openai"], input=SECRET + "\n").exit_code == 0
    with FakeOpenAIServer(ScriptedModel(never_answer={"50"})) as server:
        server.inject(*[FakeReply(status=401)] * 2)  # the first try and the final re-ask pass
        failing = runner.invoke(cli, _run_args(ml100k, server, tmp_path / "failing", 1))
        result = runner.invoke(cli, _run_args(ml100k, server, tmp_path / "run", 3))
        sent = [{name.lower(): value for name, value in request.headers.items()} for request in server.requests]
        assert all(headers["authorization"] == "Bearer [REDACTED]" for headers in sent)
    assert failing.exit_code == 1
    outputs = failing.output + result.output
    assert SECRET not in outputs
    written = [path for folder in (tmp_path, isolated_user_dir) for path in folder.rglob("*") if path.is_file()]
    assert any(path.name == "cache.sqlite" for path in written) and any(path.name == "run.sqlite" for path in written)
    leaking = [path for path in written if SECRET.encode() in path.read_bytes() and path.name != "keys.json"]
    assert leaking == []


def _lusifer_process(arguments: list[str], home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "LUSIFER_HOME": str(home), "LUSIFER_DATA_DIR": str(home / "data")}
    return subprocess.Popen(
        [sys.executable, "-m", "lusifer", *arguments, "--key", SECRET, "--concurrency", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_sigkill_then_resume_repeats_no_completed_call(ml100k: Path, tmp_path: Path) -> None:
    users = 12
    with FakeOpenAIServer(ScriptedModel(), latency=0.03) as server:
        killed = _lusifer_process(_run_args(ml100k, server, tmp_path / "run", users), tmp_path / "home")
        deadline = time.monotonic() + 60
        while len(server.requests) < 25 and time.monotonic() < deadline and killed.poll() is None:
            time.sleep(0.01)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        before_kill = len(server.requests)
        resumed = _lusifer_process(_run_args(ml100k, server, tmp_path / "run", users), tmp_path / "home")
        assert resumed.wait(timeout=120) == 0, resumed.stderr.read() if resumed.stderr else ""
        interrupted_bodies = [str(request.json) for request in server.requests]
    with FakeOpenAIServer(ScriptedModel(), latency=0.0) as server:
        clean = _lusifer_process(_run_args(ml100k, server, tmp_path / "clean", users), tmp_path / "clean-home")
        assert clean.wait(timeout=120) == 0
        clean_bodies = [str(request.json) for request in server.requests]
    assert 25 <= before_kill < len(clean_bodies)
    repeated = len(interrupted_bodies) - len(set(interrupted_bodies))
    assert repeated <= 2  # at most the calls in flight when the process died (concurrency 2)
    assert sorted(set(interrupted_bodies)) == sorted(clean_bodies)
    for name in ("ratings.csv", "profiles.jsonl", "history.csv"):
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name


def test_a_request_cut_off_mid_body_is_not_recorded() -> None:
    """A client killed while sending its body left a request the server never received (the resume test counts them)."""
    with FakeOpenAIServer(ScriptedModel()) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as connection:
            connection.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"model": "gpt'
            )
        deadline = time.monotonic() + 2  # the old server recorded the request within milliseconds
        while time.monotonic() < deadline and not server.requests:
            time.sleep(0.05)
        assert server.requests == []
