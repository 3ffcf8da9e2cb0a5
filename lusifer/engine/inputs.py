"""What the simulator needs from a loaded dataset, in plain Python structures keyed by string ids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lusifer.api.prompt_context import ItemFeatures
from lusifer.engine.requests import CatalogueItem, Interaction

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.api.domain import Domain


def item_texts(items: pd.DataFrame, domain: Domain) -> dict[str, CatalogueItem]:
    """Title, prompt text and the domain's structured features of every item, by item id."""
    features = domain.item_features(items)
    empty = ItemFeatures()
    return {
        str(item_id): CatalogueItem(str(title), str(info), features.get(str(item_id), empty))
        for item_id, title, info in zip(items.index, items["title"], items["item_info"])
    }


def community_stats(history: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{"mean", "count"}`` of the training slice's feedback per item id (shown when rating)."""
    from lusifer.engine.selection import item_stats

    stats = item_stats(history)
    return {
        str(item_id): {"mean": round(float(mean), 2), "count": int(count)}
        for item_id, mean, count in zip(stats.index, stats["mean"], stats["count"])
    }


def histories_by_user(history: pd.DataFrame) -> dict[str, list[Interaction]]:
    """Each user's feedback in the given (chronological) order."""
    grouped: dict[str, list[Interaction]] = {}
    for user_id, item_id, rating, timestamp in zip(
        history["user_id"], history["item_id"], history["rating"], history["timestamp"]
    ):
        grouped.setdefault(str(user_id), []).append(Interaction(str(item_id), int(rating), int(timestamp)))
    return grouped


def user_info_of(users_info: Any, user_id: str) -> str:
    """The ``user_info`` text of ``user_id`` from the users table's column (ids may be int or str)."""
    if users_info is None:
        return ""
    for key in (user_id, int(user_id) if user_id.isdigit() else None):
        if key is not None and key in users_info.index:
            return str(users_info.loc[key])
    return ""
