"""The default run directory: named after the configuration, so rerunning the same command resumes.

``runs/<domain>-<dataset>-<backend>-<model>-<hash>``: the hash covers every setting that a resumed run
must share (the keys :data:`RESUMABLE_KEYS` leaves out do not count). The configuration snapshot stored in a
run and compared on resume lives here too.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lusifer.api.redaction import redact_credentials

if TYPE_CHECKING:
    from lusifer.api.settings import LusiferConfig

RUNS = Path("runs")

#: Configuration keys that may differ between a run and its resumption.
RESUMABLE_KEYS = {
    ("run", "out"),
    ("run", "concurrency"),
    ("run", "budget_usd"),
    ("run", "vendor_batch"),
    ("run", "batch_poll"),
    ("run", "executor"),  # how the users are spread over processes, not what they answer
    ("run", "workers"),
    ("run", "ray_address"),
    ("backend", "base_url"),  # where the model answers, not what it answers (shards may use replicas)
    ("backend", "base_urls"),
    ("backend", "max_concurrency"),
    ("backend", "timeout"),
    ("backend", "max_retries"),
    ("backend", "requests_per_minute"),
    ("backend", "tokens_per_minute"),
    ("run", "validation_retries"),  # how hard to retry, not what is asked
    ("cache",),
}


def upgraded_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A stored snapshot with the keys renamed since it was written under their new names (``RENAMED_KEYS``)."""
    from lusifer.api.settings import RENAMED_KEYS

    return _renamed(snapshot, RENAMED_KEYS)


def _renamed(snapshot: dict[str, Any], names: dict[tuple[str, str], tuple[str, str]]) -> dict[str, Any]:
    result = dict(snapshot)
    for (section, old), (_, new) in names.items():
        values = result.get(section)
        if isinstance(values, dict) and old in values:
            result[section] = {(new if key == old else key): value for key, value in values.items()}
    return result


def config_snapshot(config: LusiferConfig) -> dict[str, Any]:
    """The configuration as stored in the run (JSON-safe; holds no keys, and URLs lose their credentials)."""
    snapshot: dict[str, Any] = _redacted(config.model_dump(mode="json"))
    return snapshot


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return redact_credentials(value) if isinstance(value, str) else value


def is_resumable(path: tuple[str, ...]) -> bool:
    """Whether the configuration key at ``path`` (or the section holding it) is in :data:`RESUMABLE_KEYS`."""
    return any(path[: len(key)] == key for key in RESUMABLE_KEYS)


def without_resumable(snapshot: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """``snapshot`` without its resumable keys: what names a run and what a resumption must repeat."""
    kept = {}
    for key, value in snapshot.items():
        path = (*prefix, key)
        if is_resumable(path):
            continue
        kept[key] = without_resumable(value, path) if isinstance(value, dict) else value
    return kept


def default_run_dir(config: LusiferConfig) -> Path:
    """``runs/<domain>-<dataset>-<backend>-<model>-<8 hex digits of the resumable configuration>``."""
    from lusifer.api.settings import RENAMED_KEYS
    from lusifer.kernel.registry import get_domain

    # hashed under the keys' original names, so a configuration keeps its directory across the renames
    legacy = {new: old for old, new in RENAMED_KEYS.items()}
    settings = _renamed(without_resumable(config_snapshot(config)), legacy)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
    dataset = config.dataset or get_domain(config.domain).datasets[0]
    parts = [config.domain, dataset, config.backend.name, config.backend.model or "default", digest]
    return RUNS / re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(str(part) for part in parts))
