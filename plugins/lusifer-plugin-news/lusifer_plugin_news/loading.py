"""Build a :class:`~lusifer.api.domain.Dataset` from the two MIND folders, and split it.

Tables:

- ``items``: every news item of both ``news.tsv`` files (the train copy wins). ``item_info`` is the
  title, category and subcategory, abstract and the named entities; ``has_text`` is True when the
  item has an abstract.
- ``users``: every user of both ``behaviors.tsv`` files; ``user_info`` is empty (MIND has no
  demographics).
- ``ratings`` (1 click, 0 skip), in this order: the click histories (rating 1; train file first,
  then what the dev file adds), the train impressions, the dev impressions. History clicks carry no
  time in MIND: a user's ``n`` history clicks get the ``n`` seconds just before their first impression,
  oldest first, so they precede everything the user was shown.

Split ``dev`` (the only fold): training = history clicks and train impressions; test = the dev
impressions, one row per (user, news item) — an item shown to a user in several dev impressions keeps
the label of its first showing. ``Dataset.metadata["test_rows"]`` counts the dev impression rows at
the end of ``ratings``.

Loading is cached per process (keyed on the folders and the files' modification times).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from lusifer import DataError, Dataset, Split
from lusifer_plugin_news.download import source_of
from lusifer_plugin_news.readers import Behaviors, read_behaviors, read_news

FOLDS = ("dev",)


def load_folders(name: str, train_dir: Path, test_dir: Path) -> Dataset:
    """The dataset ``name`` from the unpacked train and dev folders."""
    train_dir, test_dir = train_dir.resolve(), test_dir.resolve()
    stamp = tuple(
        (folder / file).stat().st_mtime if (folder / file).is_file() else 0.0
        for folder in (train_dir, test_dir)
        for file in ("behaviors.tsv", "news.tsv")
    )
    data = _load_cached(name, train_dir, test_dir, stamp)
    tables = (frame.copy(deep=False) for frame in (data.users, data.items, data.ratings))
    return Dataset(data.name, *tables, folds=data.folds, metadata=dict(data.metadata))


def dev_split(data: Dataset) -> Split:
    """Training: history clicks and train impressions; test: the dev impressions (see the module doc)."""
    cut = len(data.ratings) - int(data.metadata["test_rows"])  # type: ignore[call-overload]
    train = data.ratings.iloc[:cut].reset_index(drop=True)
    test = data.ratings.iloc[cut:].drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)
    return Split("dev", train, test)


def item_text(title: str, category: str, subcategory: str, abstract: str, entities: str) -> str:
    """``"Title. Category: sports, golf. Abstract: ... Mentions: Tiger Woods."``"""
    parts = [_sentence(title)]
    topics = ", ".join(topic for topic in (category, subcategory) if topic)
    if topics:
        parts.append(f"Category: {topics}.")
    if abstract:
        parts.append(_sentence(f"Abstract: {abstract}"))
    if entities:
        parts.append(f"Mentions: {entities}.")
    return " ".join(parts)


@functools.lru_cache(maxsize=2)
def _load_cached(name: str, train_dir: Path, test_dir: Path, stamp: tuple[float, ...]) -> Dataset:
    del stamp  # part of the cache key only
    news = read_news(train_dir / "news.tsv")
    extra = read_news(test_dir / "news.tsv")
    news = pd.concat([news, extra[~extra.index.isin(news.index)]])
    train = read_behaviors(train_dir / "behaviors.tsv")
    test = read_behaviors(test_dir / "behaviors.tsv")
    for behaviors in (train, test):
        _check_known(behaviors, news.index)
    ratings = pd.concat([_history_rows(train, test), train.shown, test.shown], ignore_index=True)
    text_columns = ["title", "category", "subcategory", "abstract", "entities"]
    items = news.assign(
        item_info=[item_text(*row) for row in news[text_columns].itertuples(index=False)],
        has_text=news["abstract"].str.len() > 0,
    )
    users = pd.DataFrame({"user_info": ""}, index=pd.Index(pd.unique(ratings["user_id"]), name="user_id"))
    metadata: dict[str, object] = {
        "sources": [source_of(train_dir), source_of(test_dir)],
        "path": str(train_dir.parent),
        "test_rows": len(test.shown),
        "history_note": "history clicks have no time in MIND: they get the seconds before the first impression",
    }
    items = items[["title", "item_info", "has_text", "category", "subcategory", "abstract", "entities"]]
    return Dataset(name, users, items, ratings, FOLDS, metadata)


def _history_rows(*parts: Behaviors) -> pd.DataFrame:
    """Each user's click history (rating 1) timed in the seconds before their first impression."""
    histories: dict[str, list[str]] = {}
    for part in parts:
        for user, clicks in part.histories.items():
            histories[user] = list(dict.fromkeys(histories.get(user, []) + clicks))
    shown = pd.concat([part.shown[["user_id", "timestamp"]] for part in parts])
    first = shown.groupby("user_id", sort=False)["timestamp"].min().to_dict()
    users, items, times = [], [], []
    for user, clicks in histories.items():
        users.extend([user] * len(clicks))
        items.extend(clicks)
        times.append(first[user] - len(clicks) + np.arange(len(clicks)))
    return pd.DataFrame(
        {
            "user_id": np.array(users, dtype=object),
            "item_id": np.array(items, dtype=object),
            "rating": np.ones(len(users), dtype=np.int8),
            "timestamp": np.concatenate(times).astype(np.int64) if times else np.array([], dtype=np.int64),
        }
    )


def _check_known(behaviors: Behaviors, known: pd.Index) -> None:
    """Raise a :class:`DataError` at the first line naming a news id missing from ``news.tsv``."""
    unknown = ~behaviors.shown["item_id"].isin(known).to_numpy()
    if unknown.any():
        row = int(unknown.argmax())
        raise DataError(
            f"{behaviors.path}, line {behaviors.shown_lines[row]}: news id {behaviors.shown['item_id'].iloc[row]} "
            "is in no news.tsv"
        )
    known_ids = set(known)
    for user, clicks in behaviors.histories.items():
        missing = [item for item in clicks if item not in known_ids]
        if missing:
            line = behaviors.history_lines[user]
            raise DataError(f"{behaviors.path}, line {line}: history news id {missing[0]} is in no news.tsv")


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?", "…", '"')) else text + "."
