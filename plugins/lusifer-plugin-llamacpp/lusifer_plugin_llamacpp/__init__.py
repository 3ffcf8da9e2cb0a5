"""Lusifer plugin ``llamacpp``: a local GGUF model run in-process by llama-cpp-python.

Registers the backend ``llamacpp`` and the settings section ``[plugins.llamacpp]``. llama-cpp-python is
imported only when a backend is created, so ``lusifer --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lusifer import hookimpl

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lusifer import Backend


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    from lusifer_plugin_llamacpp.backend import LlamaCppBackend

    register(LlamaCppBackend)


@hookimpl
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    from lusifer_plugin_llamacpp.settings import SECTION, LlamaCppSettings

    register(SECTION, LlamaCppSettings)
