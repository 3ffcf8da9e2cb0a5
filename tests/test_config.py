"""Layered configuration: defaults < lusifer.toml < LUSIFER_* < CLI flags; unknown keys rejected."""

from __future__ import annotations

import pytest

from lusifer.api.errors import ConfigError
from lusifer.config import env_overrides
from lusifer.kernel.settings import load_config


def test_layers_override_in_order(tmp_path, monkeypatch) -> None:
    config_file = tmp_path / "lusifer.toml"
    config_file.write_text('seed = 1\n[backend]\nname = "openai"\nmodel = "from-file"\ntemperature = 0.5\n')
    environ = {"LUSIFER_BACKEND__MODEL": "from-env", "LUSIFER_SEED": "2"}
    config = load_config(config_file, {"seed": 3, "backend": {"name": None}}, environ)
    assert config.backend.name == "openai"  # a None flag does not mask the file
    assert config.backend.model == "from-env"
    assert config.backend.temperature == 0.5
    assert config.seed == 3
    monkeypatch.chdir(tmp_path)
    assert load_config(environ={}).backend.model == "from-file"  # ./lusifer.toml is read by default


def test_defaults_without_any_layer(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert (config.domain, config.dataset, config.backend.name) == ("movies", "ml-100k", "offline")
    assert (config.data.history, config.data.profile_step_size, config.data.context_items) == (40, 10, 10)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("[backend]\nmodle = 'x'\n", "backend.modle"), ("colour = 1\n", "colour"), ("[data]\nhistory = 0\n", "history")],
)
def test_bad_files_are_one_clear_error(tmp_path, text, problem) -> None:
    config_file = tmp_path / "bad.toml"
    config_file.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_config(config_file, environ={})


def test_unreadable_files_name_the_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[backend\n")
    with pytest.raises(ConfigError, match="broken.toml is not valid TOML"):
        load_config(broken, environ={})


def test_process_switches_are_not_config_keys() -> None:
    environ = {"LUSIFER_DEBUG": "1", "LUSIFER_DATA_DIR": "/x", "LUSIFER_RUN__USER_IDS": '["1", "2"]', "HOME": "/"}
    assert env_overrides(environ) == {"run": {"user_ids": ["1", "2"]}}
