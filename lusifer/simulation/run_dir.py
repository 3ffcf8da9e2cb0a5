"""The default run directory: named after the configuration, so rerunning the same command resumes.

``runs/<domain>-<dataset>-<backend>-<model>-<hash>``: the hash covers every setting that a resumed run
must share (the keys :data:`lusifer.simulation.runner.RESUMABLE_KEYS` leaves out do not count).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lusifer.config import LusiferConfig

RUNS = Path("runs")


def _without(snapshot: dict[str, Any], skipped: set[tuple[str, ...]], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    kept = {}
    for key, value in snapshot.items():
        path = (*prefix, key)
        if path in skipped:
            continue
        kept[key] = _without(value, skipped, path) if isinstance(value, dict) else value
    return kept


def default_run_dir(config: LusiferConfig) -> Path:
    """``runs/<domain>-<dataset>-<backend>-<model>-<8 hex digits of the resumable configuration>``."""
    from lusifer.registry import get_domain
    from lusifer.simulation.runner import RESUMABLE_KEYS, config_snapshot

    settings = _without(config_snapshot(config), set(RESUMABLE_KEYS))
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
    dataset = config.dataset or get_domain(config.domain).datasets[0]
    parts = [config.domain, dataset, config.backend.name, config.backend.model or "default", digest]
    return RUNS / re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(str(part) for part in parts))
