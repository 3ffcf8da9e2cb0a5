"""An isolated user dir per test, fresh plugin caches, and a MIND-format fixture folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from lusifer.plugins import clear_caches
from news_fixtures import write_mind


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
def mind_dir(tmp_path: Path) -> Path:
    """A folder holding ``MINDsmall_train/`` and ``MINDsmall_dev/`` in the official formats."""
    return write_mind(tmp_path / "mind")
