"""Build a :class:`~lusifer.api.domain.Dataset` from the reviews and metadata files, and split it.

Tables:

- ``items``: every item of the metadata file. ``item_info`` joins the title, the store (usually the
  artist), categories, features, the start of the description and the average customer rating;
  ``has_text`` is True when the item has a description or features. The average rating is Amazon's
  public one at crawl time, so it also reflects held-out reviews: a test label can leak through it.
- ``users``: every reviewer; ``user_info`` is empty (reviews carry no demographics).
- ``ratings``: the reviews in file order, 1-5 stars, timestamps in seconds. Reviews of items missing
  from the metadata are dropped (``Dataset.metadata["reviews_without_metadata"]`` counts them); a user
  who reviewed an item twice keeps the latest review.

Folds (users with a single review are training data only):

- ``last-out`` (default): each user's latest review (by time, then file order) is their test item.
- ``80-20``: about 20% of each user's reviews (at least one), drawn with the run's seed.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from lusifer import Dataset, ItemFeatures, Split
from lusifer_plugin_music.download import source_of
from lusifer_plugin_music.readers import META_COLUMNS, read_meta, read_reviews

FOLDS = ("last-out", "80-20")
TEST_SHARE = 0.2
#: Characters of the description shown (cut at a word boundary).
DESCRIPTION_CHARS = 600


def load_files(name: str, reviews: Path, meta: Path) -> Dataset:
    """The dataset ``name`` from its reviews and metadata files (cached per process)."""
    reviews, meta = reviews.resolve(), meta.resolve()
    data = _load_cached(name, reviews, meta, (reviews.stat().st_mtime, meta.stat().st_mtime))
    tables = (frame.copy(deep=False) for frame in (data.users, data.items, data.ratings))
    return Dataset(data.name, *tables, folds=data.folds, metadata=dict(data.metadata))


def split(ratings: pd.DataFrame, fold: str, seed: int) -> Split:
    """Fold ``last-out`` or ``80-20`` (see the module docstring); both parts keep file order."""
    count = ratings.groupby("user_id")["user_id"].transform("size").to_numpy()
    if fold == "last-out":
        ordered = ratings.assign(position=np.arange(len(ratings))).sort_values(["timestamp", "position"])
        from_end = ordered.groupby("user_id").cumcount(ascending=False).reindex(ratings.index).to_numpy()
        test = (from_end == 0) & (count >= 2)
    else:
        noise = pd.Series(np.random.default_rng(seed).random(len(ratings)), index=ratings.index)
        rank = noise.groupby(ratings["user_id"]).rank(method="first").to_numpy()
        test = (count >= 2) & (rank <= np.maximum(1, np.round(count * TEST_SHARE)))
    return Split(fold, ratings[~test].reset_index(drop=True), ratings[test].reset_index(drop=True))


def item_text(
    title: str,
    store: str,
    categories: list[str],
    features: list[str],
    description: list[str],
    average: float,
    count: object,
) -> str:
    """``"Title. By Artist. Genres: Pop, Dance. Features ... Description: ... Average customer rating 4.6
    of 5 from 120 ratings."``"""
    parts = [_sentence(title)]
    if store:
        parts.append(_sentence(f"By {store}"))
    if categories:
        parts.append(_sentence("Genres: " + ", ".join(categories)))
    parts.extend(_sentence(feature) for feature in features)
    text = " ".join(description)
    if text:
        cut = text if len(text) <= DESCRIPTION_CHARS else text[:DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " …"
        parts.append(_sentence(f"Description: {cut}"))
    if not pd.isna(average):
        voters = f" from {int(count)} ratings" if not pd.isna(count) else ""  # type: ignore[call-overload]
        parts.append(f"Average customer rating {average:.1f} of 5{voters}.")
    return " ".join(parts)


def item_features(items: pd.DataFrame) -> dict[str, ItemFeatures]:
    """Per item id: its Amazon categories as genres, and its text without the ``Genres:`` sentence."""
    rows = items[META_COLUMNS].itertuples(index=False)
    return {
        str(item_id): ItemFeatures(genres=tuple(row.categories), description=item_text(*row._replace(categories=[])))
        for item_id, row in zip(items.index, rows)
    }


@functools.lru_cache(maxsize=2)
def _load_cached(name: str, reviews_path: Path, meta_path: Path, stamp: tuple[float, float]) -> Dataset:
    del stamp  # part of the cache key only
    meta = read_meta(meta_path)
    reviews = read_reviews(reviews_path)
    known = reviews["item_id"].isin(meta.index).to_numpy()
    ratings = reviews[known]
    latest = ratings.assign(position=np.arange(len(ratings))).sort_values(["timestamp", "position"])
    keep = ~latest.duplicated(["user_id", "item_id"], keep="last")
    ratings = ratings[keep.reindex(ratings.index).to_numpy()].reset_index(drop=True)
    meta["title"] = meta["title"].where(meta["title"] != "", meta.index.to_series())
    items = pd.DataFrame(
        {
            "title": meta["title"],
            "item_info": [item_text(*row) for row in meta[META_COLUMNS].itertuples(index=False)],
            "has_text": [
                bool(features or description) for features, description in zip(meta["features"], meta["description"])
            ],
        },
        index=meta.index,
    ).join(meta.drop(columns="title"))
    users = pd.DataFrame({"user_info": ""}, index=pd.Index(pd.unique(ratings["user_id"]), name="user_id"))
    metadata: dict[str, object] = {
        "sources": [source_of(reviews_path), source_of(meta_path)],
        "path": str(reviews_path.parent),
        "reviews_without_metadata": int((~known).sum()),
        "duplicate_reviews_dropped": int(known.sum() - len(ratings)),
    }
    return Dataset(name, users, items, ratings, FOLDS, metadata)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?", "…")) else text + "."
