"""Plugin *distributions* found through their entry points extend Lusifer without any change to core code.

The throwaway plugins are distributions on ``PYTHONPATH`` (a module and its ``*.dist-info``), so nothing
is pip-installed into this interpreter; real installs are tested in a throwaway virtualenv
(``test_scaffold.py``, ``test_plugin_tutorial.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOY_PLUGIN = '''
"""A toy domain and backend, registered through the lusifer entry-point group."""
import json

from lusifer import hookimpl
from lusifer.api.backend import Backend, LLMResponse
from lusifer.api.domain import CLICK, Dataset, Domain, Split


class ToyDomain(Domain):
    name = "toy"
    description = "Three users, three items"
    scale = CLICK
    datasets = ("toy-3",)

    def load(self, dataset, config):
        import pandas as pd

        users = pd.DataFrame({"user_info": ["", "", ""]}, index=pd.Index([1, 2, 3], name="user_id"))
        items = pd.DataFrame(
            {"title": ["a", "b", "c"], "item_info": ["A.", "B.", "C."], "has_text": [True] * 3},
            index=pd.Index([10, 20, 30], name="item_id"),
        )
        ratings = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [10, 20, 30], "rating": [1, 0, 1],
                                "timestamp": [1, 2, 3]})
        return Dataset("toy-3", users, items, ratings)

    def split(self, data, fold, seed):
        return Split("all", data.ratings, data.ratings)


class EchoBackend(Backend):
    name = "echo"
    description = "Answers every feedback request with 1"

    async def acomplete(self, request):
        ids = request.context.item_ids if request.task == "feedback" else []
        return LLMResponse(json.dumps({"ratings": {i: 1 for i in ids}}), "echo")


@hookimpl
def register_domains(register):
    register(ToyDomain())


@hookimpl
def register_backends(register):
    register(EchoBackend)


@hookimpl
def register_evaluators(register):
    from lusifer.api.evaluator import Evaluator

    register(Evaluator("toy_hits", lambda truth, predicted: float((truth == predicted).sum()), kinds=("binary",)))


@hookimpl
def register_commands(cli):
    import click

    @cli.command(name="toy-hello")
    def toy_hello():
        """Say hello from the toy plugin."""
        click.echo("hello from toy")
'''

BROKEN_PLUGIN = """
raise RuntimeError("this plugin is broken on purpose")
"""

MISSPELLED_PLUGIN = """
from lusifer import hookimpl


@hookimpl
def register_domain(register):
    pass
"""


def _distribution(root: Path, name: str, source: str) -> None:
    """Plugin ``name`` as an installed distribution would look on ``sys.path``: its module and a
    ``*.dist-info`` folder whose ``entry_points.txt`` names it in the ``lusifer`` group."""
    module = f"lusifer_plugin_{name}"
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"lusifer_plugin_{name}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: lusifer-plugin-{name}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[lusifer]\n{name} = {module}\n")


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A folder holding three plugin distributions, found through ``PYTHONPATH`` by the commands below:
    nothing is installed into this interpreter."""
    root = tmp_path_factory.mktemp("plugins")
    for name, source in (("toy", TOY_PLUGIN), ("broken", BROKEN_PLUGIN), ("misspelled", MISSPELLED_PLUGIN)):
        _distribution(root, name, source)
    return str(root)


def _environment(plugin_path: str, **env: str) -> dict[str, str]:
    path = os.pathsep.join(part for part in (plugin_path, os.environ.get("PYTHONPATH")) if part)
    return {**os.environ, "PYTHONPATH": path, **env}


def _lusifer(plugin_path: str, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lusifer", *arguments],
        capture_output=True,
        text=True,
        env=_environment(plugin_path, **env),
        timeout=120,
    )


def test_plugins_are_not_installed_into_this_interpreter(plugin_path: str) -> None:
    from importlib.metadata import PackageNotFoundError, distribution

    with pytest.raises(PackageNotFoundError):
        distribution("lusifer-plugin-toy")


def test_installed_plugin_appears_and_broken_ones_only_warn(plugin_path: str) -> None:
    result = _lusifer(plugin_path, "plugins")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    toy = next(plugin for plugin in listing["plugins"] if plugin["name"] == "toy")
    assert toy["package"] == "lusifer-plugin-toy" and toy["version"] == "0.0.1"
    assert toy["registered"] == {"domains": ["toy"], "backends": ["echo"], "evaluators": ["toy_hits"]}
    assert "register_commands" in toy["hooks"]
    failed = {failure["name"]: failure["error"] for failure in listing["failed"]}
    assert "this plugin is broken on purpose" in failed["broken"]
    assert "did you mean 'register_domains'" in failed["misspelled"]
    assert "LUSIFER_DISABLE_PLUGINS=broken" in result.stderr
    domains = _lusifer(plugin_path, "domains")
    assert domains.returncode == 0 and "toy" in domains.stdout and "binary 0..1" in domains.stdout
    hello = _lusifer(plugin_path, "toy-hello")
    assert hello.returncode == 0 and hello.stdout.strip() == "hello from toy"


def test_installed_plugin_is_usable_by_name(plugin_path: str) -> None:
    script = (
        "from lusifer.kernel.registry import get_domain, get_backend\n"
        "from lusifer.api.settings import DataConfig\n"
        "data = get_domain('toy').load('toy-3', DataConfig())\n"
        "print(len(data.ratings), get_backend('echo').name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=_environment(plugin_path, LUSIFER_DISABLE_PLUGINS="broken,misspelled"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "echo"]
    assert "warning" not in result.stderr


def test_allow_and_deny_lists(plugin_path: str) -> None:
    none = json.loads(_lusifer(plugin_path, "plugins", LUSIFER_LOAD_PLUGINS="").stdout)
    assert all(plugin["builtin"] for plugin in none["plugins"]) and none["failed"] == []
    only_toy = json.loads(_lusifer(plugin_path, "plugins", LUSIFER_LOAD_PLUGINS="toy").stdout)
    assert [plugin["name"] for plugin in only_toy["plugins"] if not plugin["builtin"]] == ["toy"]
    denied = json.loads(_lusifer(plugin_path, "plugins", LUSIFER_DISABLE_PLUGINS="toy,broken,misspelled").stdout)
    loaded = {plugin["name"] for plugin in denied["plugins"]}  # other installed plugins may load too
    assert not loaded & {"toy", "broken", "misspelled"} and denied["failed"] == []


def test_strict_mode_turns_a_broken_plugin_into_an_error(plugin_path: str) -> None:
    result = _lusifer(plugin_path, "plugins", LUSIFER_STRICT_PLUGINS="1", LUSIFER_LOAD_PLUGINS="broken")
    assert result.returncode != 0
    assert "plugin 'broken' failed to load" in result.stderr
    assert "Traceback" not in result.stderr


def test_trace_prints_hook_calls(plugin_path: str) -> None:
    result = _lusifer(plugin_path, "domains", LUSIFER_TRACE_PLUGINS="1", LUSIFER_LOAD_PLUGINS="toy")
    assert "register_domains: plugin 'toy' registered domain 'toy'" in result.stderr
