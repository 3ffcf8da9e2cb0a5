"""`lusifer run` end to end on the offline backend: run directory, exports, resume, show."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands
from lusifer.runs.store import RunStore


def _run(*arguments: str) -> object:
    load_plugin_commands()
    return CliRunner().invoke(cli, ["run", "--no-progress", *arguments], catch_exceptions=False)


@pytest.fixture
def offline_run(ml100k: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    result = _run("--data-dir", str(ml100k), "--users", "6", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_run_writes_store_and_exports(offline_run: Path) -> None:
    for name in (
        "run.sqlite",
        "ratings.csv",
        "ratings.parquet",
        "profiles.jsonl",
        "profiles.parquet",
        "history.csv",
        "config.json",
        "summary.json",
        "failures.csv",
    ):
        assert (offline_run / name).exists(), name
    ratings = pd.read_csv(offline_run / "ratings.csv")
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "simulated_rating"]
    assert ratings["user_id"].nunique() == 6 and len(ratings) == 60
    assert ratings["simulated_rating"].between(1, 5).all()
    assert pd.read_parquet(offline_run / "ratings.parquet").shape == ratings.shape
    states = [json.loads(line) for line in (offline_run / "profiles.jsonl").read_text().splitlines()]
    history = pd.read_csv(offline_run / "history.csv")
    tested = history[history["user_id"].isin(ratings["user_id"])]
    sizes = tested.groupby("user_id").size()
    assert sizes.max() == 40
    assert len(states) == sum(-(-size // 10) for size in sizes)  # one state per batch of 10
    full_user = int(sizes.idxmax())  # profiles.jsonl keeps MovieLens int ids
    steps = [state for state in states if state["user_id"] == full_user]
    assert [state["step"] for state in steps] == [0, 1, 2, 3]
    assert all(state["explanation"] and len(state["item_ids"]) == 10 for state in steps)
    summary = json.loads((offline_run / "summary.json").read_text())
    assert summary["users_done"] == 6 and summary["ratings"] == 60 and summary["ratings_failed"] == 0


def test_profile_steps_follow_the_history_batches(offline_run: Path) -> None:
    history = pd.read_csv(offline_run / "history.csv")
    states = [json.loads(line) for line in (offline_run / "profiles.jsonl").read_text().splitlines()]
    simulated = {int(state["user_id"]) for state in states}
    user = history[history["user_id"].isin(simulated)]["user_id"].value_counts().idxmax()
    items = [int(item) for item in history[history["user_id"] == user]["item_id"]]
    assert [state["item_ids"] for state in states if state["user_id"] == user] == [
        items[0:10],
        items[10:20],
        items[20:30],
        items[30:40],
    ]


def test_rerun_resumes_without_new_calls_and_same_exports(offline_run: Path, ml100k: Path) -> None:
    before = {name: (offline_run / name).read_bytes() for name in ("ratings.csv", "profiles.jsonl")}
    exchanges = RunStore(offline_run).exchange_totals()["exchanges"]
    result = _run("--data-dir", str(ml100k), "--users", "6", "--out", str(offline_run))
    assert result.exit_code == 0, result.output
    assert RunStore(offline_run).exchange_totals()["exchanges"] == exchanges
    assert {name: (offline_run / name).read_bytes() for name in before} == before


def test_rerun_with_other_settings_is_refused(offline_run: Path, ml100k: Path) -> None:
    load_plugin_commands()
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--no-progress",
            "--data-dir",
            str(ml100k),
            "--users",
            "6",
            "--history",
            "20",
            "--out",
            str(offline_run),
        ],
    )
    assert result.exit_code == 1
    assert "different configuration (differs in: data.history)" in result.output


def test_show_user_prints_the_timeline(offline_run: Path) -> None:
    user = pd.read_csv(offline_run / "ratings.csv")["user_id"].iloc[0]
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["show", "user", str(user), "--run", str(offline_run)])
    assert result.exit_code == 0, result.output
    assert result.output.count("--- step") == 4 and "why:" in result.output
    missing = CliRunner().invoke(cli, ["show", "user", "99999", "--run", str(offline_run)])
    assert missing.exit_code == 1 and "user 99999 has no profile" in missing.output


def test_unknown_user_ids_are_a_clear_error(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    result = CliRunner().invoke(
        cli, ["run", "--no-progress", "--data-dir", str(ml100k), "--user-ids", "1,abc", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 1 and "unknown or untested user ids: abc" in result.output


def test_bad_backend_or_missing_key_writes_nothing(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    for backend, message in (("opnai", "Did you mean 'openai'?"), ("anthropic", "lusifer keys set anthropic")):
        out = tmp_path / backend
        result = CliRunner().invoke(
            cli, ["run", "--no-progress", "--data-dir", str(ml100k), "--backend", backend, "--out", str(out)]
        )
        assert result.exit_code == 1 and message in result.output
        assert not out.exists()
