"""Registers the built-in prompt templates (the ``prompts/`` folder, shipped as ``lusifer.prompts``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lusifer.api.hookspecs import hookimpl


@hookimpl
def register_prompt_templates(register: Callable[[Path], None]) -> None:
    import lusifer.prompts

    register(Path(lusifer.prompts.__file__).parent)
