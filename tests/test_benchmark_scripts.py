"""The benchmark scripts keep up with the package: each one imports, and the call-path one runs at a tiny size.

Benchmarks are run by hand (their figures live in docs/benchmarks.md), so nothing else would notice a
script left behind by a change of the API it drives.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("bench_*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.stem for script in SCRIPTS])
def test_a_benchmark_script_imports(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # scripts import their siblings, as when run from there
    namespace = runpy.run_path(str(script), run_name="benchmark_import_check")
    assert callable(namespace.get("main")) and namespace.get("__doc__"), "a benchmark has a docstring and a main()"


def test_the_call_path_benchmark_runs_at_a_tiny_size() -> None:
    arguments = ["--caps", "2", "--seconds", "0.2", "--latency", "0.01", "--clients", "lean"]
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_scale.py"), *arguments], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| 2 |")]
    assert len(rows) == 1 and int(rows[0][3]) > 0  # one row: C, client, calls, ... (429s vary with the load)
