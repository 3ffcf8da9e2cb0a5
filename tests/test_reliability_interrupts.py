"""The interrupt matrix: a run killed or stopped at any moment resumes to exactly the uninterrupted outputs.

Each case runs ``python -m lusifer run`` through the real OpenAI SDK against a fake server, interrupts
it (SIGKILL at several moments, including while it writes its exports; SIGINT; SIGTERM; a second
process on the same ``--out``), reruns the same command, and compares the exports byte for byte with
an uninterrupted run. Calls asked twice must be at most the calls that were in flight (2 users at once,
one call each). The matrix is summarised in docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from simulation_fakes import ScriptedModel

from conftest import ML_100K
from lusifer.testing.fake_servers import FakeOpenAIServer

pytestmark = pytest.mark.slow

USERS = 12
CONCURRENCY = 2
EXPORTS = ("ratings.csv", "failures.csv", "profiles.jsonl", "history.csv")
EXPORT_TEMPORARIES = tuple(f".{name}." for name in (*EXPORTS, "ratings.parquet", "profiles.parquet"))


def arguments(server: FakeOpenAIServer, out: Path) -> list[str]:
    return [
        "run", "--no-progress", "--data-dir", str(ML_100K), "--users", str(USERS), "--out", str(out),
        "--backend", "openai", "--model", "gpt-4o-mini", "--base-url", server.base_url, "--history", "20",
        "--key", "sk-test-interrupts", "--concurrency", str(CONCURRENCY),
    ]  # fmt: skip


def start(server: FakeOpenAIServer, out: Path, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "LUSIFER_HOME": str(home), "LUSIFER_DATA_DIR": str(home / "data")}
    return subprocess.Popen(
        [sys.executable, "-m", "lusifer", *arguments(server, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """An uninterrupted run: its folder and the request bodies it sent."""
    if not (ML_100K / "u.data").exists():
        pytest.skip(f"shared MovieLens 100K not found at {ML_100K}")
    folder = tmp_path_factory.mktemp("clean")
    with FakeOpenAIServer(ScriptedModel()) as server:
        process = start(server, folder / "run", folder / "home")
        assert process.wait(timeout=120) == 0, process.communicate()[1]
        return folder / "run", [str(request.json) for request in server.requests]


def after_requests(count: int) -> Callable[[FakeOpenAIServer, Path], bool]:
    return lambda server, out: len(server.requests) >= count


def during_export(server: FakeOpenAIServer, out: Path) -> bool:
    return out.is_dir() and any(name.startswith(EXPORT_TEMPORARIES) for name in os.listdir(out))


def store_created(server: FakeOpenAIServer, out: Path) -> bool:
    return (out / "run.sqlite").exists()


MOMENTS = {
    "SIGKILL before the first answer": (signal.SIGKILL, store_created),
    "SIGKILL during profiles": (signal.SIGKILL, after_requests(5)),
    "SIGKILL mid-run": (signal.SIGKILL, after_requests(18)),
    "SIGKILL during the last ratings": (signal.SIGKILL, after_requests(33)),
    "SIGKILL while writing exports": (signal.SIGKILL, during_export),
    "SIGINT mid-run": (signal.SIGINT, after_requests(18)),
    "SIGTERM mid-run": (signal.SIGTERM, after_requests(18)),
}


def interrupt(server: FakeOpenAIServer, out: Path, home: Path, signum: int, when: Callable) -> tuple[bool, str]:
    """Start a run, send ``signum`` once ``when`` holds; whether it was caught at that moment, and stderr."""
    process = start(server, out, home)
    deadline = time.monotonic() + 60
    while not when(server, out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    caught = process.poll() is None
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    return caught, stderr


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_interrupted_run_resumes_to_the_uninterrupted_outputs(
    moment: str, clean: tuple[Path, list[str]], tmp_path: Path
) -> None:
    clean_run, clean_bodies = clean
    signum, when = MOMENTS[moment]
    out, home = tmp_path / "run", tmp_path / "home"
    with FakeOpenAIServer(ScriptedModel(), latency=0.03) as server:
        for _attempt in range(5):  # the export lasts milliseconds: try again if the run ended first
            caught, stderr = interrupt(server, out, home, signum, when)
            if caught:
                break
            out.rename(tmp_path / f"missed-{_attempt}")
            server.requests.clear()
        assert caught, f"never caught the run at: {moment}"
        if signum == signal.SIGKILL:  # an export left behind is whole: the previous one or the finished one
            for name in EXPORTS:
                assert not (out / name).exists() or (out / name).read_bytes() == (clean_run / name).read_bytes(), name
        if signum in (signal.SIGINT, signal.SIGTERM):
            assert "Interrupted: kept" in stderr and "rerun the same command" in stderr, stderr
            assert "Traceback" not in stderr and (out / "summary.json").is_file()
        resumed = start(server, out, home)
        assert resumed.wait(timeout=120) == 0, resumed.communicate()[1]
        # a request cut off by the kill before its body arrived was never answered (nor paid for)
        bodies = [str(request.json) for request in server.requests if request.json is not None]
    assert sorted(set(bodies)) == sorted(set(clean_bodies))
    repeated = len(bodies) - len(set(bodies))
    assert repeated <= (0 if when is during_export else CONCURRENCY)  # asked twice: at most the calls in flight
    for name in EXPORTS:
        assert (out / name).read_bytes() == (clean_run / name).read_bytes(), name
    assert not [name for name in os.listdir(out) if name.endswith(".tmp")]


def test_a_second_process_on_the_same_out_is_refused_at_once(clean: tuple[Path, list[str]], tmp_path: Path) -> None:
    clean_run, _ = clean
    out, home = tmp_path / "run", tmp_path / "home"
    with FakeOpenAIServer(ScriptedModel(), latency=0.5) as server:  # slow enough to outlast a second start
        first = start(server, out, home)
        deadline = time.monotonic() + 60
        while len(server.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        second = start(server, out, tmp_path / "home-2")
        _, refusal = second.communicate(timeout=60)
        assert second.returncode == 1
        assert f"lock held by pid {first.pid} since" in refusal and "use another --out" in refusal, refusal
        assert first.wait(timeout=120) == 0
        bodies = [str(request.json) for request in server.requests]
    assert len(bodies) == len(set(bodies))  # nothing was paid twice
    for name in EXPORTS:
        assert (out / name).read_bytes() == (clean_run / name).read_bytes(), name
