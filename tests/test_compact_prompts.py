"""Compact prompts: profile steps show each movie briefly; the movies to rate keep their full text."""

from __future__ import annotations

from lusifer.domains.movies.domain import MoviesDomain
from lusifer.engine.requests import CatalogueItem, Interaction, RequestBuilder
from lusifer.engine.templates import brief, template_environment

LONG = (
    "Heat (1995). Genres: Action, Crime, Thriller. Overview: Obsessive master thief Neil McCauley leads a "
    "top-notch crew on various daring heists throughout Los Angeles while determined detective Vincent Hanna "
    "pursues him without rest. Each man recognizes and respects the ability of his adversary. "
    "Tagline: A Los Angeles crime saga. Runtime: 170 minutes. Original language: en."
)


def test_brief_keeps_whole_sentences_within_the_word_limit() -> None:
    assert brief(LONG, 40) == LONG.split(" Each man")[0]
    assert brief(LONG, 3) == "Heat (1995)."  # the first sentence always stays
    assert brief("Short text.", 40) == "Short text."


def test_profile_steps_are_brief_and_items_to_rate_are_complete() -> None:
    builder = RequestBuilder(MoviesDomain(), template_environment(), {"1": CatalogueItem("Heat (1995)", LONG)})
    profile = builder.profile("7", "", [Interaction("1", 5, 0)], None, 0).messages[-1].content
    assert "Overview: Obsessive master thief" in profile and "Tagline" not in profile
    feedback = builder.feedback("7", "", "Likes crime.", [Interaction("1", 5, 0)], ["1"], None, {})
    assert LONG in feedback.messages[-1].content
