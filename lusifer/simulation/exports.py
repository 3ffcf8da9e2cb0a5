"""Exports derived from the run store: CSV/JSON-lines files plus Parquet twins.

``ratings.csv`` (``user_id,item_id,rating,simulated_rating``; ``rating`` is the held-out truth,
``simulated_rating`` is empty for failed items), ``failures.csv``, ``profiles.jsonl`` (one line per
profile state), ``history.csv`` (the training slice the simulator saw), ``ratings.parquet`` and
``profiles.parquet``. Row order follows the stored targets, so exports do not depend on the order in
which users finished.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from lusifer.simulation.typed_ids import run_id_type, typed, typed_value, write_typed_views
from lusifer.store import RunStore

if TYPE_CHECKING:
    import pandas as pd

NOT_SIMULATED = "not simulated (run interrupted)"


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
    if calibrator is not None:
        ratings_frame = _calibrated(ratings_frame, history, calibrator)
    id_type = run_id_type(store)
    ratings_frame, history = typed(ratings_frame, id_type), typed(history, id_type)
    ratings_frame.to_csv(out / "ratings.csv", index=False)
    ratings_frame.to_parquet(out / "ratings.parquet", index=False)
    failures_frame = typed(pd.DataFrame(failures, columns=["user_id", "item_id", "reason"]), id_type)
    failures_frame.to_csv(out / "failures.csv", index=False)

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
    with open(out / "profiles.jsonl", "w", encoding="utf-8") as handle:
        for row in profile_rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    pd.DataFrame(profile_rows, columns=["user_id", "step", "profile", "explanation", "item_ids", "source"]).to_parquet(
        out / "profiles.parquet", index=False
    )
    history.to_csv(out / "history.csv", index=False)
    write_typed_views(store, id_type)


def _calibrated(ratings: pd.DataFrame, history: pd.DataFrame, path: Path) -> pd.DataFrame:
    from lusifer.evaluation.calibration import CALIBRATED, load_calibrator

    frame = ratings.assign(simulated_rating=ratings["simulated_rating"].astype("float64"))
    calibrated = load_calibrator(path).apply(frame, history)[CALIBRATED]
    return ratings.assign(calibrated_rating=calibrated.to_numpy())
