"""``lusifer merge``: put a run's partitions back together: the shards of ``lusifer run --shard i/n`` on n
machines, or runs of disjoint ``--user-ids`` lists.

Every shard must be there once (``--user-ids`` partitions must not share a user), and all must have run
with the same configuration apart from the partition and the keys a resumed run may change (``--out``,
concurrency, budget, batch mode, cache, executor). The
merged run holds the union of the shards' profiles, feedback, exchanges, targets, histories and user
statuses; each partition stored its targets' places in the whole test split, so the merged exports are the
ones a single run (of every shard, or of the union of the ``--user-ids``) would have written.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lusifer.api.errors import ConfigError, NotFoundError
from lusifer.runs.exports import write_exports, write_summary, write_text_atomically
from lusifer.runs.lock import RunLock
from lusifer.runs.runner import check_run_dir, config_differences
from lusifer.runs.store import STORE_FILE, RunStore


def merge_shards(out: Path, shard_dirs: Sequence[Path]) -> RunStore:
    """Merge the partial runs in ``shard_dirs`` (every ``--shard i/n`` once, or runs of disjoint
    ``--user-ids``) into a new run in ``out`` and write its exports and ``summary.json``.

    Returns the merged store (open; the caller closes it).

    :raises ConfigError: a shard is missing or given twice, a directory is not a partial run, the runs'
        configurations differ, two ``--user-ids`` runs share a user, or ``out`` already holds a run.
    """
    folders = [Path(folder) for folder in shard_dirs]
    configs = [_config_of(folder) for folder in folders]
    if any(config["run"].get("shard") for config in configs):
        _check_shards(folders, configs)
        partition_key = "run.shard"
    else:
        _check_user_id_partitions(folders, configs)
        partition_key = "run.user_ids"
    for folder, config in zip(folders[1:], configs[1:]):
        differences = [key for key in config_differences(configs[0], config) if key != partition_key]
        if differences:
            raise ConfigError(
                f"{folder} ran with another configuration than {folders[0]} (differs in: {', '.join(differences)})"
            )
    out = Path(out)
    if (out / STORE_FILE).exists():
        raise ConfigError(f"{out} already holds a run: merge into a new directory")
    check_run_dir(out)
    merged = copy.deepcopy(configs[0])
    merged["run"].update(shard=None, out=str(out))
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out):
        store = RunStore(out)
        for folder in folders:
            store.absorb(folder)
        if partition_key == "run.user_ids":
            merged["run"]["user_ids"] = list(dict.fromkeys(user for user, _, _ in store.targets()))
        store.set_meta("config", merged)
        store.set_meta("merged_from", [str(folder) for folder in folders])
        write_text_atomically(out / "config.json", json.dumps(merged, indent=2, sort_keys=True))
        calibrator = merged["run"].get("calibrator")
        write_exports(store, out, Path(calibrator) if calibrator else None)
        write_summary(store, out)
    return store


def _check_shards(folders: list[Path], configs: list[dict[str, Any]]) -> None:
    """Every shard of one split once."""
    shards: list[tuple[int, int]] = []
    for folder, config in zip(folders, configs):
        shard = config["run"].get("shard")
        if shard is None:
            raise ConfigError(f"{folder} is not a shard (it ran without --shard)")
        index, count = (int(part) for part in shard.split("/"))
        shards.append((index, count))
    counts = sorted({count for _, count in shards})
    if len(counts) > 1:
        raise ConfigError(f"the shards split the users differently (into {' and '.join(map(str, counts))} shards)")
    indices = [index for index, _ in shards]
    repeated = sorted({index for index in indices if indices.count(index) > 1})
    missing = sorted(set(range(1, counts[0] + 1)) - set(indices))
    if repeated or missing:
        problems = ([f"given twice: {repeated}"] if repeated else []) + ([f"missing: {missing}"] if missing else [])
        raise ConfigError(f"shards of {counts[0]}: " + "; ".join(problems))


def _check_user_id_partitions(folders: list[Path], configs: list[dict[str, Any]]) -> None:
    """Runs of ``--user-ids`` lists that share no user."""
    owner: dict[str, Path] = {}
    for folder, config in zip(folders, configs):
        user_ids = config["run"].get("user_ids")
        if not user_ids:
            raise ConfigError(f"{folder} is not a partial run (it ran without --shard or --user-ids)")
        for user in user_ids:
            if user in owner:
                raise ConfigError(f"user {user} is in both {owner[user]} and {folder}: partitions must not overlap")
            owner[user] = folder


def _config_of(folder: Path) -> dict[str, Any]:
    if not (folder / STORE_FILE).is_file():
        raise NotFoundError(f"{folder} is not a run directory (no {STORE_FILE})")
    store = RunStore(folder)
    try:
        config: dict[str, Any] | None = store.get_meta("config")
    finally:
        store.close()
    if config is None:
        raise ConfigError(f"{folder} holds no run configuration")
    return config
