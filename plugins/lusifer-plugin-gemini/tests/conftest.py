"""An isolated user dir per test, no Google keys from the environment, and a fake Gemini server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lusifer.plugins import clear_caches
from lusifer_plugin_gemini.fake_server import FakeGeminiServer


@pytest.fixture(autouse=True)
def isolated_user_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keys, cache and downloads of each test live in a fresh folder; no vendor keys leak in."""
    home = tmp_path_factory.mktemp("lusifer-home")
    monkeypatch.setenv("LUSIFER_HOME", str(home))
    monkeypatch.setenv("LUSIFER_DATA_DIR", str(home / "data"))
    for variable in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_GENAI_API_VERSION",
        "GOOGLE_GENAI_USE_VERTEXAI",
        "LUSIFER_LOAD_PLUGINS",
        "LUSIFER_DISABLE_PLUGINS",
        "LUSIFER_STRICT_PLUGINS",
    ):
        monkeypatch.delenv(variable, raising=False)
    clear_caches()
    yield home
    clear_caches()


@pytest.fixture
def server() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(model="gemini-2.5-flash") as fake:
        yield fake
