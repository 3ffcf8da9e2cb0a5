"""Generic selections over rating tables, and the paper's protocol slice on the real ML-100K."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lusifer.api.domain import Split
from lusifer.api.settings import DataConfig
from lusifer.domains.movies.domain import MoviesDomain
from lusifer.engine import selection

TMDB_100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tmdb" / "ml-100k-tmdb.csv"


def _ratings(rows: list[tuple[int, int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


RATINGS = _ratings(
    [
        (2, 10, 4, 50),
        (1, 11, 5, 30),
        (1, 12, 3, 10),
        (2, 13, 2, 10),
        (1, 14, 1, 30),
        (1, 15, 2, 20),
        (3, 16, 5, 1),
    ]
)


def test_last_n_is_chronological_per_user_with_file_order_ties() -> None:
    history = selection.last_n(RATINGS, 2)
    assert history.values.tolist() == [
        [1, 11, 5, 30], [1, 14, 1, 30],  # tie at 30: item 11 comes first in the file
        [2, 13, 2, 10], [2, 10, 4, 50],
        [3, 16, 5, 1],
    ]  # fmt: skip
    assert list(history.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert list(history.index) == list(range(5))
    assert selection.last_n(RATINGS, 10)["item_id"].tolist() == [12, 15, 11, 14, 13, 10, 16]


def test_select_test_filters_then_takes_first_rows_in_file_order() -> None:
    items = pd.DataFrame(
        {"has_text": [True, False, True, True, True]}, index=pd.Index([10, 11, 12, 13, 14], name="item_id")
    )
    picked = selection.select_test(RATINGS, items, per_user=2, require_text=True)
    assert picked[["user_id", "item_id"]].values.tolist() == [
        [1, 12],
        [1, 14],
        [2, 10],
        [2, 13],
    ]  # 11 no text, 15/16 unknown
    everything = selection.select_test(RATINGS, items, per_user=None, require_text=False)
    assert everything["item_id"].tolist() == [11, 12, 14, 15, 10, 13, 16]
    assert selection.select_test(RATINGS, items, per_user=1, require_text=False)["item_id"].tolist() == [
        11,
        10,
        16,
    ]


def test_stats() -> None:
    items = selection.item_stats(_ratings([(1, 1, 5, 0), (2, 1, 2, 0), (1, 2, 4, 0)]))
    assert items.index.name == "item_id" and items.loc[1, "mean"] == 3.5 and items.loc[2, "count"] == 1
    assert items["mean"].dtype == float and items["count"].dtype.kind == "i"
    users = selection.user_stats(RATINGS)
    assert users.index.name == "user_id" and users.loc[1].tolist() == [2.75, 4]


def test_cold_start() -> None:
    train = _ratings([(1, 1, 5, 0), (1, 2, 4, 0), (2, 1, 3, 0)])
    test = _ratings([(1, 3, 5, 0), (2, 2, 3, 0), (3, 1, 1, 0)])
    assert selection.cold_start_users(train, test, 2) == {2, 3}
    assert selection.cold_start_items(train, test, 2) == {2, 3}
    assert selection.cold_start_items(train, test, 1) == {3}
    assert all(type(value) is int for value in selection.cold_start_users(train, test, 2))


def test_protocol_slices_on_synthetic_split() -> None:
    items = pd.DataFrame({"has_text": [True] * 7}, index=pd.Index(range(10, 17), name="item_id"))
    split = Split("x", RATINGS, RATINGS)
    history, test = selection.protocol_slices(split, items, DataConfig(history=1, test_items=1))
    assert history["item_id"].tolist() == [14, 10, 16] and test["item_id"].tolist() == [11, 10, 16]


def test_paper_protocol_on_real_ml100k(ml100k: Path) -> None:
    if not TMDB_100K.is_file():
        pytest.skip(f"shared TMDB enrichment not found at {TMDB_100K}")
    domain = MoviesDomain()
    config = DataConfig(path=ml100k, enrich_file=TMDB_100K, history=40, test_items=10, require_text=True)
    data = domain.load("ml-100k", config)
    history, test = selection.protocol_slices(domain.split(data, "u1", seed=0), data.items, config)
    assert (len(test), test["user_id"].nunique()) == (4292, 459)
    assert history.groupby("user_id").size().max() == 40 and history["user_id"].nunique() == 943
    assert history.groupby("user_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()
    assert test.groupby("user_id")["item_id"].apply(lambda i: i.is_monotonic_increasing).all()  # file order
