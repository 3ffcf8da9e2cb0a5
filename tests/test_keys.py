"""API keys: 0600 storage, lookup order, and never shown."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands
from lusifer.errors import KeyMissingError
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
