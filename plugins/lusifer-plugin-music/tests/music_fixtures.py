"""A small Digital Music look-alike in the official Amazon Reviews 2023 formats, written by the tests.

Sixteen releases in four genres; eight reviewers who love one genre (5 or 4 stars) and dislike the
others (1 or 2 stars), six reviews each. Also: a reviewer with a single review, a review of an item
missing from the metadata, and a reviewer who reviewed the same release twice.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

GENRES = ("Jazz", "Rock", "Classical", "Hip-Hop")
ITEMS = 16
USERS = 8
START_MS = 1_600_000_000_000


def item_id(number: int) -> str:
    return f"B0{number:08d}"


def meta_record(number: int) -> dict[str, object]:
    genre = GENRES[number % len(GENRES)]
    return {
        "main_category": "Digital Music",
        "title": f"{genre} Sessions Vol. {number}",
        "average_rating": 4.2 if number % 2 else None,
        "rating_number": 17 if number % 2 else None,
        "features": [f"{genre} album"] if number % 3 else [],
        "description": [f"A {genre.lower()} record with {number} tracks of {genre.lower()} music."]
        if number % 4
        else [],
        "price": None,
        "images": [],
        "videos": [],
        "store": f"The {genre} Ensemble",
        "categories": ["Digital Music", genre],
        "details": {"Date First Available": "May 1, 2020"},
        "parent_asin": item_id(number),
        "bought_together": None,
    }


def review_record(user: str, number: int, rating: float, offset: int) -> dict[str, object]:
    return {
        "rating": rating,
        "title": "Review",
        "text": "Listened to it twice.",
        "images": [],
        "asin": item_id(number),
        "parent_asin": item_id(number),
        "user_id": user,
        "timestamp": START_MS + offset * 3_600_000 + 123,
        "helpful_vote": 0,
        "verified_purchase": True,
    }


def reviews(users: int = USERS) -> list[dict[str, object]]:
    """Per user: three releases of the loved genre and three of the next one, alternating; even users
    end on a loved release, odd users on a disliked one."""
    records = []
    for user in range(users):
        loved = [((user + 4 * k) % ITEMS, 5.0 if k % 2 == 0 else 4.0) for k in range(3)]
        other = [((user + 1 + 4 * k) % ITEMS, 1.0 if k % 2 == 0 else 2.0) for k in range(3)]
        pairs = zip(other, loved) if user % 2 == 0 else zip(loved, other)
        for step, (number, rating) in enumerate(entry for pair in pairs for entry in pair):
            records.append(review_record(f"USER{user}", number, rating, offset=user * 10 + step))
    records.append(review_record("LONELY", 3, 3.0, offset=500))
    records.append(review_record("USER0", 99, 5.0, offset=501))  # no metadata for item 99
    records.append(review_record("USER1", 2, 3.0, offset=502))  # USER1 reviews item 2 a second time
    return records


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    text = "".join(json.dumps(record) + "\n" for record in records).encode()
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    return path


def write_music(folder: Path, users: int = USERS) -> Path:
    """Write ``Digital_Music.jsonl.gz`` and ``meta_Digital_Music.jsonl.gz`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "Digital_Music.jsonl.gz", reviews(users))
    write_jsonl(folder / "meta_Digital_Music.jsonl.gz", [meta_record(number) for number in range(ITEMS)])
    return folder
