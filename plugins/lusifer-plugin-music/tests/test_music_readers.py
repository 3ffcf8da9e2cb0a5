"""The Amazon Reviews 2023 readers: faithful tables, and every malformed line reported with file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lusifer import DataError
from lusifer_plugin_music.readers import read_meta, read_reviews
from music_fixtures import meta_record, review_record, reviews, write_jsonl


def test_reviews_become_integer_stars_with_timestamps_in_seconds(music_dir: Path) -> None:
    table = read_reviews(music_dir / "Digital_Music.jsonl.gz")
    assert list(table.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert len(table) == len(reviews())
    first = table.iloc[0]
    assert (first["user_id"], first["item_id"], first["rating"]) == ("USER0", "B000000001", 1)
    assert first["timestamp"] == 1_600_000_000  # 1_600_000_000_123 ms


def test_metadata_keeps_text_fields_and_the_average_rating(music_dir: Path) -> None:
    meta = read_meta(music_dir / "meta_Digital_Music.jsonl.gz")
    assert len(meta) == 16 and meta.index[1] == "B000000001"
    row = meta.loc["B000000001"]
    assert row["store"] == "The Rock Ensemble" and row["categories"] == ["Digital Music", "Rock"]
    assert row["average_rating"] == 4.2 and row["rating_number"] == 17
    assert pd_isna(meta.loc["B000000000", "average_rating"])


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**review_record("U", 1, 3.5, 0)}, "rating 3.5 is not a whole number of stars from 1 to 5"),
        ({**review_record("U", 1, 0.0, 0)}, "rating 0.0 is not a whole number"),
        ({**review_record("U", 1, 4.0, 0), "timestamp": "2020-01-01"}, "timestamp '2020-01-01' is not Unix"),
        ({**review_record("U", 1, 4.0, 0), "user_id": None}, "user_id is missing or not a string"),
        ([1, 2, 3], "not a JSON object"),
    ],
)
def test_bad_reviews_name_file_and_line(tmp_path: Path, record: object, message: str) -> None:
    path = write_jsonl(tmp_path / "Digital_Music.jsonl.gz", [review_record("U", 1, 4.0, 0), record])  # type: ignore[list-item]
    with pytest.raises(DataError) as caught:
        read_reviews(path)
    assert f"{path}, line 2: " in str(caught.value) and message in str(caught.value)


def test_bad_metadata_and_broken_files_name_file_and_line(tmp_path: Path) -> None:
    duplicate = write_jsonl(tmp_path / "meta.jsonl", [meta_record(1), meta_record(2), meta_record(1)])
    with pytest.raises(DataError, match=r"meta.jsonl, line 3: parent_asin B000000001 appears twice"):
        read_meta(duplicate)
    wrong = write_jsonl(tmp_path / "meta2.jsonl", [{**meta_record(1), "description": "not a list"}])
    with pytest.raises(DataError, match=r"meta2.jsonl, line 1: description must be a list of strings"):
        read_meta(wrong)
    broken = tmp_path / "reviews.jsonl"
    broken.write_text(json.dumps(review_record("U", 1, 4.0, 0)) + "\n{not json\n")
    with pytest.raises(DataError, match=r"reviews.jsonl, line 2: not a JSON object"):
        read_reviews(broken)
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in reviews()))[:-30])
    with pytest.raises(DataError, match=r"cut.jsonl.gz, line \d+: unreadable .* is the file complete"):
        read_reviews(truncated)
    with pytest.raises(DataError, match="file not found"):
        read_reviews(tmp_path / "missing.jsonl.gz")
