"""Faithful parsers of MIND's ``news.tsv`` and ``behaviors.tsv``.

Anything wrong — a missing file, a wrong number of tab-separated fields, an unparseable time, an
impression that is not ``<news id>-<0|1>``, broken entity JSON, undecodable bytes — is a
:class:`~lusifer.api.errors.DataError` naming the file and the line.

``news.tsv``: news id, category, subcategory, title, abstract, URL, title entities, abstract entities
(JSON lists of ``{"Label", "Type", "WikidataId", ...}``).

``behaviors.tsv``: impression id, user id, time (``11/15/2019 8:55:22 AM``), the user's click history
(space-separated news ids, oldest first, may be empty) and the impression (``N123-1 N456-0``: shown
news ids with 1 for a click and 0 for a skip). Unlabelled impressions (MIND-large's test file) are
rejected: they have nothing to evaluate against.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lusifer import DataError

NEWS_FIELDS = 8
BEHAVIOR_FIELDS = 5
TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


@dataclass
class Behaviors:
    """The parsed lines of one ``behaviors.tsv``.

    :param shown: one row per shown news item — ``user_id``, ``item_id``, ``rating`` (1 click, 0 skip),
        ``timestamp`` (seconds) — in file order.
    :param shown_lines: the file line of each ``shown`` row.
    :param histories: each user's click history, oldest first, without repeats (first line wins).
    :param history_lines: the file line each history was read from.
    """

    path: Path
    shown: pd.DataFrame
    shown_lines: np.ndarray
    histories: dict[str, list[str]]
    history_lines: dict[str, int]


def read_news(path: Path) -> pd.DataFrame:
    """``news.tsv`` indexed by ``item_id`` with ``category``, ``subcategory``, ``title``, ``abstract``
    and ``entities`` (the distinct entity labels of title and abstract, comma-separated)."""
    rows = []
    seen: set[str] = set()
    for number, fields in _fields(path, NEWS_FIELDS):
        news_id, category, subcategory, title, abstract = (field.strip() for field in fields[:5])
        if not news_id or not title:
            raise DataError(f"{path}, line {number}: news id and title must not be empty")
        if news_id in seen:
            raise DataError(f"{path}, line {number}: news id {news_id} appears twice")
        seen.add(news_id)
        labels = _entity_labels(fields[6], path, number) + _entity_labels(fields[7], path, number)
        entities = ", ".join(dict.fromkeys(labels))
        rows.append((news_id, category, subcategory, title, abstract, entities))
    columns = ["item_id", "category", "subcategory", "title", "abstract", "entities"]
    return pd.DataFrame(rows, columns=columns).set_index("item_id")


def read_behaviors(path: Path) -> Behaviors:
    """``behaviors.tsv``: the shown items with their click labels, and every user's click history."""
    users: list[str] = []
    items: list[str] = []
    labels: list[str] = []
    counts: list[int] = []
    times: list[str] = []
    lines: list[int] = []
    histories: dict[str, list[str]] = {}
    history_lines: dict[str, int] = {}
    for number, (_impression, user, time, history, impression) in _fields(path, BEHAVIOR_FIELDS):
        user = user.strip()
        if not user:
            raise DataError(f"{path}, line {number}: the user id is empty")
        tokens = impression.split()
        bad = next((token for token in tokens if len(token) < 3 or token[-2] != "-" or token[-1] not in "01"), None)
        if bad is not None or not tokens:
            shown = repr(bad) if bad is not None else "nothing"
            raise DataError(f"{path}, line {number}: impression {shown} is not '<news id>-<1|0>' (unlabelled?)")
        if user not in histories:
            histories[user] = list(dict.fromkeys(history.split()))
            history_lines[user] = number
        users.extend([user] * len(tokens))
        items.extend(token[:-2] for token in tokens)
        labels.extend(token[-1] for token in tokens)
        counts.append(len(tokens))
        times.append(time.strip())
        lines.append(number)
    seconds = _seconds(times, lines, path)
    shown = pd.DataFrame(
        {
            "user_id": _shared(users),
            "item_id": _shared(items),
            "rating": np.array(labels, dtype="U1").astype(np.int8),
            "timestamp": np.repeat(seconds, counts),
        }
    )
    return Behaviors(path, shown, np.repeat(np.array(lines, dtype=np.int64), counts), histories, history_lines)


def _seconds(times: list[str], lines: list[int], path: Path) -> np.ndarray:
    parsed = pd.to_datetime(pd.Series(times, dtype=object), format=TIME_FORMAT, errors="coerce")
    if parsed.isna().any():
        row = int(parsed.isna().to_numpy().argmax())
        raise DataError(f"{path}, line {lines[row]}: time {times[row]!r} is not like '11/15/2019 8:55:22 AM'")
    return ((parsed - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


def _shared(values: list[str]) -> np.ndarray:
    """An object array whose equal strings are one object (millions of ids cost 8 bytes each)."""
    return np.asarray(pd.Categorical(values).astype(object)) if values else np.array([], dtype=object)


def _entity_labels(text: str, path: Path, number: int) -> list[str]:
    text = text.strip()
    if not text:
        return []
    try:
        entities = json.loads(text)
    except ValueError:
        raise DataError(f"{path}, line {number}: entities are not valid JSON: {text[:60]!r}") from None
    if not isinstance(entities, list):
        raise DataError(f"{path}, line {number}: entities must be a JSON list")
    return [str(entity["Label"]) for entity in entities if isinstance(entity, dict) and entity.get("Label")]


def _fields(path: Path, count: int) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise DataError(f"{path}: file not found (is this an unpacked MIND folder?)")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not valid UTF-8 text") from None
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != count:
            raise DataError(f"{path}, line {number}: expected {count} tab-separated fields, found {len(fields)}")
        yield number, fields
