"""A throwaway virtualenv that reuses this environment's third-party packages, for install tests.

The virtualenv has no pip of its own: a ``.pth`` file names a folder of links to everything in the
current site-packages except Lusifer and its plugins, so nothing is downloaded and Lusifer and the
plugin under test are installed into it with ``pip install --no-deps --no-build-isolation``.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

PIP_INSTALL = ("-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps", "--no-build-isolation")


def make_virtualenv(root: Path) -> Path:
    """Create ``root/venv``; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    shared = root / "shared-packages"
    shared.mkdir()
    for packages in map(Path, site.getsitepackages()):
        for entry in packages.iterdir():
            if "lusifer" not in entry.name.lower() and not (shared / entry.name).exists():
                (shared / entry.name).symlink_to(entry)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "shared-packages.pth").write_text(f"{shared}\n", encoding="utf-8")
    return python


def venv_environment(python: Path, home: Path) -> dict[str, str]:
    """Environment variables for commands in the virtualenv: its ``bin`` first, Lusifer's dirs in ``home``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("LUSIFER_", "PYTHON"))}
    environment.pop("VIRTUAL_ENV", None)
    environment.update(
        PATH=f"{python.parent}{os.pathsep}{environment.get('PATH', '')}",
        VIRTUAL_ENV=str(python.parent.parent),
        LUSIFER_HOME=str(home),
        LUSIFER_DATA_DIR=str(home / "data"),
    )
    return environment


def run_in(python: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python *arguments`` in ``cwd`` with Lusifer's user folder under ``cwd/.lusifer``."""
    return subprocess.run(
        [str(python), *arguments],
        capture_output=True,
        text=True,
        env=venv_environment(python, cwd / ".lusifer"),
        cwd=cwd,
        timeout=300,
    )
