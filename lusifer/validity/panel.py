"""The reference recommenders of the ranking-agreement check, all trained on the simulator's history.

Each recommender scores ``(user_id, item_id)`` pairs (higher = recommended earlier). The panel spans
weak to strong on purpose: a simulator that reaches real users' conclusions must order them as the
held-out ratings do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lusifer.api.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

Scorer = Callable[["pd.DataFrame", "pd.DataFrame | None", "pd.DataFrame", int], np.ndarray]
#: Pseudo-count shrinking an item's mean toward the global mean (the highest-mean recommender).
MEAN_SHRINKAGE = 5.0
_TOKEN = re.compile(r"[a-z][a-z'-]{2,}")


def random_scores(history: pd.DataFrame, items: pd.DataFrame | None, pairs: pd.DataFrame, seed: int) -> np.ndarray:
    """A stable pseudo-random score per pair."""
    keys = (f"{seed}\0{user}\0{item}".encode() for user, item in zip(pairs["user_id"], pairs["item_id"]))
    return np.array([int.from_bytes(hashlib.sha256(key).digest()[:6], "big") for key in keys], dtype=float)


def most_popular(history: pd.DataFrame, items: pd.DataFrame | None, pairs: pd.DataFrame, seed: int) -> np.ndarray:
    """How many training ratings the item has."""
    counts: np.ndarray = pairs["item_id"].map(history["item_id"].value_counts()).fillna(0).to_numpy(float)
    return counts


def highest_mean(history: pd.DataFrame, items: pd.DataFrame | None, pairs: pd.DataFrame, seed: int) -> np.ndarray:
    """The item's mean training rating, shrunk toward the global mean by :data:`MEAN_SHRINKAGE` ratings."""
    grouped = history.groupby("item_id")["rating"]
    overall = float(history["rating"].mean())
    shrunk = (grouped.sum() + MEAN_SHRINKAGE * overall) / (grouped.size() + MEAN_SHRINKAGE)
    means: np.ndarray = pairs["item_id"].map(shrunk).fillna(overall).to_numpy(float)
    return means


def _surprise(name: str) -> Scorer:
    def scores(history: pd.DataFrame, items: pd.DataFrame | None, pairs: pd.DataFrame, seed: int) -> np.ndarray:
        from lusifer.engine.baselines import predict_baselines

        predicted: np.ndarray = predict_baselines(history, pairs, [name], seed=seed)[name].to_numpy(float)
        return predicted

    scores.__doc__ = f"scikit-surprise's {name} prediction (as in ``lusifer evaluate``)."
    return scores


def item_knn(history: pd.DataFrame, items: pd.DataFrame | None, pairs: pd.DataFrame, seed: int) -> np.ndarray:
    """scikit-surprise's item-based KNNBasic (k=40, cosine) prediction."""
    from surprise import Dataset, KNNBasic, Reader

    ordered = history[["user_id", "item_id", "rating"]].sort_values(["user_id", "item_id"], kind="stable")
    low, high = float(ordered["rating"].min()), float(ordered["rating"].max())
    trainset = Dataset.load_from_df(ordered, Reader(rating_scale=(low, high))).build_full_trainset()
    model = KNNBasic(k=40, sim_options={"name": "cosine", "user_based": False}, verbose=False)
    model.fit(trainset)
    return np.array([model.predict(u, i).est for u, i in zip(pairs["user_id"], pairs["item_id"])])


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def content_based(history: pd.DataFrame, items: pd.DataFrame | None, pairs: pd.DataFrame, seed: int) -> np.ndarray:
    """Cosine between the item's TF-IDF vector (title and text) and the user's taste vector: the sum of
    their rated items' vectors weighted by the rating's deviation from the user's mean."""
    import pandas as pd
    from scipy.sparse import csr_matrix

    if items is None:
        raise DataError("the content-based recommender needs item text (title, item_info)")
    text = items["title"].astype(str) + " " + items["item_info"].astype(str)
    vocabulary: dict[str, int] = {}
    rows, columns = [], []
    for row, document in enumerate(text):
        for token in set(_tokens(document)):
            rows.append(row)
            columns.append(vocabulary.setdefault(token, len(vocabulary)))
    presence = csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(text), max(len(vocabulary), 1)))
    idf = np.log((1 + len(text)) / (1 + np.asarray(presence.sum(axis=0)).ravel())) + 1.0
    vectors = presence.multiply(idf).tocsr()
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    vectors = csr_matrix(vectors.multiply(1.0 / np.where(norms > 0, norms, 1.0)[:, None]))
    position = pd.Series(np.arange(len(items)), index=items.index.astype(str))
    rated = history.assign(position=history["item_id"].astype(str).map(position)).dropna(subset=["position"])
    deviation = rated["rating"] - rated.groupby("user_id")["rating"].transform("mean")
    user_codes, users = pd.factorize(rated["user_id"])
    taste = (
        csr_matrix(
            (deviation.to_numpy(float), (user_codes, rated["position"].to_numpy(int))), shape=(len(users), len(items))
        )
        @ vectors
    )
    taste_norm = np.sqrt(np.asarray(taste.multiply(taste).sum(axis=1)).ravel())
    user_row = pd.Series(np.arange(len(users)), index=users)
    pair_users = pairs["user_id"].map(user_row).to_numpy(float)
    pair_items = pairs["item_id"].astype(str).map(position).to_numpy(float)
    known = np.isfinite(pair_users) & np.isfinite(pair_items)
    scores = np.zeros(len(pairs))
    if known.any():
        u, i = pair_users[known].astype(int), pair_items[known].astype(int)
        dots = np.asarray(taste[u].multiply(vectors[i]).sum(axis=1)).ravel()
        scores[known] = dots / np.where(taste_norm[u] > 0, taste_norm[u], 1.0)
    return scores


#: The built-in panel, in report order.
PANEL: dict[str, Scorer] = {
    "random": random_scores,
    "most_popular": most_popular,
    "highest_mean": highest_mean,
    "user_knn": _surprise("KNNBaseline"),
    "item_knn": item_knn,
    "svd": _surprise("SVD"),
    "content_tfidf": content_based,
}


def file_scores(path: Path, pairs: pd.DataFrame) -> np.ndarray:
    """Scores of a recommender from a CSV (``user_id, item_id, score``); pairs it lacks score lowest."""
    from lusifer.evaluation.inputs import _numeric, _require, _with_item_id, read_csv

    path = Path(path)
    table = _with_item_id(read_csv(path), path)
    _require(table, ("user_id", "score"), path)
    table["score"] = _numeric(table, "score", path)
    lookup = dict(zip(zip(table["user_id"].astype(str), table["item_id"].astype(str)), table["score"]))
    keys = zip(pairs["user_id"].astype(str), pairs["item_id"].astype(str))
    return np.array([lookup.get(key, -np.inf) for key in keys], dtype=float)


def panel_scores(
    history: pd.DataFrame,
    items: pd.DataFrame | None,
    pairs: pd.DataFrame,
    seed: int = 0,
    recommender_file: Path | None = None,
) -> pd.DataFrame:
    """One score column per recommender for ``pairs`` (the content recommender only with item text)."""
    import pandas as pd

    result = pd.DataFrame(index=pairs.index)
    for name, scorer in PANEL.items():
        if name == "content_tfidf" and items is None:
            continue
        result[name] = scorer(history, items, pairs, seed)
    if recommender_file is not None:
        result[Path(recommender_file).stem] = file_scores(recommender_file, pairs)
    return result
