"""Renamed settings: profile_step_size, items_per_call and vendor_batch; the old names work with a warning
in every layer, and a run made under one name resumes under the other."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lusifer.api.errors import ConfigError
from lusifer.api.settings import RENAMED_KEYS
from lusifer.cli import cli, load_plugin_commands
from lusifer.cli.run import SIMULATION_FLAGS, simulation_config, simulation_options
from lusifer.kernel.settings import load_config
from lusifer.runs.run_dir import default_run_dir
from lusifer.runs.store import RunStore

OLD = {"data": {"profile_batch": 5}, "run": {"rating_batch": 3, "batch": True}}
NEW = {"data": {"profile_step_size": 5}, "run": {"items_per_call": 3, "vendor_batch": True}}


def _values(config: object) -> tuple[int, int, bool]:
    return config.data.profile_step_size, config.run.items_per_call, config.run.vendor_batch  # type: ignore[attr-defined]


def test_old_keys_in_a_file_the_environment_or_overrides_set_the_new_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    toml = tmp_path / "lusifer.toml"
    toml.write_text("[data]\nprofile_batch = 5\n[run]\nrating_batch = 3\nbatch = true\n")
    environ = {"LUSIFER_DATA__PROFILE_BATCH": "5", "LUSIFER_RUN__RATING_BATCH": "3", "LUSIFER_RUN__BATCH": "true"}
    with caplog.at_level(logging.WARNING, logger="lusifer.config"):
        assert _values(load_config(toml, environ={})) == (5, 3, True)
        assert _values(load_config(environ=environ)) == (5, 3, True)
        assert _values(load_config(overrides=OLD, environ={})) == (5, 3, True)
    messages = [record.getMessage() for record in caplog.records]
    assert f"{toml}: data.profile_batch is deprecated, use data.profile_step_size" in messages
    assert "environment: LUSIFER_RUN__RATING_BATCH is deprecated, use LUSIFER_RUN__ITEMS_PER_CALL" in messages
    assert "configuration: run.batch is deprecated, use run.vendor_batch" in messages
    assert len(messages) == 3 * len(RENAMED_KEYS) and all("\n" not in message for message in messages)


def test_a_higher_layer_wins_whichever_name_each_uses(tmp_path: Path) -> None:
    toml = tmp_path / "lusifer.toml"
    toml.write_text("[data]\nprofile_batch = 5\n")
    assert load_config(toml, {"data": {"profile_step_size": 7}}, environ={}).data.profile_step_size == 7
    assert load_config(toml, environ={"LUSIFER_DATA__PROFILE_STEP_SIZE": "6"}).data.profile_step_size == 6


def test_both_names_in_one_layer_is_an_error() -> None:
    with pytest.raises(ConfigError, match="data.profile_batch and data.profile_step_size are one setting"):
        load_config(overrides={"data": {"profile_batch": 5, "profile_step_size": 5}}, environ={})


def _flags(*arguments: str) -> dict[str, object]:
    """The options ``lusifer run`` would parse from ``arguments``."""
    import click

    parsed: dict[str, object] = {}

    @click.command()
    @simulation_options
    def command(**options: object) -> None:
        parsed.update(options)

    command.main(list(arguments), standalone_mode=False)
    return parsed


def test_old_flags_set_the_same_keys_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    new = simulation_config(_flags("--profile-step", "5", "--items-per-call", "3", "--vendor-batch"))
    assert capsys.readouterr().err == ""
    old = simulation_config(_flags("--batch-size", "5", "--rating-batch", "3", "--batch"))
    warnings = capsys.readouterr().err.splitlines()
    assert _values(old) == _values(new) == (5, 3, True) and default_run_dir(old) == default_run_dir(new)
    assert warnings == [
        "warning: --batch-size is deprecated, use --profile-step",
        "warning: --rating-batch is deprecated, use --items-per-call",
        "warning: --batch is deprecated, use --vendor-batch",
    ]


def test_old_and_new_flag_together_is_a_usage_error() -> None:
    import click

    with pytest.raises(click.UsageError, match="--batch-size and --profile-step are one setting"):
        simulation_config(_flags("--batch-size", "5", "--profile-step", "5"))


def test_every_flag_key_is_a_configuration_key() -> None:
    config = load_config(environ={}).model_dump()
    for flag, key in SIMULATION_FLAGS.items():
        section = config
        for part in key[:-1]:
            section = section[part]
        assert key[-1] in section, f"--{flag.replace('_', '-')} sets {'.'.join(key)}, which is no configuration key"


def _invoke(ml100k: Path, out: Path, *extra: str) -> Result:
    load_plugin_commands()
    arguments = ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "3", "--history", "8", "--out", str(out)]
    return CliRunner().invoke(cli, [*arguments, *extra])


def _run(ml100k: Path, out: Path, *extra: str) -> str:
    result = _invoke(ml100k, out, *extra)
    assert result.exit_code == 0, result.output
    return result.output


def test_runs_resume_across_old_and_new_names(ml100k: Path, tmp_path: Path) -> None:
    new_flags = ("--profile-step", "4", "--items-per-call", "3")
    old_flags = ("--batch-size", "4", "--rating-batch", "3")
    _run(ml100k, tmp_path / "a", *new_flags)
    assert "users 3 done" in _run(ml100k, tmp_path / "a", *old_flags)  # resumed, not refused
    _run(ml100k, tmp_path / "b", *old_flags)
    assert "users 3 done" in _run(ml100k, tmp_path / "b", *new_flags)
    assert (tmp_path / "a" / "ratings.csv").read_bytes() == (tmp_path / "b" / "ratings.csv").read_bytes()
    # a run stored before the rename holds the old key names: it resumes too, and a real change is still refused
    store = RunStore(tmp_path / "a")
    snapshot = store.get_meta("config")
    snapshot["data"]["profile_batch"] = snapshot["data"].pop("profile_step_size")
    snapshot["run"]["rating_batch"] = snapshot["run"].pop("items_per_call")
    snapshot["run"]["batch"] = snapshot["run"].pop("vendor_batch")
    store.set_meta("config", snapshot)
    store.close()
    assert "users 3 done" in _run(ml100k, tmp_path / "a", *new_flags)
    refused = _invoke(ml100k, tmp_path / "a", "--profile-step", "2", "--items-per-call", "3")
    assert refused.exit_code != 0 and "differs in: data.profile_step_size" in refused.output
