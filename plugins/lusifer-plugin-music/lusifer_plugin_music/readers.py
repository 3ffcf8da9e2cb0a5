"""Faithful parsers of the Amazon Reviews 2023 JSON-lines files (gzipped or not).

Reviews (``Digital_Music.jsonl.gz``): one JSON object per line with ``user_id``, ``parent_asin``,
``rating`` (1.0 .. 5.0), ``timestamp`` (Unix milliseconds), plus review text Lusifer does not use.
Metadata (``meta_Digital_Music.jsonl.gz``): one object per item with ``parent_asin``, ``title``,
``store``, ``categories``, ``features``, ``description`` (lists of strings), ``average_rating`` and
``rating_number``.

Anything wrong — invalid JSON, a missing or mistyped field, a rating that is not a whole number of
stars from 1 to 5, a truncated gzip stream, undecodable bytes — is a
:class:`~lusifer.api.errors.DataError` naming the file and the line.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lusifer import DataError

META_COLUMNS = ["title", "store", "categories", "features", "description", "average_rating", "rating_number"]


def read_reviews(path: Path) -> pd.DataFrame:
    """Reviews as ``user_id``, ``item_id``, ``rating`` (int8) and ``timestamp`` (seconds), in file order."""
    users, items, ratings, times = [], [], [], []
    for number, record in _records(path):
        user, item = _text(record, "user_id", path, number), _text(record, "parent_asin", path, number)
        rating, stamp = record.get("rating"), record.get("timestamp")
        if isinstance(rating, bool) or not isinstance(rating, (int, float)) or rating not in (1, 2, 3, 4, 5):
            raise DataError(f"{path}, line {number}: rating {rating!r} is not a whole number of stars from 1 to 5")
        if isinstance(stamp, bool) or not isinstance(stamp, int) or stamp < 0:
            raise DataError(f"{path}, line {number}: timestamp {stamp!r} is not Unix milliseconds")
        users.append(user)
        items.append(item)
        ratings.append(int(rating))
        times.append(stamp // 1000)
    return pd.DataFrame(
        {
            "user_id": np.array(users, dtype=object),
            "item_id": np.array(items, dtype=object),
            "rating": np.array(ratings, dtype=np.int8),
            "timestamp": np.array(times, dtype=np.int64),
        }
    )


def read_meta(path: Path) -> pd.DataFrame:
    """Item metadata indexed by ``item_id`` (the parent ASIN); list fields stay lists of strings."""
    rows, seen = [], set()
    for number, record in _records(path):
        item = _text(record, "parent_asin", path, number)
        if item in seen:
            raise DataError(f"{path}, line {number}: parent_asin {item} appears twice")
        seen.add(item)
        lists = [_strings(record, field, path, number) for field in ("categories", "features", "description")]
        average, count = record.get("average_rating"), record.get("rating_number")
        if average is not None and (isinstance(average, bool) or not isinstance(average, (int, float))):
            raise DataError(f"{path}, line {number}: average_rating {average!r} is not a number")
        title = str(record.get("title") or "").strip()
        rows.append((item, title, str(record.get("store") or "").strip(), *lists, average, count))
    frame = pd.DataFrame(rows, columns=["item_id", *META_COLUMNS])
    frame["average_rating"] = pd.to_numeric(frame["average_rating"], errors="coerce")
    frame["rating_number"] = pd.to_numeric(frame["rating_number"], errors="coerce").astype("Int64")
    return frame.set_index("item_id")


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    number = 0
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):  # noqa: B007 - the last number locates errors
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except UnicodeDecodeError:
                    raise DataError(f"{path}, line {number}: not valid UTF-8 text") from None
                except ValueError:
                    raise DataError(f"{path}, line {number}: not a JSON object: {raw[:60]!r}") from None
                if not isinstance(record, dict):
                    raise DataError(f"{path}, line {number}: not a JSON object")
                yield number, record
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}, line {number + 1}: unreadable ({error}); is the file complete?") from None


def _text(record: dict[str, Any], field: str, path: Path, number: int) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{path}, line {number}: {field} is missing or not a string")
    return value.strip()


def _strings(record: dict[str, Any], field: str, path: Path, number: int) -> list[str]:
    value = record.get(field) or []
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise DataError(f"{path}, line {number}: {field} must be a list of strings")
    return [" ".join(entry.split()) for entry in value if entry.strip()]
