"""Ids in a run's exports keep the dataset's own type, so exports join with the dataset's files.

The run store keeps ids as text (one schema for every domain). A domain declares the type of its ids
(:attr:`lusifer.api.domain.Domain.id_type`); the exports convert them back, and ``run.sqlite`` gains
views (``ratings_view``, ``profiles_view``, ``history_view``) with the ids cast to that type, so that
``pd.read_sql("SELECT * FROM ratings_view", db).merge(u_item, on="item_id")`` works on MovieLens.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.runs.store import RunStore

ID_COLUMNS = ("user_id", "item_id")


def run_id_type(store: RunStore) -> str:
    """``"int"`` or ``"str"``: the id type of the domain the stored run used (``"str"`` when unknown)."""
    from lusifer.api.errors import LusiferError
    from lusifer.kernel.registry import get_domain

    config = store.get_meta("config") or {}
    try:
        return get_domain(str(config.get("domain") or "movies")).id_type
    except LusiferError:
        return "str"


def typed(frame: pd.DataFrame, id_type: str) -> pd.DataFrame:
    """``frame`` with its id columns converted to ``id_type`` (unchanged for ``"str"``)."""
    if id_type != "int":
        return frame
    converted = {column: frame[column].astype("int64") for column in ID_COLUMNS if column in frame.columns}
    return frame.assign(**converted)


def typed_value(value: str, id_type: str) -> int | str:
    """One stored id as ``id_type``."""
    return int(value) if id_type == "int" else value


def write_typed_views(store: RunStore, id_type: str) -> None:
    """(Re)create the typed views of ``run.sqlite``; ids are cast to INTEGER for ``"int"`` ids."""
    cast = "CAST({0} AS INTEGER) AS {0}" if id_type == "int" else "{0}"
    user, item = cast.format("user_id"), cast.format("item_id")
    views = {
        "ratings_view": f"SELECT {user}, {item}, truth AS rating, simulated AS simulated_rating, status, reason"
        " FROM feedback WHERE source = 'test'",
        "profiles_view": f"SELECT {user}, step, profile, explanation, item_ids, source FROM profiles",
        "history_view": f"SELECT {user}, {item}, rating, timestamp FROM history",
    }
    db = sqlite3.connect(store.path)
    try:
        with db:
            for name, query in views.items():
                db.execute(f"DROP VIEW IF EXISTS {name}")
                db.execute(f"CREATE VIEW {name} AS {query}")
    finally:
        db.close()
