"""An isolated user dir per test, fresh plugin caches, and a Digital Music fixture folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from lusifer.plugins import clear_caches
from music_fixtures import write_music


@pytest.fixture(autouse=True)
def isolated_user_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keys, cache and downloads of each test live in a fresh folder; no plugin filter leaks in."""
    home = tmp_path_factory.mktemp("lusifer-home")
    monkeypatch.setenv("LUSIFER_HOME", str(home))
    monkeypatch.setenv("LUSIFER_DATA_DIR", str(home / "data"))
    for variable in ("LUSIFER_LOAD_PLUGINS", "LUSIFER_DISABLE_PLUGINS", "LUSIFER_STRICT_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
    clear_caches()
    yield home
    clear_caches()


@pytest.fixture
def music_dir(tmp_path: Path) -> Path:
    """A folder holding the reviews and metadata files in the official formats."""
    return write_music(tmp_path / "music")
