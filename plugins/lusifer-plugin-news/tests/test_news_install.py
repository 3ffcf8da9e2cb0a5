"""From a fresh virtualenv: installing core plus this plugin with pip adds the domain and runs it end to
end; uninstalling removes it. Core's own tests run without any plugin installed in ``.ci/run``.

The virtualenv reuses the test environment's third-party packages (everything in its site-packages
except Lusifer and its plugins, linked into a folder named by a ``.pth`` file), so nothing is
downloaded; core and the plugin are installed into it by its own ``pip`` with ``--no-deps``.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from news_fixtures import write_mind

PLUGIN = Path(__file__).resolve().parents[1]
REPO = PLUGIN.parents[1]

pytestmark = pytest.mark.slow


def _virtualenv(root: Path) -> Path:
    """A venv without pip whose ``.pth`` exposes the current third-party packages, minus Lusifer's."""
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


def _run(python: Path, *arguments: str, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("LUSIFER_", "PYTHON"))}
    environment.update(LUSIFER_HOME=str(home), LUSIFER_DATA_DIR=str(home / "data"))
    return subprocess.run(
        [str(python), *arguments], capture_output=True, text=True, env=environment, cwd=home, timeout=300
    )


def _pip(python: Path, *arguments: str, home: Path) -> None:
    result = _run(python, "-m", "pip", "--disable-pip-version-check", "-q", *arguments, home=home)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not (REPO / "lusifer" / "__init__.py").is_file(), reason="needs the Lusifer source tree")
@pytest.mark.skipif(sysconfig.get_platform().startswith("win"), reason="POSIX venv layout")
def test_pip_install_adds_the_domain_and_uninstall_removes_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    python = _virtualenv(tmp_path)
    lusifer = ("-m", "lusifer")
    _pip(python, "install", "--no-deps", "--no-build-isolation", "-e", str(REPO), home=home)
    assert "news" not in _run(python, *lusifer, "domains", home=home).stdout

    source = shutil.copytree(PLUGIN, tmp_path / PLUGIN.name, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    _pip(python, "install", "--no-deps", "--no-build-isolation", str(source), home=home)
    domains = _run(python, *lusifer, "domains", home=home)
    assert domains.returncode == 0 and "news" in domains.stdout and "binary 0..1" in domains.stdout
    mind = write_mind(home / "mind")
    run = _run(
        python, *lusifer, "run", "--domain", "news", "--dataset", "mind-small", "--data-dir", str(mind),
        "--backend", "offline", "--users", "3", "--out", "run", "--no-progress", home=home,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "users 3 done / 0 failed" in run.stdout
    evaluation = _run(python, *lusifer, "evaluate", "run", "--bootstrap", "10", "--no-baselines", home=home)
    assert evaluation.returncode == 0, evaluation.stderr
    assert "auc" in evaluation.stdout

    _pip(python, "uninstall", "-y", "lusifer-plugin-news", home=home)
    assert "news" not in _run(python, *lusifer, "domains", home=home).stdout
    gone = _run(python, *lusifer, "run", "--domain", "news", "--dataset", "mind-small", home=home)
    assert gone.returncode != 0 and "Unknown domain 'news'" in gone.stderr
