"""Registers the built-in backends: ``openai``, ``anthropic`` and ``offline``.

The backend modules import their vendor SDK only when a backend is created, so registering them keeps
``lusifer --help`` fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lusifer.api.hookspecs import hookimpl
from lusifer.engine.backends.anthropic_backend import AnthropicBackend
from lusifer.engine.backends.offline import OfflineBackend
from lusifer.engine.backends.openai_backend import OpenAIBackend

if TYPE_CHECKING:
    from lusifer.api.backend import Backend


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    register(OpenAIBackend)
    register(AnthropicBackend)
    register(OfflineBackend)
