"""Collaborative-filtering baselines trained on exactly the simulator's training slice.

The paper compares its simulator with scikit-surprise models trained on the same history the LLM saw
(each user's last 40 ratings). Predictions are returned unrounded; surprise clips them to the scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lusifer.api.errors import DataError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

#: Baselines in report order; ``UserItemBias`` is surprise's BaselineOnly (ALS-fitted user+item biases).
BASELINES = ("UserItemBias", "KNNBaseline", "SVD", "NMF", "ItemMean", "UserMean")


def _surprise_models(seed: int) -> dict[str, Callable[[], Any]]:
    from surprise import NMF, SVD, BaselineOnly, KNNBaseline

    return {
        "UserItemBias": lambda: BaselineOnly(verbose=False),
        "KNNBaseline": lambda: KNNBaseline(k=40, sim_options={"name": "cosine", "user_based": True}, verbose=False),
        "SVD": lambda: SVD(n_factors=100, n_epochs=20, random_state=seed),
        "NMF": lambda: NMF(n_factors=15, n_epochs=50, random_state=seed),
    }


def _mean_prediction(train: pd.DataFrame, test: pd.DataFrame, key: str) -> pd.Series:
    means = train.groupby(key)["rating"].mean()
    return test[key].map(means).astype(float).fillna(float(train["rating"].mean()))


def predict_baselines(
    train: pd.DataFrame,
    test: pd.DataFrame,
    names: Sequence[str] = BASELINES,
    seed: int = 0,
    scale: tuple[float, float] = (1, 5),
) -> pd.DataFrame:
    """Fit each baseline on ``train`` and predict the ``test`` rows.

    :param train: the training slice: ``user_id``, ``item_id``, ``rating`` (other columns ignored).
    :param test: rows to predict: ``user_id``, ``item_id`` (ids comparable with ``train``'s).
    :param names: baselines from :data:`BASELINES`.
    :param seed: random state of SVD and NMF (their results also depend on row order, so training rows
        are sorted by user and item first).
    :param scale: ``(low, high)`` of the ratings; surprise clips its predictions to it.
    :returns: one float column per baseline, indexed like ``test``. Unknown users or items fall back
        to the model's default (global mean or biases), never NaN.
    """
    import pandas as pd

    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        raise NotFoundError(f"unknown baseline(s) {', '.join(unknown)}; known: {', '.join(BASELINES)}")
    missing = [column for column in ("user_id", "item_id", "rating") if column not in train.columns]
    if missing or train.empty:
        raise DataError(f"training slice for the baselines is empty or lacks {', '.join(missing) or 'rows'}")
    result = pd.DataFrame(index=test.index)
    models = _surprise_models(seed) if set(names) & {"UserItemBias", "KNNBaseline", "SVD", "NMF"} else {}
    # surprise's cosine similarity and NMF need positive ratings: shift scales starting below 1 (clicks)
    offset = max(0.0, 1.0 - float(scale[0]))
    trainset = None
    for name in names:
        if name == "UserMean":
            result[name] = _mean_prediction(train, test, "user_id")
        elif name == "ItemMean":
            result[name] = _mean_prediction(train, test, "item_id")
        else:
            if trainset is None:
                from surprise import Dataset, Reader

                # surprise's random initialisation follows row order: fix it so results ignore input order
                ordered = train[["user_id", "item_id", "rating"]].sort_values(["user_id", "item_id"], kind="stable")
                ordered = ordered.assign(rating=ordered["rating"].astype(float) + offset)
                reader = Reader(rating_scale=(scale[0] + offset, scale[1] + offset))
                trainset = Dataset.load_from_df(ordered, reader).build_full_trainset()
            model = models[name]()
            model.fit(trainset)
            result[name] = [
                model.predict(user, item).est - offset for user, item in zip(test["user_id"], test["item_id"])
            ]
    return result
