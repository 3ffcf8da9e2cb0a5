"""An isolated user dir per test, fresh plugin caches, and a Digital Music fixture folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lusifer.testing import isolated_lusifer
from music_fixtures import write_music


@pytest.fixture(autouse=True)
def isolated_user_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keys, cache and downloads of each test live in a fresh folder; no vendor keys leak in."""
    with isolated_lusifer(tmp_path_factory.mktemp("lusifer-home"), monkeypatch) as home:
        yield home


@pytest.fixture
def music_dir(tmp_path: Path) -> Path:
    """A folder holding the reviews and metadata files in the official formats."""
    return write_music(tmp_path / "music")
