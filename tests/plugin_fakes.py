"""A small in-process plugin for plugin tests: six readers rating six books, with a settings section."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel

from lusifer import hookimpl
from lusifer.api.domain import STAR_RATING, Dataset, Domain, Split


class ShelfSettings(BaseModel, extra="forbid"):
    users: int = 6


class ShelfDomain(Domain):
    """Six readers rating six books; ``[plugins.shelf] users`` keeps the first N readers."""

    name = "shelf"
    scale = STAR_RATING
    datasets = ("shelf-6",)
    env_name = "Shelf"

    def load(self, dataset: str, config) -> Dataset:
        settings = config.plugin_settings("shelf")
        users = list(range(1, settings.users + 1))
        items = [str(100 + i) for i in range(6)]
        rows = [(u, i, 1 + (u + n) % 5, n) for u in users for n, i in enumerate(items)]
        ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
        return Dataset(
            dataset,
            pd.DataFrame({"user_info": [""] * len(users)}, index=pd.Index(users, name="user_id")),
            pd.DataFrame(
                {"title": items, "item_info": [f"Book {i}." for i in items], "has_text": [True] * 6},
                index=pd.Index(items, name="item_id"),
            ),
            ratings,
        )

    def split(self, data: Dataset, fold, seed: int) -> Split:
        train = data.ratings[data.ratings["timestamp"] < 4]
        return Split("all", train, data.ratings[data.ratings["timestamp"] >= 4])


class Shelf:
    @hookimpl
    def register_domains(self, register):
        register(ShelfDomain())

    @hookimpl
    def register_settings(self, register):
        register("shelf", ShelfSettings)
