"""Shared fixtures: an isolated user dir per test, fresh plugin caches, the shared data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lusifer.testing.isolation import isolated_lusifer

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LUSIFER_SHARED_DIR") or REPO.parent / "shared")
ML_100K = SHARED / "data" / "ml-100k"
TMDB_100K = SHARED / "data" / "tmdb" / "ml-100k-tmdb.csv"
RECORDED_100K = SHARED / "data" / "lusifer-paper" / "recorded-ml-100k.csv"


@pytest.fixture(autouse=True)
def isolated_user_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keys, cache and downloads of each test live in a fresh folder; no vendor keys leak in."""
    with isolated_lusifer(tmp_path_factory.mktemp("lusifer-home"), monkeypatch) as home:
        yield home


@pytest.fixture
def ml100k() -> Path:
    if not (ML_100K / "u.data").exists():
        pytest.skip(f"shared MovieLens 100K not found at {ML_100K}")
    return ML_100K
