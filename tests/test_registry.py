"""Typed registries: did-you-mean errors, duplicate names, plugin order, lifecycle events."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from lusifer import hookimpl
from lusifer.api.errors import NotFoundError, PluginError
from lusifer.api.exchange import Exchange
from lusifer.api.run_info import RunInfo, RunSummary
from lusifer.kernel import registry
from lusifer.kernel.plugins import get_plugin_manager


def _register(plugin: object, name: str) -> None:
    get_plugin_manager().register(plugin, name=name)
    registry.clear_registries()


def test_unknown_name_lists_installed_and_suggests_the_closest() -> None:
    with pytest.raises(NotFoundError) as caught:
        registry.get_validator("feedbak")
    message = str(caught.value)
    assert "Unknown validator 'feedbak'" in message
    assert "Did you mean 'feedback'?" in message
    assert "Installed: feedback, profile" in message


def test_two_plugins_registering_one_name_is_an_error_naming_both() -> None:
    from lusifer.engine.validation import ProfileValidator

    class Twin:
        @hookimpl
        def register_validators(self, register):
            register(ProfileValidator())

    _register(Twin(), "twin-plugin")
    with pytest.raises(PluginError) as caught:
        registry.validators()
    assert "'lusifer.validators'" in str(caught.value) and "'twin-plugin'" in str(caught.value)


def test_registries_are_built_once_per_process() -> None:
    assert registry.validators() is registry.validators()


def test_plugin_templates_take_priority_over_builtin(tmp_path) -> None:
    class Templates:
        @hookimpl
        def register_prompt_templates(self, register):
            register(tmp_path)

    _register(Templates(), "templates-plugin")
    entries = registry.template_dirs()
    plugins = [entry.plugin for entry in entries]  # installed plugin packages may add folders too
    assert entries[plugins.index("templates-plugin")].obj == tmp_path
    assert plugins.index("templates-plugin") < plugins.index("lusifer.templates") == len(plugins) - 1


def test_plugin_settings_sections_are_validated() -> None:
    from lusifer.api.errors import ConfigError
    from lusifer.kernel.settings import load_config

    class NewsSettings(BaseModel, extra="forbid"):
        impressions: int = 5

    class Settings:
        @hookimpl
        def register_settings(self, register):
            register("news", NewsSettings)

    _register(Settings(), "news-settings")
    config = load_config(overrides={"plugins": {"news": {"impressions": 7}}}, environ={})
    assert config.plugin_settings("news").impressions == 7
    assert load_config(environ={}).plugin_settings("news").impressions == 5
    with pytest.raises(ConfigError, match="impresions"):
        load_config(overrides={"plugins": {"news": {"impresions": 7}}}, environ={})
    with pytest.raises(NotFoundError, match="Unknown settings section 'music'"):
        load_config(overrides={"plugins": {"music": {"volume": 1}}}, environ={})


def test_lifecycle_events_reach_every_implementation(tmp_path) -> None:
    seen: list[str] = []

    class Tracker:
        @hookimpl
        def run_started(self, run):
            seen.append(f"start {run.run_id}")

        @hookimpl
        def exchange_recorded(self, exchange):
            seen.append(f"exchange {exchange.task}")

        @hookimpl
        def run_finished(self, run, summary):
            seen.append(f"end {summary.users_done}")

    _register(Tracker(), "tracker")
    run = RunInfo("r1", tmp_path, {}, 0)
    registry.emit_run_started(run)
    registry.emit_exchange_recorded(Exchange("feedback", "offline", "m", [], {}, "key"))
    registry.emit_run_finished(run, RunSummary(users_done=3))
    assert seen == ["start r1", "exchange feedback", "end 3"]
