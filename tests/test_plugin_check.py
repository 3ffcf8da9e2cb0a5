"""``lusifer plugins check NAME`` runs the lusifer.testing contract checkers on what a plugin registered."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from plugin_fakes import Shelf

from lusifer import hookimpl
from lusifer.api.evaluator import Evaluator
from lusifer.cli import cli, load_plugin_commands
from lusifer.kernel import registry
from lusifer.kernel.plugins import get_plugin_manager


def _check(*args: str):
    load_plugin_commands()
    return CliRunner().invoke(cli, ["plugins", "check", *args])


def _install(plugin: object, name: str) -> None:
    get_plugin_manager().register(plugin, name=name)
    registry.clear_registries()


def test_a_good_plugin_passes_every_check(tmp_path, monkeypatch) -> None:
    _install(Shelf(), "shelf-plugin")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lusifer.toml").write_text("[plugins.shelf]\nusers = 4\n")  # the check honours the config
    result = _check("shelf-plugin")
    assert result.exit_code == 0, result.output
    assert "ok    domain shelf: shelf-6: 4 users, 6 items, 24 ratings; split all 16/8; prompts render" in result.output


def test_a_broken_evaluator_and_a_registration_error_fail_the_check() -> None:
    class Metrics:
        @hookimpl
        def register_evaluators(self, register):
            register(Evaluator("nan_blind", lambda y, p: float(np.mean(p - y)), kinds=("rating",)))

        @hookimpl
        def register_validators(self, register):
            register("not a validator")

    _install(Metrics(), "metrics-plugin")
    result = _check("metrics-plugin")
    assert result.exit_code == 1
    assert "FAIL  register_validators: register_validators passed the str 'not a validator'" in result.output
    assert "FAIL  evaluator nan_blind: AssertionError: nan_blind does not ignore rows with a NaN" in result.output


def test_backends_are_checked_without_a_call_unless_a_server_is_given() -> None:
    from lusifer.testing.fake_servers import FakeOpenAIServer

    result = _check("lusifer.backends")
    assert result.exit_code == 0, result.output
    assert "ok    backend openai: class ok (key 'openai', default model" in result.output
    with FakeOpenAIServer() as server:
        called = _check("lusifer.backends", "--base-url", server.base_url)
    assert "ok    backend openai: answered with model" in called.output


def test_an_unknown_plugin_is_a_one_line_error_with_a_suggestion() -> None:
    result = _check("lusifer.backend")
    assert result.exit_code == 1
    assert "Unknown plugin 'lusifer.backend'. Did you mean 'lusifer.backends'?" in result.output
