"""With stderr not a terminal, a run prints plain progress lines for its log (issue 19, item 4)."""

from __future__ import annotations

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
