"""Throwaway plugin *packages* installed with pip extend Lusifer without any change to core code."""

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
        ids = request.context.get("item_ids", [])
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


def _package(root: Path, name: str, source: str) -> Path:
    module = f"lusifer_plugin_{name}"
    folder = root / f"lusifer-plugin-{name}"
    folder.mkdir()
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=77"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "lusifer-plugin-{name}"
            version = "0.0.1"

            [tool.setuptools]
            py-modules = ["{module}"]

            [project.entry-points.lusifer]
            {name} = "{module}"
            """
        )
    )
    return folder


def _pip(*arguments: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *arguments],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("plugins")
    packages = [
        _package(root, name, source)
        for name, source in (("toy", TOY_PLUGIN), ("broken", BROKEN_PLUGIN), ("misspelled", MISSPELLED_PLUGIN))
    ]
    _pip("install", "--no-deps", "--no-build-isolation", *map(str, packages))
    yield
    _pip("uninstall", "-y", "lusifer-plugin-toy", "lusifer-plugin-broken", "lusifer-plugin-misspelled")


def _lusifer(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "lusifer", *arguments], capture_output=True, text=True, env=environment, timeout=120
    )


def test_installed_plugin_appears_and_broken_ones_only_warn(installed_plugins: None) -> None:
    result = _lusifer("plugins")
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
    domains = _lusifer("domains")
    assert domains.returncode == 0 and "toy" in domains.stdout and "binary 0..1" in domains.stdout
    hello = _lusifer("toy-hello")
    assert hello.returncode == 0 and hello.stdout.strip() == "hello from toy"


def test_installed_plugin_is_usable_by_name(installed_plugins: None) -> None:
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
        env={**os.environ, "LUSIFER_DISABLE_PLUGINS": "broken,misspelled"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "echo"]
    assert "warning" not in result.stderr


def test_allow_and_deny_lists(installed_plugins: None) -> None:
    none = json.loads(_lusifer("plugins", LUSIFER_LOAD_PLUGINS="").stdout)
    assert all(plugin["builtin"] for plugin in none["plugins"]) and none["failed"] == []
    only_toy = json.loads(_lusifer("plugins", LUSIFER_LOAD_PLUGINS="toy").stdout)
    assert [plugin["name"] for plugin in only_toy["plugins"] if not plugin["builtin"]] == ["toy"]
    denied = json.loads(_lusifer("plugins", LUSIFER_DISABLE_PLUGINS="toy,broken,misspelled").stdout)
    loaded = {plugin["name"] for plugin in denied["plugins"]}  # other installed plugins may load too
    assert not loaded & {"toy", "broken", "misspelled"} and denied["failed"] == []


def test_strict_mode_turns_a_broken_plugin_into_an_error(installed_plugins: None) -> None:
    result = _lusifer("plugins", LUSIFER_STRICT_PLUGINS="1", LUSIFER_LOAD_PLUGINS="broken")
    assert result.returncode != 0
    assert "plugin 'broken' failed to load" in result.stderr
    assert "Traceback" not in result.stderr


def test_trace_prints_hook_calls(installed_plugins: None) -> None:
    result = _lusifer("domains", LUSIFER_TRACE_PLUGINS="1", LUSIFER_LOAD_PLUGINS="toy")
    assert "register_domains: plugin 'toy' registered domain 'toy'" in result.stderr
