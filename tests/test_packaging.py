"""The prompts/ folder ships inside the wheel as `lusifer.prompts` and renders from an installed wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_prompts_and_renders_them(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(REPO),
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("lusifer-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for task in ("system", "profile", "profile_update", "feedback"):
        assert f"lusifer/prompts/movies/{task}.j2" in names
        assert f"lusifer/prompts/default/{task}.j2" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    script = (
        "import lusifer.prompts, pathlib\n"
        "from lusifer.engine.templates import template_environment, render\n"
        "print(pathlib.Path(lusifer.prompts.__file__).parent)\n"
        "print(render(template_environment(), 'movies', 'system', user_info='Age: 30'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert result.returncode == 0, result.stderr
    folder, text = result.stdout.split("\n", 1)
    assert Path(folder).is_relative_to(target)
    assert "About this person: Age: 30" in text
