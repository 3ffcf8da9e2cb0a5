"""Without --out, the run directory follows the configuration, so rerunning resumes (issue 19, item 5)."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands


def _run(ml100k: Path, *extra: str):
    load_plugin_commands()
    return CliRunner().invoke(cli, ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "1", *extra])


def test_rerun_without_out_resumes_in_the_same_directory(ml100k: Path, tmp_path: Path) -> None:
    here = Path.cwd()
    os.chdir(tmp_path)
    try:
        first = _run(ml100k)
        second = _run(ml100k, "--concurrency", "2")  # a resumable setting: same directory
        other = _run(ml100k, "--test-items", "3")  # another run: another directory
    finally:
        os.chdir(here)
    assert first.exit_code == second.exit_code == other.exit_code == 0, first.output + other.output
    runs = sorted(path.name for path in (tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(name.startswith("movies-ml-100k-offline-") for name in runs)
    assert "calls 0," in second.output  # everything came from the stored run
