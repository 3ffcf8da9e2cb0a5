"""API keys: 0600 storage, lookup order, and never shown."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from lusifer.api.errors import KeyMissingError
from lusifer.cli import cli, load_plugin_commands
from lusifer.keys import find_key, keys_path, require_key, set_key


def test_stored_keys_are_private_and_looked_up_in_order(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert find_key("openai").get_secret_value() == "sk-env"
    set_key("openai", "sk-stored")
    assert stat.S_IMODE(keys_path().stat().st_mode) == 0o600
    assert find_key("openai").get_secret_value() == "sk-stored"
    assert find_key("openai", explicit="sk-explicit").get_secret_value() == "sk-explicit"
    assert "sk-stored" not in repr(find_key("openai")) and "sk-stored" not in str(find_key("openai"))


def test_missing_key_says_how_to_provide_it() -> None:
    with pytest.raises(KeyMissingError, match="lusifer keys set anthropic.*ANTHROPIC_API_KEY"):
        require_key("anthropic")


def test_keys_commands_never_print_values() -> None:
    load_plugin_commands()
    runner = CliRunner()
    result = runner.invoke(cli, ["keys", "set", "tmdb"], input="tmdb-secret-123\n")
    assert result.exit_code == 0, result.output
    assert "tmdb-secret-123" not in result.output
    listing = runner.invoke(cli, ["keys", "list"])
    assert listing.output.split() == ["tmdb"]
    assert runner.invoke(cli, ["keys", "path"]).output.strip() == str(keys_path())
    assert "tmdb-secret-123" not in runner.invoke(cli, ["run", "--help"]).output


def test_backends_declare_their_key_variables(monkeypatch) -> None:
    from lusifer import hookimpl
    from lusifer.api.backend import Backend, LLMResponse
    from lusifer.kernel import registry
    from lusifer.kernel.plugins import get_plugin_manager
    from lusifer.kernel.settings import load_config
    from lusifer.runs.backend_factory import create_backend

    class Vendor(Backend):
        name = "vendor"
        key_name = "vendor"
        key_env_variables = ("VENDOR_KEY", "VENDOR_FALLBACK_KEY")

        async def acomplete(self, request):
            return LLMResponse("{}", "vendor")

    class Plugin:
        @hookimpl
        def register_backends(self, register):
            register(Vendor)

    get_plugin_manager().register(Plugin(), name="vendor-plugin")
    registry.clear_registries()
    config = load_config(overrides={"backend": {"name": "vendor"}}, environ={})
    with pytest.raises(KeyMissingError, match="lusifer keys set vendor' or set VENDOR_KEY or VENDOR_FALLBACK_KEY"):
        create_backend(config)
    monkeypatch.setenv("VENDOR_FALLBACK_KEY", "vk-second")
    assert create_backend(config)._api_key.get_secret_value() == "vk-second"
    monkeypatch.setenv("VENDOR_KEY", "vk-first")
    assert create_backend(config)._api_key.get_secret_value() == "vk-first"
    assert create_backend(config, api_key="vk-explicit")._api_key.get_secret_value() == "vk-explicit"


def test_openai_needs_no_key_for_a_self_hosted_server() -> None:
    from lusifer.kernel.settings import load_config
    from lusifer.runs.backend_factory import create_backend

    with pytest.raises(KeyMissingError, match="OPENAI_API_KEY"):
        create_backend(load_config(overrides={"backend": {"name": "openai"}}, environ={}))
    keyless = load_config(overrides={"backend": {"name": "openai", "base_url": "http://127.0.0.1:9/v1"}}, environ={})
    assert create_backend(keyless)._api_key is None
