"""Bad input and a hostile environment give one line naming the file and the fix, exit 1, nothing lost."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from lusifer.api.errors import ConfigError
from lusifer.cli import cli, load_plugin_commands
from lusifer.keys import keys_path

DATA_FILES = ("u.data", "u.item", "u.user", "u.genre", "u.occupation", "u1.base", "u1.test")


def lusifer(*arguments: str | Path) -> Result:
    load_plugin_commands()
    return CliRunner().invoke(cli, [str(argument) for argument in arguments])


def offline(ml100k: Path, out: Path, *extra: str | Path) -> Result:
    common = ("--no-progress", "--data-dir", ml100k, "--users", "3", "--history", "20")
    return lusifer("run", *common, "--out", out, *extra)


def assert_one_line(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_duplicate_test_rows_are_one_line_and_leave_no_stuck_folder(ml100k: Path, tmp_path: Path) -> None:
    data = tmp_path / "ml-100k"
    data.mkdir()
    for name in DATA_FILES:
        shutil.copy(ml100k / name, data / name)
    lines = (ml100k / "u1.test").read_text().splitlines(keepends=True)
    (data / "u1.test").write_text("".join([lines[0], *lines]))  # user 1's first test row twice
    result = offline(data, tmp_path / "run")
    assert_one_line(result, "more than once", "user 1")
    assert not (tmp_path / "run").exists()  # nothing written: fixing the file and rerunning just works


def test_a_damaged_response_cache_names_its_path_and_no_cache(
    ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache.sqlite"
    cache.write_bytes(b"this is not a database" * 200)
    monkeypatch.setenv("LUSIFER_CACHE__PATH", str(cache))
    with_openai = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--key", "sk-test-x"]
    result = offline(ml100k, tmp_path / "run", *with_openai)
    assert_one_line(result, str(cache), "--no-cache")


def test_a_damaged_run_store_is_one_line(ml100k: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert offline(ml100k, out).exit_code == 0
    store = out / "run.sqlite"
    data = bytearray(store.read_bytes())
    data[4096:] = b"\x07" * (len(data) - 4096)  # every page after the first
    store.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    assert_one_line(offline(ml100k, out), str(store))


def test_the_cli_reports_a_full_disk_and_sqlite_errors_in_one_line() -> None:
    from lusifer.cli import one_line

    full = OSError(errno.ENOSPC, "No space left on device", "/runs/x/ratings.csv")
    assert one_line(full) == "/runs/x/ratings.csv: No space left on device (the disk is full: free space and rerun " \
        "the same command (stored work is kept))"  # fmt: skip
    assert "disk is full" in (one_line(sqlite3.OperationalError("database or disk is full")) or "")
    assert "read-only" in (one_line(sqlite3.OperationalError("attempt to write a readonly database")) or "")
    assert one_line(ValueError("a bug")) is None  # bugs keep their traceback


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions do not bind root")
def test_a_read_only_out_and_evaluate_on_a_read_only_run_are_one_line(ml100k: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert offline(ml100k, out).exit_code == 0
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    out.chmod(0o555)
    try:
        assert_one_line(offline(ml100k, locked / "run"), "permission denied")
        assert_one_line(lusifer("evaluate", out, "--bootstrap", "0"), "--out")
    finally:
        locked.chmod(0o755)
        out.chmod(0o755)


def test_config_file_that_is_not_utf8(ml100k: Path, tmp_path: Path) -> None:
    config = tmp_path / "lusifer.toml"
    config.write_bytes("[run]\nusers = 3\n# caf\xe9\n".encode("latin-1"))
    assert_one_line(offline(ml100k, tmp_path / "run", "--config", config), str(config), "UTF-8")


def test_template_syntax_error_names_file_and_line(ml100k: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts" / "movies"
    prompts.mkdir(parents=True)
    (prompts / "profile.j2").write_text("Line one\n{% if user_info %}\nunclosed\n")
    result = offline(ml100k, tmp_path / "run", "--prompts-dir", tmp_path / "prompts")
    assert_one_line(result, "profile.j2", "line", "--prompts-dir")


def test_empty_user_ids_is_an_error(ml100k: Path, tmp_path: Path) -> None:
    result = offline(ml100k, tmp_path / "run", "--user-ids", "")
    assert result.exit_code == 2 and "--user-ids" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content", ["movie_id,overview\n", "movie_id,overview\n99999,A film nobody rated.\n"])
def test_an_enrichment_file_that_matches_nothing_is_an_error(ml100k: Path, tmp_path: Path, content: str) -> None:
    enrich = tmp_path / "enrich.csv"
    enrich.write_text(content)
    result = offline(ml100k, tmp_path / "run", "--protocol", "paper", "--enrich-file", enrich)
    assert result.exit_code == 1 and str(enrich) in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_numbers_do_not_accept_booleans(tmp_path: Path) -> None:
    from lusifer.kernel.settings import load_config

    config = tmp_path / "lusifer.toml"
    config.write_text("[run]\nusers = true\n")
    with pytest.raises(ConfigError, match="run.users: .*expected a number, got true"):
        load_config(config, environ={})
    assert load_config(None, {"backend": {"logprobs": True}}, environ={}).backend.logprobs is True


def test_a_bad_lusifer_variable_is_named(ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUSIFER_BACKEND__TIMEOUT", "soon")
    assert_one_line(offline(ml100k, tmp_path / "run"), "LUSIFER_BACKEND__TIMEOUT='soon'")


def test_a_world_readable_keys_file_is_warned_about(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    assert CliRunner().invoke(cli, ["keys", "set", "openai"], input="sk-test-abc\n").exit_code == 0
    keys_path().chmod(0o644)
    result = CliRunner().invoke(cli, ["keys", "list"])
    assert "readable by other users" in result.output and "chmod 600" in result.output, result.output


def test_evaluate_refuses_a_truncated_export(tmp_path: Path, ml100k: Path) -> None:
    out = tmp_path / "run"
    assert offline(ml100k, out).exit_code == 0
    lines = (out / "ratings.csv").read_text().splitlines(keepends=True)
    (out / "ratings.csv").write_text("".join(lines[: len(lines) // 2]))
    result = lusifer("evaluate", out, "--bootstrap", "0", "--no-baselines", "--no-calibrate")
    assert_one_line(result, "ratings.csv", f"{len(lines) // 2 - 1} rows", f"holds {len(lines) - 1}")


def test_evaluate_counts_out_of_scale_predictions_invalid_and_refuses_duplicates(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 2], "rating": [1, 5, 3, 4], "guess": [99, 4, -5, 4]}
    )
    frame.to_csv(tmp_path / "predictions.csv", index=False)
    arguments = ["--column", "guess", "--bootstrap", "0", "--no-baselines", "--no-calibrate"]
    result = lusifer("evaluate", "--predictions", tmp_path / "predictions.csv", *arguments, "--out", tmp_path / "e")
    assert result.exit_code == 0, result.output
    assert "2 predictions outside 1..5" in result.output
    metrics = pd.read_csv(tmp_path / "e" / "metrics.csv")
    valid = metrics[(metrics["metric"] == "valid_share") & (metrics["subset"] == "all")]["value"]
    assert valid.iloc[0] == pytest.approx(0.5)
    pd.concat([frame, frame.iloc[[2]]]).to_csv(tmp_path / "twice.csv", index=False)
    twice = lusifer("evaluate", "--predictions", tmp_path / "twice.csv", *arguments, "--out", tmp_path / "f")
    assert_one_line(twice, "user 2, item 1 appears more than once", "lines 4 and 6")
