"""The music domain against the kernel contracts: tables, both folds, templates, registration."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lusifer import STAR_RATING, ConfigError, DataConfig, DataError, NotFoundError
from lusifer.testing import Interaction, check_domain, get_domain, item_texts, request_builder
from lusifer_plugin_music.domain import MusicDomain


def test_the_fixture_passes_the_domain_contract(music_dir: Path) -> None:
    data, split = check_domain(MusicDomain(), "digital-music", DataConfig(path=music_dir))
    assert get_domain("music").scale == STAR_RATING
    assert len(data.users) == 9 and data.users["user_info"].eq("").all()
    assert data.metadata["reviews_without_metadata"] == 1 and data.metadata["duplicate_reviews_dropped"] == 1
    assert len(data.ratings) == 8 * 6 + 1  # the duplicate keeps its latest review, the orphan is gone
    item = data.items.loc["B000000001"]
    assert item["item_info"] == (
        "Rock Sessions Vol. 1. By The Rock Ensemble. Genres: Digital Music, Rock. Rock album. "
        "Description: A rock record with 1 tracks of rock music. Average customer rating 4.2 of 5 from 17 ratings."
    )
    assert item["has_text"] and not data.items.loc["B000000000", "has_text"]


def test_last_out_tests_each_users_latest_review(music_dir: Path) -> None:
    domain = MusicDomain()
    data = domain.load("digital-music", DataConfig(path=music_dir))
    split = domain.split(data, None, seed=0)
    assert split.fold == "last-out" and len(split.test) == 8 and "LONELY" not in set(split.test["user_id"])
    latest = data.ratings.groupby("user_id")["timestamp"].max()
    assert all(latest[user] == stamp for user, stamp in zip(split.test["user_id"], split.test["timestamp"]))
    assert split.test.set_index("user_id").loc["USER1", "rating"] == 3  # the re-review, not the first one
    assert len(split.train) + len(split.test) == len(data.ratings)


def test_the_80_20_fold_is_seeded(music_dir: Path) -> None:
    domain = MusicDomain()
    data = domain.load("digital-music", DataConfig(path=music_dir))
    first, again, other = (domain.split(data, "80-20", seed) for seed in (1, 1, 2))
    assert first.test.equals(again.test) and not first.test.equals(other.test)
    assert first.test.groupby("user_id").size().eq(1).all()  # 20% of 6 reviews, at least one
    with pytest.raises(NotFoundError, match="Unknown fold 'u1'"):
        domain.split(data, "u1", seed=0)


def test_uncompressed_files_are_accepted_and_missing_ones_named(music_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("Digital_Music.jsonl.gz", "meta_Digital_Music.jsonl.gz"):
        (plain / name.removesuffix(".gz")).write_bytes(gzip.decompress((music_dir / name).read_bytes()))
    assert len(MusicDomain().load("digital-music", DataConfig(path=plain)).ratings) == 49
    with pytest.raises(DataError, match="no Digital_Music.jsonl.gz"):
        MusicDomain().load("digital-music", DataConfig(path=tmp_path))
    with pytest.raises(ConfigError, match="no --enrich-file"):
        MusicDomain().load("digital-music", DataConfig(path=music_dir, enrich_file=tmp_path / "x.csv"))


def test_music_templates_render(music_dir: Path) -> None:
    builder = request_builder("music", MusicDomain().load("digital-music", DataConfig(path=music_dir)))
    batch = [Interaction("B000000001", 5, 1)]
    profile = builder.profile("USER0", "", batch, None, 0)
    assert "reviews digital music" in profile.messages[0].content
    assert (
        "Rock Sessions Vol. 1." in profile.messages[1].content
        and "Their rating: 5 stars." in profile.messages[1].content
    )
    feedback = builder.feedback("USER0", "", "Loves rock.", batch, ["B000000002"], {"mean": 5.0, "count": 1}, {})
    assert "They have reviewed 1 music releases, 5.0 stars on average." in feedback.messages[1].content
    assert "[B000000002] Classical Sessions Vol. 2." in feedback.messages[1].content


def test_categories_are_the_genres_the_offline_backend_reads(music_dir: Path) -> None:
    data = MusicDomain().load("digital-music", DataConfig(path=music_dir))
    text = item_texts(data.items, MusicDomain())["B000000001"]
    categories = tuple(data.items.loc["B000000001", "categories"])
    assert categories and text.features.genres == categories
    assert "Genres:" in text.item_info and "Genres:" not in (text.features.description or "")
