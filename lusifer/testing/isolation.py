"""Run Lusifer in tests without touching the real user's keys, cache, downloads or plugin settings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from lusifer.kernel.registry import clear_caches
from lusifer.keys import ENV_VARIABLES

if TYPE_CHECKING:
    import pytest

#: Variables unset for every isolated test: vendor keys and endpoints, and plugin filters.
UNSET = (
    *ENV_VARIABLES.values(),
    "OPENAI_BASE_URL",
    "LUSIFER_LOAD_PLUGINS",
    "LUSIFER_DISABLE_PLUGINS",
    "LUSIFER_STRICT_PLUGINS",
)


@contextmanager
def isolated_lusifer(home: Path, monkeypatch: pytest.MonkeyPatch, unset: Sequence[str] = ()) -> Iterator[Path]:
    """Keys, cache and downloads live in ``home``; no vendor key leaks in; plugin caches start fresh.

    Use it in an autouse fixture::

        @pytest.fixture(autouse=True)
        def isolated_user_dir(tmp_path_factory, monkeypatch):
            with isolated_lusifer(tmp_path_factory.mktemp("lusifer-home"), monkeypatch) as home:
                yield home

    :param unset: further environment variables to remove (e.g. a plugin vendor's key variables).
    """
    monkeypatch.setenv("LUSIFER_HOME", str(home))
    monkeypatch.setenv("LUSIFER_DATA_DIR", str(home / "data"))
    for variable in (*UNSET, *unset):
        monkeypatch.delenv(variable, raising=False)
    clear_caches()
    try:
        yield home
    finally:
        clear_caches()
