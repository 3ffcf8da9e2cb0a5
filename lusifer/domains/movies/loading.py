"""Build a :class:`~lusifer.api.domain.Dataset` from an unpacked MovieLens folder, and split it.

``has_text`` is True for items the enrichment gave text (an overview, a tagline or TMDB genres): the
items an enrichment source matched. On ML-100K with ``ml-100k-tmdb.csv`` that is 1,591 movies, two of
them without an overview, and the paper's protocol (u1, last 40, first 10 test rows with text) yields
its 4,292 test rows for 459 users.

Loading is cached per process (keyed on the folder, the enrichment file and their modification
times); every call returns shallow copies of the cached tables, which callers should treat as
read-only.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from lusifer.api.domain import Dataset, Split
from lusifer.domains.movies import readers
from lusifer.domains.movies.datasets import DatasetSpec, get_spec
from lusifer.domains.movies.enrichment import apply_enrichment, read_enrichment
from lusifer.domains.movies.text import item_texts, user_texts

FOLDS_100K = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
KFOLDS = ("1", "2", "3", "4", "5")
#: Enrichment columns that make an item count as having rich text (``has_text``).
TEXT_COLUMNS = ("overview", "tagline", "tmdb_genres")
#: Main ratings file of each layout (its modification time keys the load cache).
RATINGS_FILE = {"100k": "u.data", "1m": "ratings.dat", "latest": "ratings.csv"}


def load_folder(spec: DatasetSpec, folder: Path, enrich: Path | None) -> Dataset:
    """The dataset in ``folder`` (laid out as ``spec.layout``), with ``enrich``'s text merged in."""
    folder, enrich = folder.resolve(), enrich.resolve() if enrich else None
    data = _load_cached(spec.name, folder, enrich, _stamp(folder / RATINGS_FILE[spec.layout], enrich))
    users, items, ratings = (frame.copy(deep=False) for frame in (data.users, data.items, data.ratings))
    return Dataset(data.name, users, items, ratings, folds=data.folds, metadata=dict(data.metadata))


def clear_cache() -> None:
    """Forget every dataset loaded in this process."""
    _load_cached.cache_clear()


def read_official_split(data: Dataset, fold: str) -> Split:
    """ML-100K's ``<fold>.base`` / ``<fold>.test`` files, checked against the dataset's ids."""
    folder = Path(str(data.metadata["path"]))
    parts = []
    for suffix in ("base", "test"):
        path = folder / f"{fold}.{suffix}"
        ratings = readers.read_100k_ratings(path)
        readers.check_ids(ratings, data.users.index, data.items.index, path)
        parts.append(ratings)
    return Split(fold, parts[0], parts[1])


def kfold_split(ratings: pd.DataFrame, fold: str, seed: int, folds: int = len(KFOLDS)) -> Split:
    """Fold ``fold`` ("1".."k") of a seeded per-user k-fold split; both parts keep file order."""
    rng = np.random.default_rng(seed)
    users = ratings["user_id"].to_numpy()
    order = np.lexsort((rng.random(len(users)), users))  # by user, shuffled within each user
    starts = np.flatnonzero(np.r_[True, np.diff(users[order]) != 0])
    lengths = np.diff(np.r_[starts, len(users)])
    offsets = rng.integers(0, folds, size=len(starts))  # spreads each user's remainder over the folds
    part = np.empty(len(users), dtype=np.int64)
    part[order] = (np.arange(len(users)) - np.repeat(starts - offsets, lengths)) % folds
    test = part == int(fold) - 1
    return Split(fold, ratings[~test].reset_index(drop=True), ratings[test].reset_index(drop=True))


def _stamp(*paths: Path | None) -> tuple[float, ...]:
    return tuple(path.stat().st_mtime if path is not None and path.is_file() else 0.0 for path in paths)


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, folder: Path, enrich: Path | None, stamp: tuple[float, ...]) -> Dataset:
    del stamp  # part of the cache key only
    spec = get_spec(name)
    users, items, ratings = _LAYOUTS[spec.layout](folder)
    if enrich is not None:
        items = apply_enrichment(items, read_enrichment(enrich))
    items["item_info"] = item_texts(items)
    items["has_text"] = items.reindex(columns=list(TEXT_COLUMNS)).notna().any(axis=1).to_numpy()
    users.insert(0, "user_info", user_texts(users))
    metadata: dict[str, object] = {
        "path": str(folder),
        "layout": spec.layout,
        "enrich_file": str(enrich) if enrich else None,
        "description": spec.description,
    }
    if spec.layout == "latest":
        metadata["rating_note"] = "half-star ratings rounded half up to 1..5"
    folds = FOLDS_100K if spec.layout == "100k" else KFOLDS
    return Dataset(name, users, items, ratings, folds, metadata)


def _load_100k(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    users = readers.read_100k_users(folder / "u.user")
    items = readers.read_100k_items(folder / "u.item")
    ratings = readers.read_100k_ratings(folder / "u.data")
    readers.check_ids(ratings, users.index, items.index, folder / "u.data")
    return users, items, ratings


def _load_1m(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    users = readers.read_1m_users(folder / "users.dat")
    items = readers.read_1m_movies(folder / "movies.dat")
    ratings = readers.read_1m_ratings(folder / "ratings.dat")
    readers.check_ids(ratings, users.index, items.index, folder / "ratings.dat")
    return users, items, ratings


def _load_latest(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    items = readers.read_latest_movies(folder / "movies.csv")
    links = folder / "links.csv"
    if links.is_file():
        items = items.join(readers.read_latest_links(links))
    ratings = readers.read_latest_ratings(folder / "ratings.csv")
    users = pd.DataFrame(index=pd.Index(np.unique(ratings["user_id"].to_numpy()), name="user_id"))
    readers.check_ids(ratings, users.index, items.index, folder / "ratings.csv", header=True)
    return users, items, ratings


_LAYOUTS = {"100k": _load_100k, "1m": _load_1m, "latest": _load_latest}
