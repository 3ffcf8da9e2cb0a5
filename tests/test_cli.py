"""The command line: fast start-up, version, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from lusifer.api.version import __version__
from lusifer.cli import cli, load_plugin_commands

HEAVY = ("pandas", "openai", "anthropic", "surprise", "gymnasium", "matplotlib", "scipy", "httpx")


def test_help_imports_no_heavy_library() -> None:
    script = (
        "import sys\nfrom lusifer.cli import cli, load_plugin_commands\nload_plugin_commands()\n"
        "try:\n    cli.main(['--help'], prog_name='lusifer')\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "Commands:" in result.stdout and "run" in result.stdout
    assert result.stdout.strip().endswith("HEAVY []"), result.stdout


def test_version_and_module_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "lusifer", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and __version__ in result.stdout


def test_errors_are_one_line_without_traceback_unless_debug(tmp_path) -> None:
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["show", "user", "1", "--run", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "not a run directory" in result.output
    env = {**os.environ, "LUSIFER_DEBUG": "1"}
    debug = subprocess.run(
        [sys.executable, "-m", "lusifer", "show", "user", "1", "--run", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_plugins_lists_builtins_as_json() -> None:
    load_plugin_commands()
    listing = json.loads(CliRunner().invoke(cli, ["plugins"]).output)
    names = {plugin["name"] for plugin in listing["plugins"]}
    assert {"lusifer.validators", "lusifer.templates", "lusifer.commands"} <= names
