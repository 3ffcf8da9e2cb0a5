"""``lusifer plugin new``: every kind renders, installs with pip in a fresh virtualenv and passes its tests.

Lusifer itself is installed into the virtualenv from a freshly built wheel, so the scaffold runs from
the templates the wheel ships. The virtualenv reuses this environment's third-party packages (linked
into a folder named by a ``.pth`` file, Lusifer excluded), so nothing is downloaded.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner
from venv_helpers import PIP_INSTALL, make_virtualenv, run_in

from lusifer.cli import cli, load_plugin_commands
from lusifer.scaffold import KINDS, render_plugin

REPO = Path(__file__).resolve().parents[1]


def test_every_kind_renders_a_package_with_entry_point_tests_readme_and_workflow(tmp_path: Path) -> None:
    for kind in KINDS:
        target = render_plugin(f"my-{kind}", kind, tmp_path / kind)
        module = f"lusifer_plugin_my_{kind}"
        pyproject = (target / "pyproject.toml").read_text()
        assert f'my-{kind} = "{module}"' in pyproject and "[project.entry-points.lusifer]" in pyproject
        for path in ("README.md", ".github/workflows/test.yml", "tests/conftest.py", f"tests/test_{module}.py"):
            assert (target / path).is_file(), path
        compile((target / module / "__init__.py").read_text(), "__init__.py", "exec")


def test_bad_names_kinds_and_targets_are_one_line_errors(tmp_path: Path) -> None:
    load_plugin_commands()
    runner = CliRunner()
    bad_name = runner.invoke(cli, ["plugin", "new", "My Books", "--out", str(tmp_path / "x")])
    assert bad_name.exit_code == 1 and "use lowercase letters, digits and single hyphens" in bad_name.output
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("")
    taken = runner.invoke(cli, ["plugin", "new", "books", "--out", str(tmp_path / "taken")])
    assert taken.exit_code == 1 and "exists and is not empty" in taken.output
    bad_kind = runner.invoke(cli, ["plugin", "new", "books", "--kind", "widget"])
    assert bad_kind.exit_code == 2 and "'widget' is not one of" in bad_kind.output


@pytest.fixture(scope="module")
def scaffolds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A virtualenv with Lusifer from its wheel and one generated plugin of every kind installed."""
    if sysconfig.get_platform().startswith("win"):
        pytest.skip("POSIX venv layout")
    root = tmp_path_factory.mktemp("scaffold")
    python = make_virtualenv(root)
    wheels = root / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO), "-w", str(wheels)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("lusifer-*.whl"))
    installed = run_in(python, *PIP_INSTALL, str(wheel), cwd=root)
    assert installed.returncode == 0, installed.stderr
    for kind in KINDS:
        new = run_in(python, "-m", "lusifer", "plugin", "new", f"demo-{kind}", "--kind", kind, cwd=root)
        assert new.returncode == 0, new.stderr
        installed = run_in(python, *PIP_INSTALL, str(root / f"lusifer-plugin-demo-{kind}"), cwd=root)
        assert installed.returncode == 0, installed.stderr
    return python, root


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_generated_package_installs_and_its_own_tests_pass(scaffolds: tuple[Path, Path], kind: str) -> None:
    python, root = scaffolds
    package = root / f"lusifer-plugin-demo-{kind}"
    tests = run_in(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=package)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and "failed" not in tests.stdout
    check = run_in(python, "-m", "lusifer", "plugins", "check", f"demo-{kind}", cwd=root)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.startswith("ok    ") and "FAIL" not in check.stdout


@pytest.mark.slow
def test_generated_domain_runs_on_the_offline_backend(scaffolds: tuple[Path, Path]) -> None:
    python, root = scaffolds
    run = run_in(
        python, "-m", "lusifer", "run", "--domain", "demo-domain", "--users", "5", "--backend", "offline",
        "--out", "run", "--no-progress", cwd=root,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "users 5 done / 0 failed" in run.stdout
    spec = run_in(
        python, "-c", "import gymnasium, lusifer.envs; print(gymnasium.spec('lusifer/DemoDomain-v0').id)", cwd=root
    )
    assert spec.stdout.strip() == "lusifer/DemoDomain-v0", spec.stderr
