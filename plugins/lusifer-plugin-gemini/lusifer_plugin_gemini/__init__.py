"""Lusifer plugin ``gemini``: Google Gemini as an LLM backend through the official ``google-genai`` SDK.

Registered through the ``lusifer`` entry-point group. The SDK is imported only when a backend is
created, so ``lusifer --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lusifer import hookimpl

if TYPE_CHECKING:
    from lusifer import Backend


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    from lusifer_plugin_gemini.backend import GeminiBackend

    register(GeminiBackend)
