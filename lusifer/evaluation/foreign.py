"""Predictions and training slices written by other toolkits, renamed to Lusifer's columns.

Recognised by their headers: surprise (``uid,iid,r_ui,est``), LensKit (``user,item,prediction``
[, ``rating``]) and RecBole (``user_id:token,item_id:token,...``: the ``:type`` suffixes are dropped).
Any other layout is named with ``--user-col/--item-col/--truth-col``. A training slice may also be a
MovieLens ratings file as shipped (``u1.base``: tab-separated ``user item rating timestamp``, no header).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lusifer.api.errors import DataError
from lusifer.evaluation.inputs import read_csv

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Layout:
    """A known predictions layout: its column names and the prediction column scored by default."""

    name: str
    user: str
    item: str
    truth: str
    prediction: str


LAYOUTS = (
    Layout("surprise", "uid", "iid", "r_ui", "est"),
    Layout("LensKit", "user", "item", "rating", "prediction"),
)
MOVIELENS_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


def detect_layout(columns: list[str]) -> Layout | None:
    """The known layout whose user, item and prediction columns ``columns`` hold, if any."""
    for layout in LAYOUTS:
        if {layout.user, layout.item, layout.prediction} <= set(columns):
            return layout
    return None


def read_foreign_predictions(
    path: Path, user_col: str | None = None, item_col: str | None = None, truth_col: str | None = None
) -> tuple[pd.DataFrame, str | None]:
    """The predictions file with ``user_id``, ``item_id`` and ``rating`` columns; plus its default column.

    The default column is the recognised toolkit's prediction column (None for Lusifer's own layout).
    """
    frame = read_csv(path)
    frame.columns = [str(column).split(":", 1)[0] for column in frame.columns]  # RecBole's user_id:token
    layout = detect_layout(list(frame.columns))
    user = user_col or (layout.user if layout else "user_id")
    item = item_col or (layout.item if layout else None)
    truth = truth_col or (layout.truth if layout else "rating")
    if truth not in frame.columns:
        raise DataError(f"{path}: missing truth column '{truth}' (set it with --truth-col)")
    renames = {user: "user_id", truth: "rating"}
    if item is not None:
        renames[item] = "item_id"
    missing = [name for name in renames if name not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(map(str, frame.columns))}); "
            "name them with --user-col/--item-col/--truth-col"
        )
    renamed = frame.drop(columns=[c for c in set(renames.values()) if c in frame.columns and c not in renames])
    return renamed.rename(columns=renames), layout.prediction if layout else None


def read_any_history(path: Path) -> pd.DataFrame:
    """A training slice: a CSV with a header, or a MovieLens ratings file such as ``u1.base``."""
    import pandas as pd

    from lusifer.evaluation.inputs import read_history

    path = Path(path)
    if path.is_file():
        with open(path, encoding="utf-8", errors="replace") as handle:
            first = handle.readline().split("\t")
        if len(first) == 4 and all(part.strip().isdigit() for part in first):
            frame = pd.read_csv(path, sep="\t", header=None, names=MOVIELENS_COLUMNS)
            return frame.astype({"rating": "float64"})
    return read_history(path)
