"""docs/plugins/tutorial.md, replayed: its files are written as shown and its commands run in order in a
fresh virtualenv, from an empty folder to ``lusifer run --domain books`` and the Gymnasium id.

The only change to the commands: ``python -m pip install`` gets ``--no-deps --no-build-isolation``, so
the replay installs from what this environment already has instead of downloading.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from venv_helpers import PIP_INSTALL, make_virtualenv, run_in, venv_environment

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = REPO / "docs" / "plugins" / "tutorial.md"
BLOCK = re.compile(r"^```(\w+)(?: file=(\S+))?\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def tutorial_steps() -> list[tuple[str, str | None, str]]:
    """``(language, file or None, text)`` of every fenced block, in page order."""
    return [(match[1], match[2], match[3]) for match in BLOCK.finditer(TUTORIAL.read_text(encoding="utf-8"))]


def test_every_file_is_complete_python_or_data_and_every_step_ends_with_a_command() -> None:
    steps = tutorial_steps()
    files = [path for _, path, _ in steps if path]
    assert {"pyproject.toml", "lusifer_plugin_books/__init__.py", "lusifer_plugin_books/domain.py"} <= set(files)
    for language, path, text in steps:
        if language == "python":
            compile(text, path or "<snippet>", "exec")  # whole files, imports included
    assert steps[-1][0] == "bash" and "lusifer/Books-v0" in steps[-1][2]
    sections = TUTORIAL.read_text(encoding="utf-8").split("\n## ")[1:]
    assert all("```bash" in section for section in sections), "every step ends with a command to run"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout and shell")
def test_tutorial_replayed_from_an_empty_folder(tmp_path: Path) -> None:
    python = make_virtualenv(tmp_path)
    installed = run_in(python, *PIP_INSTALL, "-e", str(REPO), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    folder = tmp_path / "lusifer-plugin-books"
    folder.mkdir()
    environment = venv_environment(python, tmp_path / "home")
    started = time.perf_counter()
    outputs = []
    for language, path, text in tutorial_steps():
        if path is not None:
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        elif language == "bash":
            script = text.replace("python -m pip install", "python " + " ".join(PIP_INSTALL))
            result = subprocess.run(
                ["bash", "-e", "-c", script], cwd=folder, env=environment, capture_output=True, text=True, timeout=300
            )
            assert result.returncode == 0, f"{text}\n{result.stdout}\n{result.stderr}"
            outputs.append(result.stdout)
    print(f"tutorial commands took {time.perf_counter() - started:.0f} s")
    domains, info, check, tests, run, spec = outputs
    assert "books        rating 1..10  datasets: books-small  [books]" in domains
    assert "books-small" in info
    assert "ok    domain books:" in check and "FAIL" not in check
    assert " passed" in tests
    assert "users 5 done / 0 failed" in run and (folder / "runs/books/evaluation/report.md").is_file()
    assert spec.splitlines()[0] == "lusifer/Books-v0" and spec.splitlines()[1].startswith("reward ")
