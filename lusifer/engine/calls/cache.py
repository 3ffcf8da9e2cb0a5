"""The content-addressed response cache (SQLite, WAL mode).

The key is the SHA-256 of the canonical JSON of everything that decides an answer: backend name,
model, the endpoint that answers (:meth:`lusifer.api.backend.Backend.cache_identity`, unless
``cache.share_across_endpoints``), messages, schema and the sampling parameters. Only answers that
passed validation are stored, so rerunning a run retries what failed instead of replaying it.
The file holds keys, answer texts, token usage and model names — never prompts' secrets or API keys.
WAL mode and a busy timeout make it safe to share between processes; within one process the call
layer uses it from one event loop.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lusifer.api.backend import LLMRequest, LLMResponse, Usage
from lusifer.api.errors import LusiferError
from lusifer.paths import user_dir

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    finish_reason TEXT,
    logprobs TEXT,
    created REAL NOT NULL
)
"""


def default_cache_path() -> Path:
    """``<user dir>/cache.sqlite``."""
    return user_dir() / "cache.sqlite"


def cache_key(
    backend: str,
    model: str,
    request: LLMRequest,
    parameters: Mapping[str, Any],
    endpoint: Mapping[str, str] | None = None,
) -> str:
    """SHA-256 (hex) of the canonical JSON of what decides the answer.

    :param endpoint: the backend's :meth:`~lusifer.api.backend.Backend.cache_identity`; empty (the
        vendor's default endpoint, or shared across endpoints) leaves the key as it was without one.
    """
    document: dict[str, Any] = {
        "backend": backend,
        "model": model,
        "messages": [[message.role, message.content] for message in request.messages],
        "schema": request.schema,
        "schema_name": request.schema_name if request.schema is not None else None,
        "parameters": dict(parameters),
    }
    if endpoint:
        document["endpoint"] = dict(endpoint)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CacheError(LusiferError):
    """The response cache file cannot be used (damaged, not a cache, unwritable)."""


class ResponseCache:
    """Answers stored by :func:`cache_key`.

    :raises CacheError: (from any method) the file is damaged or unusable; the message names it and
        the ways out (``--no-cache``, another ``cache.path``).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One thread at a time uses the connection (the event loop), not necessarily the creating one.
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as error:
            raise self._error(error) from None

    def _error(self, error: Exception) -> CacheError:
        return CacheError(
            f"response cache {self.path} is unusable ({error}): run with --no-cache, "
            "or delete or move the file (cached answers are then asked again)"
        )

    def get(self, key: str) -> LLMResponse | None:
        """The stored answer for ``key``, or None."""
        try:
            row = self._db.execute(
                "SELECT model, text, prompt_tokens, completion_tokens, finish_reason, logprobs"
                " FROM responses WHERE key = ?",
                (key,),
            ).fetchone()
        except sqlite3.Error as error:
            raise self._error(error) from None
        if row is None:
            return None
        model, text, prompt_tokens, completion_tokens, finish_reason, logprobs = row
        return LLMResponse(
            text=text,
            model=model,
            usage=Usage(prompt_tokens, completion_tokens),
            finish_reason=finish_reason,
            logprobs=json.loads(logprobs) if logprobs else None,
        )

    def put(self, key: str, backend: str, response: LLMResponse) -> None:
        """Store (or replace) the answer for ``key``."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    backend,
                    response.model,
                    response.text,
                    response.usage.prompt_tokens,
                    response.usage.completion_tokens,
                    response.finish_reason,
                    json.dumps(response.logprobs) if response.logprobs is not None else None,
                    time.time(),
                ),
            )
        except sqlite3.Error as error:
            raise self._error(error) from None

    def close(self) -> None:
        self._db.close()
