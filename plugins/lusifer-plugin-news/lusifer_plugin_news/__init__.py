"""Lusifer plugin ``news``: the MIND news-recommendation dataset as a click (0/1) domain.

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
    from lusifer_plugin_news.domain import NewsDomain

    register(NewsDomain())


@hookimpl
def register_prompt_templates(register: Callable[[Path], None]) -> None:
    register(Path(__file__).parent / "prompts")  # holds news/system.j2, news/profile.j2, ...
