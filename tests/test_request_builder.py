"""The request builder looks templates up once and reuses item views, but never shows a stale item."""

from __future__ import annotations

from lusifer.domains.movies.domain import MoviesDomain
from lusifer.engine.requests import CatalogueItem, Interaction, RequestBuilder
from lusifer.engine.templates import template_environment


def _builder() -> RequestBuilder:
    items = {"1": CatalogueItem("Heat (1995)", "A crime saga."), "2": CatalogueItem("Fargo (1996)", "Snow.")}
    return RequestBuilder(MoviesDomain(), template_environment(), items)


def _feedback(builder: RequestBuilder, community: dict[str, dict[str, float]]) -> str:
    request = builder.feedback("7", "", "Likes crime.", [Interaction("1", 5, 0)], ["2"], None, community)
    return request.messages[-1].content


def test_reused_views_give_the_prompts_of_a_fresh_builder() -> None:
    builder, community = _builder(), {"2": {"mean": 3.5, "count": 10}}
    first = _feedback(builder, community)
    assert _feedback(builder, community) == first == _feedback(_builder(), community)
    profile = builder.profile("7", "", [Interaction("1", 5, 0), Interaction("2", 3, 1)], None, 0)
    assert (
        profile.messages
        == _builder().profile("7", "", [Interaction("1", 5, 0), Interaction("2", 3, 1)], None, 0).messages
    )


def test_a_changed_item_or_community_figure_is_shown_as_it_is_now() -> None:
    builder = _builder()
    before = _feedback(builder, {"2": {"mean": 3.5, "count": 10}})
    builder.items["2"] = CatalogueItem("Fargo (1996)", "A kidnapping goes wrong in the snow.")
    builder.items["1"] = CatalogueItem("Heat (1995)", "Thieves and a detective in Los Angeles.")
    after = _feedback(builder, {"2": {"mean": 4.5, "count": 12}})
    assert "kidnapping" in after and "Snow." not in after and after != before
    assert "4.5 from 12" in after and "3.5 from 10" not in after
    profile = builder.profile("7", "", [Interaction("1", 5, 0)], None, 0).messages[-1].content
    assert "Thieves and a detective" in profile and "A crime saga." not in profile


def test_the_view_caches_stay_within_their_size() -> None:
    builder, fresh = _builder(), _builder()
    builder.view_cache_size = 3
    for rating in range(1, 6):
        for item_id in ("1", "2"):
            request = builder.profile("7", "", [Interaction(item_id, rating, 0)], None, 0)
            assert request.messages == fresh.profile("7", "", [Interaction(item_id, rating, 0)], None, 0).messages
            assert f"Rated {rating}." in request.messages[-1].content and len(builder._rated_views) <= 3
