"""Lusifer plugin ``music``: Amazon Reviews 2023 Digital Music as a 1-5 star rating domain.

Registered through the ``lusifer`` entry-point group; nothing heavy is imported until the domain loads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lusifer import hookimpl

if TYPE_CHECKING:
    from lusifer import Domain


@hookimpl
def register_domains(register: Callable[[Domain], None]) -> None:
    from lusifer_plugin_music.domain import MusicDomain

    register(MusicDomain())


@hookimpl
def register_prompt_templates(register: Callable[[Path], None]) -> None:
    register(Path(__file__).parent / "prompts")  # holds music/system.j2, music/profile.j2, ...
