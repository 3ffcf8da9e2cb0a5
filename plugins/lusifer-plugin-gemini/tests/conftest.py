"""An isolated user dir per test, no Google keys from the environment, and a fake Gemini server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lusifer.testing import isolated_lusifer
from lusifer_plugin_gemini.fake_server import FakeGeminiServer

#: Google's key and SDK variables, unset on top of Lusifer's own list.
GOOGLE_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_API_VERSION", "GOOGLE_GENAI_USE_VERTEXAI")


@pytest.fixture(autouse=True)
def isolated_user_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keys, cache and downloads of each test live in a fresh folder; no vendor keys leak in."""
    with isolated_lusifer(tmp_path_factory.mktemp("lusifer-home"), monkeypatch, unset=GOOGLE_VARIABLES) as home:
        yield home


@pytest.fixture
def server() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(model="gemini-2.5-flash") as fake:
        yield fake
