"""Domain-independent selections over rating tables: histories, test items, statistics, cold start.

Every function takes and returns pandas tables with the ``user_id, item_id, rating, timestamp``
columns of :class:`lusifer.api.domain.Dataset` ratings (plus any extra columns, which are kept), and
returns them with a fresh 0..n-1 index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from lusifer.api.domain import Split
    from lusifer.api.settings import DataConfig


def last_n(ratings: pd.DataFrame, n: int) -> pd.DataFrame:
    """Each user's last ``n`` ratings by timestamp (ties: later in the file counts as later).

    Rows come out in chronological order per user, users in ascending id order.
    """
    position = np.arange(len(ratings))
    order = np.lexsort((position, ratings["timestamp"].to_numpy(), ratings["user_id"].to_numpy()))
    ordered = ratings.iloc[order]
    return ordered.groupby("user_id", sort=False).tail(n).reset_index(drop=True)


def select_test(test: pd.DataFrame, items: pd.DataFrame, per_user: int | None, require_text: bool) -> pd.DataFrame:
    """Per user, the first ``per_user`` test rows in file order (all rows when None).

    With ``require_text`` only items whose ``items.has_text`` is True are kept (before counting);
    items missing from ``items`` count as having no text. Users come out in ascending id order, each
    user's rows in file order.
    """
    kept = test
    if require_text:
        has_text = test["item_id"].map(items["has_text"]).fillna(False).astype(bool)
        kept = test[has_text.to_numpy()]
    kept = kept.iloc[np.argsort(kept["user_id"].to_numpy(), kind="stable")]
    if per_user is not None:
        kept = kept.groupby("user_id", sort=False).head(per_user)
    return kept.reset_index(drop=True)


def item_stats(ratings: pd.DataFrame) -> pd.DataFrame:
    """Mean rating (float) and number of ratings (int) per item, indexed by ``item_id``."""
    return _stats(ratings, "item_id")


def user_stats(ratings: pd.DataFrame) -> pd.DataFrame:
    """Mean rating (float) and number of ratings (int) per user, indexed by ``user_id``."""
    return _stats(ratings, "user_id")


def _stats(ratings: pd.DataFrame, key: str) -> pd.DataFrame:
    grouped = ratings.groupby(key)["rating"]
    return pd.DataFrame({"mean": grouped.mean().astype(float), "count": grouped.size().astype(np.int64)})


def cold_start_users(train: pd.DataFrame, test: pd.DataFrame, n: int) -> set[int]:
    """Test users with fewer than ``n`` training ratings (including none)."""
    return _cold(train, test, n, "user_id")


def cold_start_items(train: pd.DataFrame, test: pd.DataFrame, n: int) -> set[int]:
    """Test items with fewer than ``n`` training ratings (including none)."""
    return _cold(train, test, n, "item_id")


def _cold(train: pd.DataFrame, test: pd.DataFrame, n: int, key: str) -> set[int]:
    counts = train[key].value_counts()
    candidates = pd.unique(test[key])
    training = counts.reindex(candidates, fill_value=0).to_numpy()
    return {value.item() if hasattr(value, "item") else value for value in candidates[training < n]}


def protocol_slices(split: Split, items: pd.DataFrame, config: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The evaluation protocol's inputs: (last ``config.history`` training ratings per user,
    test rows chosen by ``config.test_items`` and ``config.require_text``)."""
    history = last_n(split.train, config.history)
    test = select_test(split.test, items, config.test_items, config.require_text)
    return history, test
