"""An isolated user dir per test, fresh plugin caches, and a MIND-format fixture folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lusifer.testing import isolated_lusifer
from news_fixtures import write_mind


@pytest.fixture(autouse=True)
def isolated_user_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keys, cache and downloads of each test live in a fresh folder; no vendor keys leak in."""
    with isolated_lusifer(tmp_path_factory.mktemp("lusifer-home"), monkeypatch) as home:
        yield home


@pytest.fixture
def mind_dir(tmp_path: Path) -> Path:
    """A folder holding ``MINDsmall_train/`` and ``MINDsmall_dev/`` in the official formats."""
    return write_mind(tmp_path / "mind")
