"""With stderr not a terminal, a run prints plain progress lines for its log (issue 19, item 4)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path


def test_run_writes_progress_lines_when_stderr_is_a_pipe(ml100k: Path, tmp_path: Path) -> None:
    environment = {**os.environ, "LUSIFER_PROGRESS_INTERVAL": "0"}
    command = [sys.executable, "-m", "lusifer", "run", "--data-dir", str(ml100k), "--users", "3"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "run")], env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("lusifer: progress")]
    assert lines and "users 3/3" in lines[-1]
    assert all(part in lines[-1] for part in ("calls/s", "tokens", "$", "failed calls", "ETA"))


def test_live_bar_shows_the_run_directory_retries_and_failures(tmp_path: Path) -> None:
    from rich.console import Console

    from lusifer.api.exchange import Exchange
    from lusifer.runs.progress import RunProgress

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=220, color_system=None)
    progress = RunProgress(enabled=True, out=tmp_path / "run-42", console=console)
    progress.start(total=2, done=0)
    progress.exchange(
        Exchange(task="feedback", backend="openai", model="m", messages=[], parameters={}, cache_key="k", attempts=3)
    )
    progress.exchange(
        Exchange(
            task="feedback",
            backend="openai",
            model="m",
            messages=[],
            parameters={},
            cache_key="k",
            attempts=2,
            error="boom",
        )
    )
    progress.user_finished()
    progress.stop()
    drawn = screen.getvalue()
    assert str(tmp_path / "run-42") in drawn and "1/2" in drawn
    assert "3 retries" in drawn and "1 failed calls" in drawn


def test_evaluate_reports_its_stages_and_the_bootstrap(ml100k: Path, tmp_path: Path) -> None:
    environment = {**os.environ, "LUSIFER_PROGRESS_INTERVAL": "0"}
    run = tmp_path / "run"
    command = [sys.executable, "-m", "lusifer", "run", "--data-dir", str(ml100k), "--users", "3", "--out", str(run)]
    assert subprocess.run(command, env=environment, capture_output=True, timeout=300).returncode == 0
    evaluate = [sys.executable, "-m", "lusifer", "evaluate", str(run), "--bootstrap", "20"]
    done = subprocess.run(evaluate, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("lusifer: evaluate: ")]
    stages = [line.split(": ")[2] for line in lines]
    assert stages.index("baselines") < stages.index("calibration") < stages.index("bootstrap")
    assert any("bootstrap: 1/" in line and "20 resamples" in line for line in lines)
    assert lines[-1].split("bootstrap: ")[1].split(" ")[0].split("/")[0] == lines[-1].split("/")[1].split(" ")[0]
