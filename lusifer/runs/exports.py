"""Exports derived from the run store: CSV/JSON-lines files plus Parquet twins.

``ratings.csv`` (``user_id,item_id,rating,simulated_rating``; ``rating`` is the held-out truth,
``simulated_rating`` is empty for failed items; distribution mode adds ``expected_rating``,
``rating_sd`` and ``p_1..p_K`` or ``p_click``), ``failures.csv``, ``profiles.jsonl`` (one line per
profile state), ``history.csv`` (the training slice the simulator saw), ``ratings.parquet`` and
``profiles.parquet``, and ``summary.json`` (the whole run's counts). Row order follows the stored
targets, so exports do not depend on the order in which users finished.

Every file is written to a temporary file in the run directory and renamed over the old one, so a
killed process leaves either the previous export or the new one, never a truncated file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lusifer.engine.simulator import NOT_STARTED
from lusifer.runs.store import RunStore
from lusifer.runs.typed_ids import run_id_type, typed, typed_value, write_typed_views

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.api.run_info import RunSummary

NOT_SIMULATED = "not simulated (run interrupted)"
SUMMARY_FILE = "summary.json"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path``; renamed to ``path`` when the block ends without error."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def remove_stale_temporaries(out: Path) -> None:
    """Delete temporary files a killed process left in ``out`` (call while holding the run lock)."""
    for path in out.glob(".*.tmp"):
        path.unlink(missing_ok=True)


def write_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(temporary_path)``, then move the result to ``path`` in one rename."""
    with atomic_path(path) as temporary:
        write(temporary)


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_exports(store: RunStore, out: Path, calibrator: Path | None = None) -> None:
    """(Re)write every export of the run in ``out`` from ``store``.

    With ``calibrator`` (a file saved by ``lusifer evaluate``), ``ratings.csv`` gains a
    ``calibrated_rating`` column: the calibrator applied to the simulated ratings, fitted without test
    labels of this run.
    """
    import pandas as pd

    targets = store.targets()
    order = {user_id: position for position, user_id in enumerate(dict.fromkeys(user for user, _, _ in targets))}
    feedback = {(row["user_id"], row["item_id"]): row for row in store.feedback("test")}
    statuses = store.user_statuses()
    ratings, failures = [], []
    for user_id, item_id, truth in targets:
        row = feedback.get((user_id, item_id))
        simulated = row["simulated"] if row and row["status"] == "ok" else None
        ratings.append({"user_id": user_id, "item_id": item_id, "rating": truth, "simulated_rating": simulated})
        if row is None or row["status"] != "ok":
            reason = row["reason"] if row else (statuses.get(user_id, ("", None))[1] or NOT_SIMULATED)
            failures.append({"user_id": user_id, "item_id": item_id, "reason": reason})
    ratings_frame = pd.DataFrame(ratings, columns=["user_id", "item_id", "rating", "simulated_rating"])
    ratings_frame["simulated_rating"] = ratings_frame["simulated_rating"].astype("Int64")
    history = pd.DataFrame(store.history(), columns=["user_id", "item_id", "rating", "timestamp"])
    ratings_frame = distribution_columns(ratings_frame, store.distributions())
    if calibrator is not None:
        ratings_frame = _calibrated(ratings_frame, history, calibrator)
    id_type = run_id_type(store)
    ratings_frame, history = typed(ratings_frame, id_type), typed(history, id_type)
    write_atomically(out / "ratings.csv", lambda path: ratings_frame.to_csv(path, index=False))
    write_atomically(out / "ratings.parquet", lambda path: ratings_frame.to_parquet(path, index=False))
    failures_frame = typed(pd.DataFrame(failures, columns=["user_id", "item_id", "reason"]), id_type)
    write_atomically(out / "failures.csv", lambda path: failures_frame.to_csv(path, index=False))

    states = sorted(
        store.profiles(), key=lambda state: (order.get(state.user_id, len(order)), state.user_id, state.step)
    )
    profile_rows = [
        {
            "user_id": typed_value(state.user_id, id_type),
            "step": state.step,
            "profile": state.profile,
            "explanation": state.explanation,
            "item_ids": [typed_value(item, id_type) for item in state.item_ids],
            "source": state.source,
        }
        for state in states
    ]
    write_text_atomically(
        out / "profiles.jsonl", "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in profile_rows)
    )
    profiles_frame = pd.DataFrame(
        profile_rows, columns=["user_id", "step", "profile", "explanation", "item_ids", "source"]
    )
    write_atomically(out / "profiles.parquet", lambda path: profiles_frame.to_parquet(path, index=False))
    write_atomically(out / "history.csv", lambda path: history.to_csv(path, index=False))
    write_typed_views(store, id_type)


def run_totals(store: RunStore) -> dict[str, Any]:
    """The whole run's counts, from the store (every invocation and merged shard included)."""
    targets = store.targets()
    users = list(dict.fromkeys(user for user, _, _ in targets))
    statuses = store.user_statuses()
    rated = sum(1 for row in store.feedback("test") if row["status"] == "ok")
    status_of = [statuses.get(user, (NOT_STARTED, None))[0] for user in users]
    totals = store.exchange_totals()
    failures = {user: reason for user, (status, reason) in statuses.items() if status == "failed" and reason}
    return {
        "users": len(users),
        "users_done": status_of.count("done"),
        "users_failed": status_of.count("failed"),
        "users_not_started": status_of.count(NOT_STARTED),
        "ratings": rated,
        "ratings_failed": len(targets) - rated,
        "calls": int(totals["calls"]),
        "cache_hits": int(totals["cache_hits"]),
        "prompt_tokens": int(totals["prompt_tokens"]),
        "completion_tokens": int(totals["completion_tokens"]),
        "cost_usd": float(totals["cost_usd"]),
        "failures": dict(list(failures.items())[:100]),
    }


def write_summary(store: RunStore, out: Path, last_invocation: RunSummary | None = None) -> dict[str, Any]:
    """Write ``summary.json``: the whole run's counts, plus the last invocation's under ``last_invocation``."""
    summary = run_totals(store)
    if last_invocation is not None:
        summary["last_invocation"] = last_invocation.counts()
    write_text_atomically(out / SUMMARY_FILE, json.dumps(summary, indent=2, sort_keys=True))
    return summary


def distribution_columns(ratings: pd.DataFrame, distributions: dict[tuple[str, str], dict[int, float]]) -> pd.DataFrame:
    """``ratings`` with ``expected_rating``, ``rating_sd`` and ``p_<point>`` columns (a two-point scale:
    ``p_click``, the chance of the higher point) when the run kept distributions; unchanged otherwise."""
    import pandas as pd

    from lusifer.engine.distributions import expected, spread

    if not distributions:
        return ratings
    points = sorted({point for distribution in distributions.values() for point in distribution})
    keys = list(zip(ratings["user_id"], ratings["item_id"]))
    found = [distributions.get(key) for key in keys]
    columns = {
        "expected_rating": [expected(d) if d else None for d in found],
        "rating_sd": [spread(d) if d else None for d in found],
    }
    if len(points) == 2:
        columns["p_click"] = [d.get(points[1], 0.0) if d else None for d in found]
    else:
        columns.update({f"p_{point}": [d.get(point, 0.0) if d else None for d in found] for point in points})
    return ratings.assign(**{name: pd.array(values, dtype="Float64") for name, values in columns.items()})


def _calibrated(ratings: pd.DataFrame, history: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``ratings`` with ``calibrated_rating``: the calibrator applied to the column it was fitted on
    (``expected_rating`` for one fitted on a distribution-mode run's means, else ``simulated_rating``)."""
    import pandas as pd

    from lusifer.engine.calibration import CALIBRATED, load_calibrator

    calibrator = load_calibrator(path)
    source = "expected_rating" if calibrator.input == "expected_rating" else "simulated_rating"
    if source not in ratings.columns:  # a distribution-mode run without any distribution yet
        return ratings.assign(calibrated_rating=pd.array([None] * len(ratings), dtype="Float64"))
    frame = ratings.assign(simulated_rating=ratings[source].astype("float64"))
    calibrated = calibrator.apply(frame, history)[CALIBRATED]
    return ratings.assign(calibrated_rating=calibrated.to_numpy())
