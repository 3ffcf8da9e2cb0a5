"""An isolated user dir per test (keys, cache, remembered settings)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lusifer.testing import isolated_lusifer


@pytest.fixture(autouse=True)
def isolated_user_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with isolated_lusifer(tmp_path_factory.mktemp("lusifer-home"), monkeypatch) as home:
        yield home
