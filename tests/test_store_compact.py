"""Exchanges stored compactly: shared texts once, records compressed, the full prompt given back; schema-1
stores migrate on open and stay readable and resumable; a store of a newer Lusifer is a clear error."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from lusifer.api.errors import LusiferError
from lusifer.api.exchange import Exchange
from lusifer.cli import cli, load_plugin_commands
from lusifer.runs.store import SCHEMA_VERSION, RunStore

SYSTEM = "You are a simulated moviegoer. " * 40

#: The exchanges table and a record as Lusifer stored them before schema 2.
SCHEMA_1_EXCHANGES = """
CREATE TABLE exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT, task TEXT NOT NULL, cache_hit INTEGER NOT NULL,
    error TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL, record TEXT NOT NULL);
"""


def exchange(user: str, prompt: str, attempts: int = 1) -> Exchange:
    return Exchange(
        task="feedback",
        backend="openai",
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        parameters={"temperature": 0.0},
        cache_key="k" + user,
        user_id=user,
        raw_text='{"ratings": {"1": 4}}',
        parsed={"ratings": {"1": 4}},
        prompt_tokens=300,
        completion_tokens=12,
        attempts=attempts,
    )


def test_exchanges_come_back_whole_and_shared_texts_are_stored_once(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    sent = [exchange(str(user), f"Rate movie {user} for user {user}. " * 20, attempts=2) for user in range(50)]
    for item in sent:
        store.add_exchange(item)
    assert store.exchanges() == [item.to_dict() for item in sent]
    assert store.exchanges(last=2) == [item.to_dict() for item in sent[-2:]]
    assert store.exchanges("7") == [sent[7].to_dict()]
    assert store.exchange_totals()["calls"] == 100
    database = sqlite3.connect(tmp_path / "run.sqlite")
    assert database.execute("SELECT COUNT(*) FROM texts").fetchone()[0] == 51  # one system text, 50 prompts
    records = database.execute("SELECT SUM(LENGTH(record)) FROM exchanges").fetchone()[0]
    stored = records + database.execute("SELECT SUM(LENGTH(body)) FROM texts").fetchone()[0]
    plain = sum(len(json.dumps(item.to_dict(), sort_keys=True)) for item in sent)
    assert stored < plain / 3


def test_a_schema_1_store_is_migrated_read_and_resumed(tmp_path: Path) -> None:
    old = exchange("1", "Rate movie 1.", attempts=3)
    with sqlite3.connect(tmp_path / "run.sqlite") as database:
        database.executescript(SCHEMA_1_EXCHANGES)
        database.execute(
            "INSERT INTO exchanges (user_id, task, cache_hit, error, prompt_tokens, completion_tokens, cost_usd,"
            " latency_s, record) VALUES ('1', 'feedback', 0, NULL, 300, 12, 0.0, 0.1, ?)",
            (json.dumps(old.to_dict(), sort_keys=True),),
        )
    store = RunStore(tmp_path)
    assert store.get_meta("schema") == SCHEMA_VERSION
    assert store.exchange_totals()["calls"] == 3  # the attempts column was filled from the old records
    new = exchange("2", "Rate movie 2.")
    store.add_exchange(new)
    assert store.exchanges() == [old.to_dict(), new.to_dict()]
    store.close()
    assert RunStore(tmp_path).exchange_totals()["calls"] == 4  # opening again migrates nothing twice


def test_a_store_of_a_newer_lusifer_is_refused_clearly(tmp_path: Path) -> None:
    RunStore(tmp_path).set_meta("schema", SCHEMA_VERSION + 1)
    with pytest.raises(LusiferError, match=r"written by a newer Lusifer \(store schema 3.*upgrade Lusifer"):
        RunStore(tmp_path)


def test_logs_shows_the_full_prompt_of_a_compact_run(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    out = tmp_path / "run"
    run = CliRunner().invoke(
        cli, ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "1", "--out", str(out)]
    )
    assert run.exit_code == 0, run.output
    system = RunStore(out).exchanges()[-1]["messages"][0]
    assert system["role"] == "system" and len(system["content"]) > 100
    logs = CliRunner().invoke(cli, ["logs", str(out), "-n", "1", "--full"])
    assert logs.exit_code == 0 and f"> system: {system['content']}" in logs.output
