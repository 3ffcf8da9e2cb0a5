"""Exports keep MovieLens' integer ids, so they join with the dataset's own files (issue 19, item 1)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands


def _u_item(ml100k: Path) -> pd.DataFrame:
    return pd.read_csv(
        ml100k / "u.item", sep="|", encoding="latin-1", header=None, usecols=[0, 1], names=["item_id", "title"]
    )


def test_exports_and_store_views_join_with_movielens(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "2", "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    u_item = _u_item(ml100k)
    ratings = pd.read_parquet(out / "ratings.parquet")
    assert ratings["user_id"].dtype == "int64" and ratings["item_id"].dtype == "int64"
    joined = ratings.merge(u_item, on="item_id")
    assert len(joined) == len(ratings) == 20 and joined["title"].notna().all()
    profiles = pd.read_parquet(out / "profiles.parquet")
    assert profiles["user_id"].dtype == "int64"
    first_state = json.loads((out / "profiles.jsonl").read_text().splitlines()[0])
    assert isinstance(first_state["user_id"], int) and all(isinstance(item, int) for item in first_state["item_ids"])
    history = pd.read_csv(out / "history.csv")
    assert history.merge(u_item, on="item_id").shape[0] == len(history)
    with sqlite3.connect(out / "run.sqlite") as db:
        stored = pd.read_sql("SELECT * FROM ratings_view", db)
        stored_profiles = pd.read_sql("SELECT * FROM profiles_view", db)
    assert stored["item_id"].dtype == "int64" and stored.merge(u_item, on="item_id").shape[0] == 20
    assert set(stored_profiles["user_id"]) == set(ratings["user_id"])
