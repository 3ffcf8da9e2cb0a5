"""The run store: a SQLite database in the run directory, the source of truth of a run.

Everything is written as soon as it completes (one transaction per profile step, feedback batch or
exchange), so a killed run loses at most the calls in flight, and a rerun on the same directory
resumes from what is stored. Exports (:mod:`lusifer.runs.exports`) are derived from it.

Exchanges are stored compactly (schema 2): each message text once in ``texts`` (by its SHA-256, zlib
compressed), so a template's system text shared by every call is kept once, and the rest of the record
as zlib-compressed JSON naming its texts; :meth:`RunStore.exchanges` gives back the full prompts. A
store of schema 1 (records as plain JSON) is migrated when opened and its old records stay readable;
a store written by a newer Lusifer is refused with a clear error.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Any

from lusifer.api.errors import LusiferError
from lusifer.api.exchange import Exchange
from lusifer.api.redaction import redact_credentials
from lusifer.api.run_info import ProfileState

STORE_FILE = "run.sqlite"
SCHEMA_VERSION = 2
#: zlib level of stored exchange records and texts (6: most of level 9's gain at a fraction of its CPU).
COMPRESSION_LEVEL = 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (
    user_id TEXT NOT NULL, step INTEGER NOT NULL, profile TEXT NOT NULL, explanation TEXT NOT NULL,
    item_ids TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (user_id, step));
CREATE TABLE IF NOT EXISTS feedback (
    user_id TEXT NOT NULL, item_id TEXT NOT NULL, simulated INTEGER, truth REAL, status TEXT NOT NULL,
    reason TEXT, source TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (user_id, item_id, source));
CREATE TABLE IF NOT EXISTS distributions (
    user_id TEXT NOT NULL, item_id TEXT NOT NULL, source TEXT NOT NULL, probabilities TEXT NOT NULL,
    PRIMARY KEY (user_id, item_id, source));
CREATE TABLE IF NOT EXISTS history (
    user_id TEXT NOT NULL, item_id TEXT NOT NULL, rating REAL NOT NULL, timestamp INTEGER NOT NULL,
    position INTEGER NOT NULL, PRIMARY KEY (user_id, position));
CREATE TABLE IF NOT EXISTS targets (
    user_id TEXT NOT NULL, item_id TEXT NOT NULL, truth REAL, position INTEGER NOT NULL,
    PRIMARY KEY (user_id, item_id));
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY, backend TEXT NOT NULL, keys TEXT NOT NULL, open INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT, task TEXT NOT NULL, cache_hit INTEGER NOT NULL,
    error TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL, record BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS texts (digest TEXT PRIMARY KEY, body BLOB NOT NULL);
"""


class RunStore:
    """Read and write a run's SQLite database (``<run dir>/run.sqlite``)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / STORE_FILE
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
            # Feedback batches are numbered in the order they were stored; the next number is kept here
            # (one query when the store opens, not one per batch: that grew with the run).
            self._next_seq = self._db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM feedback").fetchone()[0]
        except sqlite3.DatabaseError as error:
            raise LusiferError(f"{self.path} is not a Lusifer run store ({error})") from None

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        """Bring a store of an older schema up to :data:`SCHEMA_VERSION`; refuse one of a newer Lusifer."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        version = int(row[0]) if row is not None else 1
        if version > SCHEMA_VERSION:
            raise LusiferError(
                f"{self.path} was written by a newer Lusifer (store schema {version}; this one reads up to "
                f"{SCHEMA_VERSION}): upgrade Lusifer (pip install -U lusifer) to read or resume this run"
            )
        columns = {column[1] for column in self._db.execute("PRAGMA table_info(exchanges)")}
        with self._db:
            self._db.execute("BEGIN")
            if "attempts" not in columns:  # schema 1: the attempts lived only inside the JSON record
                self._db.execute("ALTER TABLE exchanges ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
                self._db.execute("UPDATE exchanges SET attempts = COALESCE(json_extract(record, '$.attempts'), 0)")
            if version < SCHEMA_VERSION:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    # metadata ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
        )

    # history (the training slice the simulator saw) -----------------------------------------------
    def save_history(self, rows: list[tuple[str, str, float, int]]) -> None:
        """Store ``(user_id, item_id, rating, timestamp)`` rows; positions follow the given order."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM history")
            counters: dict[str, int] = {}
            records = []
            for user_id, item_id, rating, timestamp in rows:
                position = counters.get(user_id, 0)
                counters[user_id] = position + 1
                records.append((user_id, item_id, rating, timestamp, position))
            self._db.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?)", records)

    def history(self) -> list[tuple[str, str, float, int]]:
        return self._db.execute(
            "SELECT user_id, item_id, rating, timestamp FROM history ORDER BY user_id, position"
        ).fetchall()

    # targets (the test items each user rates) ----------------------------------------------------
    def save_targets(self, rows: list[tuple[str, str, float | None]], positions: list[int] | None = None) -> None:
        """Store ``(user_id, item_id, truth)`` rows in the order they are to be exported.

        ``positions`` (default 0, 1, ...) place the rows in a larger order: a shard stores its rows'
        places in the whole run, so that merged shards export in the order of a single run.
        """
        places = positions if positions is not None else range(len(rows))
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM targets")
            self._db.executemany(
                "INSERT INTO targets VALUES (?, ?, ?, ?)",
                [(user, item, truth, place) for place, (user, item, truth) in zip(places, rows)],
            )

    def targets(self) -> list[tuple[str, str, float | None]]:
        return self._db.execute("SELECT user_id, item_id, truth FROM targets ORDER BY position").fetchall()

    # profiles ---------------------------------------------------------------------------------------
    def add_profile(self, state: ProfileState) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?, ?, ?)",
            (state.user_id, state.step, state.profile, state.explanation, json.dumps(state.item_ids), state.source),
        )

    def profiles(self, user_id: str | None = None) -> list[ProfileState]:
        query = "SELECT user_id, step, profile, explanation, item_ids, source FROM profiles"
        parameters: tuple[str, ...] = ()
        if user_id is not None:
            query += " WHERE user_id = ?"
            parameters = (user_id,)
        rows = self._db.execute(query + " ORDER BY user_id, step", parameters).fetchall()
        return [ProfileState(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5]) for row in rows]

    # feedback ---------------------------------------------------------------------------------------
    def add_feedback(
        self,
        user_id: str,
        results: dict[str, int],
        failures: dict[str, str],
        truths: dict[str, float | None],
        source: str = "test",
    ) -> None:
        """Store rated items and failed items (with their reason) of one user in one transaction."""
        with self._db:
            self._db.execute("BEGIN")
            sequence = self._next_seq
            rows: list[tuple[object, ...]] = []
            for item_id, value in results.items():
                rows.append((user_id, item_id, value, truths.get(item_id), "ok", None, source, sequence))
            for item_id, reason in failures.items():
                rows.append((user_id, item_id, None, truths.get(item_id), "failed", reason, source, sequence))
            self._db.executemany("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self._next_seq = sequence + 1

    def feedback(self, source: str | None = "test") -> list[dict[str, Any]]:
        query = "SELECT user_id, item_id, simulated, truth, status, reason, source, seq FROM feedback"
        parameters: tuple[str, ...] = ()
        if source is not None:
            query += " WHERE source = ?"
            parameters = (source,)
        columns = ("user_id", "item_id", "simulated", "truth", "status", "reason", "source", "seq")
        return [dict(zip(columns, row)) for row in self._db.execute(query + " ORDER BY seq", parameters)]

    def add_distributions(self, user_id: str, distributions: dict[str, dict[int, float]], source: str = "test") -> None:
        """Store the rating distribution (``{scale point: probability}``) of rated items of one user."""
        rows = [
            (user_id, item_id, source, json.dumps({str(point): p for point, p in distribution.items()}))
            for item_id, distribution in distributions.items()
        ]
        if rows:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO distributions VALUES (?, ?, ?, ?)", rows)

    def distributions(self, source: str = "test") -> dict[tuple[str, str], dict[int, float]]:
        """Stored rating distributions by ``(user_id, item_id)``."""
        rows = self._db.execute("SELECT user_id, item_id, probabilities FROM distributions WHERE source = ?", (source,))
        return {
            (user_id, item_id): {int(point): p for point, p in json.loads(text).items()}
            for user_id, item_id, text in rows
        }

    def rated_items(self, user_id: str, source: str = "test") -> set[str]:
        rows = self._db.execute(
            "SELECT item_id FROM feedback WHERE user_id = ? AND source = ? AND status = 'ok'", (user_id, source)
        )
        return {row[0] for row in rows}

    # users ------------------------------------------------------------------------------------------
    def set_user_status(self, user_id: str, status: str, reason: str | None = None) -> None:
        self._db.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?)", (user_id, status, reason))

    def user_statuses(self) -> dict[str, tuple[str, str | None]]:
        return {row[0]: (row[1], row[2]) for row in self._db.execute("SELECT user_id, status, reason FROM users")}

    # merging shards ---------------------------------------------------------------------------------
    def absorb(self, run_dir: Path) -> None:
        """Add everything the run store in ``run_dir`` holds (another shard of this run), in one transaction.

        :raises LusiferError: both hold the same user's profile, feedback, target or status.
        """
        self._db.execute("ATTACH DATABASE ? AS shard", (str(Path(run_dir) / STORE_FILE),))
        try:
            with self._db:
                self._db.execute("BEGIN")
                offset = self._db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM feedback").fetchone()[0]
                self._db.execute("INSERT INTO profiles SELECT * FROM shard.profiles")
                self._db.execute(
                    "INSERT INTO feedback SELECT user_id, item_id, simulated, truth, status, reason, source,"
                    " seq + ? FROM shard.feedback",
                    (offset,),
                )
                self._db.execute("INSERT INTO targets SELECT * FROM shard.targets")
                self._db.execute("INSERT INTO distributions SELECT * FROM shard.distributions")
                self._db.execute("INSERT INTO users SELECT * FROM shard.users")
                self._db.execute("INSERT OR IGNORE INTO history SELECT * FROM shard.history")
                self._db.execute("INSERT OR IGNORE INTO texts SELECT * FROM shard.texts")
                columns = (
                    "user_id, task, cache_hit, error, prompt_tokens, completion_tokens, cost_usd, latency_s, record,"
                    " attempts"
                )
                self._db.execute(f"INSERT INTO exchanges ({columns}) SELECT {columns} FROM shard.exchanges ORDER BY id")
            self._next_seq = self._db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM feedback").fetchone()[0]
        except sqlite3.IntegrityError as error:
            raise LusiferError(f"{run_dir} overlaps the runs merged before it ({error})") from None
        finally:
            self._db.execute("DETACH DATABASE shard")

    # provider batches (batch mode) ------------------------------------------------------------------
    def add_batch(self, batch_id: str, backend: str, keys: list[str]) -> None:
        """Remember a submitted batch and the request keys it answers, until :meth:`close_batch`."""
        self._db.execute(
            "INSERT OR REPLACE INTO batches VALUES (?, ?, ?, 1, ?)", (batch_id, backend, json.dumps(keys), time.time())
        )

    def open_batches(self, backend: str) -> dict[str, list[str]]:
        """Submitted batches of ``backend`` whose results were not yet collected: id -> request keys."""
        rows = self._db.execute(
            "SELECT batch_id, keys FROM batches WHERE open = 1 AND backend = ? ORDER BY created", (backend,)
        )
        return {batch_id: json.loads(keys) for batch_id, keys in rows}

    def close_batch(self, batch_id: str) -> None:
        self._db.execute("UPDATE batches SET open = 0 WHERE batch_id = ?", (batch_id,))

    # exchanges --------------------------------------------------------------------------------------
    def add_exchange(self, exchange: Exchange) -> None:
        """Store one exchange compactly; credentials in its error text (URLs, Basic auth) are redacted first."""
        if exchange.error:
            exchange.error = redact_credentials(exchange.error)
        record = exchange.to_dict()
        with self._db:
            self._db.execute("BEGIN")
            record["messages"] = [
                {"role": message["role"], "text": self._add_text(message["content"])} for message in record["messages"]
            ]
            packed = zlib.compress(json.dumps(record, sort_keys=True, default=str).encode(), COMPRESSION_LEVEL)
            self._db.execute(
                "INSERT INTO exchanges (user_id, task, cache_hit, error, prompt_tokens, completion_tokens, cost_usd,"
                " latency_s, record, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    exchange.user_id,
                    exchange.task,
                    int(exchange.cache_hit),
                    exchange.error,
                    exchange.prompt_tokens,
                    exchange.completion_tokens,
                    exchange.cost_usd,
                    exchange.latency_s,
                    packed,
                    exchange.attempts,
                ),
            )

    def _add_text(self, text: str) -> str:
        """Keep ``text`` once (by its digest, compressed) and return the digest that names it."""
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        self._db.execute(
            "INSERT OR IGNORE INTO texts VALUES (?, ?)", (digest, zlib.compress(text.encode(), COMPRESSION_LEVEL))
        )
        return digest

    def exchange_totals(self) -> dict[str, float]:
        """Totals over every exchange of the run: ``calls`` counts requests sent (retries included)."""
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(cache_hit), 0), COALESCE(SUM(prompt_tokens), 0),"
            " COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0),"
            " COALESCE(SUM(attempts), 0) FROM exchanges"
        ).fetchone()
        names = ("exchanges", "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd", "calls")
        return dict(zip(names, row))

    def exchanges(self, user_id: str | None = None, last: int | None = None) -> list[dict[str, Any]]:
        """The stored exchanges (oldest first) with their full prompts; ``last``: only the newest ``last``."""
        query = "SELECT id, record FROM exchanges"
        parameters: tuple[str, ...] = ()
        if user_id is not None:
            query, parameters = query + " WHERE user_id = ?", (user_id,)
        if last is not None:
            query = f"SELECT id, record FROM ({query} ORDER BY id DESC LIMIT {int(last)})"
        texts: dict[str, str] = {}
        return [self._unpacked(row[1], texts) for row in self._db.execute(query + " ORDER BY id", parameters)]

    def _unpacked(self, stored: str | bytes, texts: dict[str, str]) -> dict[str, Any]:
        """A stored record as :meth:`Exchange.to_dict` gave it (schema 1 records are plain JSON)."""
        if isinstance(stored, str):
            return dict(json.loads(stored))
        record: dict[str, Any] = json.loads(zlib.decompress(stored))
        for message in record["messages"]:
            digest = message.pop("text")
            if digest not in texts:
                body = self._db.execute("SELECT body FROM texts WHERE digest = ?", (digest,)).fetchone()[0]
                texts[digest] = zlib.decompress(body).decode()
            message["content"] = texts[digest]
        return record
