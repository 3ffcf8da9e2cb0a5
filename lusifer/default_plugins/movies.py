"""Registers the built-in ``movies`` domain (MovieLens + TMDB text); pandas loads only on use."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lusifer.api.hookspecs import hookimpl

if TYPE_CHECKING:
    from lusifer.api.domain import Domain


@hookimpl
def register_domains(register: Callable[[Domain], None]) -> None:
    from lusifer.domains.movies.domain import MoviesDomain

    register(MoviesDomain())
