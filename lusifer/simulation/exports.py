"""Exports derived from the run store: CSV/JSON-lines files plus Parquet twins.

``ratings.csv`` (``user_id,item_id,rating,simulated_rating``; ``rating`` is the held-out truth,
``simulated_rating`` is empty for failed items; distribution mode adds ``expected_rating``,
``rating_sd`` and ``p_1..p_K`` or ``p_click``), ``failures.csv``, ``profiles.jsonl`` (one line per
profile state), ``history.csv`` (the training slice the simulator saw), ``ratings.parquet`` and
``profiles.parquet``. Row order follows the stored targets, so exports do not depend on the order in
which users finished.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

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
    ratings_frame = distribution_columns(ratings_frame, store.distributions())
    if calibrator is not None:
        ratings_frame = _calibrated(ratings_frame, history, calibrator)
    ratings_frame.to_csv(out / "ratings.csv", index=False)
    ratings_frame.to_parquet(out / "ratings.parquet", index=False)
    pd.DataFrame(failures, columns=["user_id", "item_id", "reason"]).to_csv(out / "failures.csv", index=False)

    states = sorted(
        store.profiles(), key=lambda state: (order.get(state.user_id, len(order)), state.user_id, state.step)
    )
    profile_rows = [
        {
            "user_id": state.user_id,
            "step": state.step,
            "profile": state.profile,
            "explanation": state.explanation,
            "item_ids": state.item_ids,
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


def distribution_columns(
    ratings: pd.DataFrame, distributions: dict[tuple[str, str], dict[int, float]]
) -> pd.DataFrame:
    """``ratings`` with ``expected_rating``, ``rating_sd`` and ``p_<point>`` columns (a two-point scale:
    ``p_click``, the chance of the higher point) when the run kept distributions; unchanged otherwise."""
    import pandas as pd

    from lusifer.distributions import expected, spread

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
    from lusifer.evaluation.calibration import CALIBRATED, load_calibrator

    frame = ratings.assign(simulated_rating=ratings["simulated_rating"].astype("float64"))
    calibrated = load_calibrator(path).apply(frame, history)[CALIBRATED]
    return ratings.assign(calibrated_rating=calibrated.to_numpy())
