"""Build the LLM requests of both phases from a user's data and the domain's templates.

The typed contexts built here (:mod:`lusifer.api.prompt_context`) are rendered into the prompts and travel
with the request (``LLMRequest.context``): validators read the expected ids from them, and the offline
backend computes its answer from them. Their fields are the template contract (``docs/plugins/prompts.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import jinja2

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.domain import Domain
from lusifer.api.prompt_context import (
    CandidateItem,
    CommunityStats,
    FeedbackContext,
    ItemFeatures,
    ProfileContext,
    PromptContext,
    RatedItem,
    UserStats,
    template_variables,
)
from lusifer.api.settings import PROFILE_MAX_WORDS, PROFILE_MIN_WORDS
from lusifer.engine.templates import find_template, render_template
from lusifer.engine.validation import feedback_schema, profile_schema

View = TypeVar("View", RatedItem, CandidateItem)


@dataclass(frozen=True)
class CatalogueItem:
    """One item of the catalogue as prompts show it (title, text) with the domain's structured facts about it."""

    title: str
    item_info: str
    features: ItemFeatures = ItemFeatures()


@dataclass(frozen=True)
class Interaction:
    """One piece of feedback a user gave."""

    item_id: str
    rating: int
    timestamp: int


class RequestBuilder:
    """Renders profile and feedback requests for one domain.

    Each task's template is looked up once per builder, and the view of an item in a prompt (rated with a
    value, or a candidate with its community's figures) is built once and reused while ``items`` holds
    the same entry for it (the views are frozen). Each cache of views holds at most ``view_cache_size``
    entries (it starts afresh when full), so a run over a large catalogue does not keep a view of every item.
    """

    #: Most item views kept per kind (rated, candidate).
    view_cache_size = 50_000

    def __init__(
        self,
        domain: Domain,
        environment: jinja2.Environment,
        items: dict[str, CatalogueItem],
        profile_min_words: int = PROFILE_MIN_WORDS,
    ) -> None:
        self.domain = domain
        self.profile_min_words = profile_min_words
        self.environment = environment
        self.items = items
        self._templates: dict[tuple[str, str], jinja2.Template] = {}
        self._rated_views: dict[tuple[str, int], tuple[CatalogueItem, RatedItem]] = {}
        self._candidate_views: dict[tuple[str, float, int] | str, tuple[CatalogueItem, CandidateItem]] = {}

    def request(self, task: str, context: PromptContext, schema: dict[str, Any], schema_name: str) -> LLMRequest:
        """The ``task`` request rendered from ``context``: the domain's ``system`` and ``task`` templates."""
        folder = self.domain.templates
        variables = template_variables(context)
        messages = (
            Message("system", render_template(self._template(folder, "system"), **variables)),
            Message("user", render_template(self._template(folder, task), **variables)),
        )
        return LLMRequest(task, messages, schema=schema, schema_name=schema_name, context=context)

    def _template(self, folder: str, task: str) -> jinja2.Template:
        template = self._templates.get((folder, task))
        if template is None:
            template = self._templates[folder, task] = find_template(self.environment, folder, task)
        return template

    def _rated(self, entry: Interaction) -> RatedItem:
        text = self.items[entry.item_id]
        return self._view(
            self._rated_views,
            (entry.item_id, entry.rating),
            text,
            lambda: RatedItem(
                item_id=entry.item_id,
                title=text.title,
                item_info=text.item_info,
                features=text.features,
                rating=entry.rating,
            ),
        )

    def _candidate(self, item_id: str, community: dict[str, float] | None) -> CandidateItem:
        text = self.items[item_id]
        figures = (community["mean"], int(community["count"])) if community else None
        return self._view(
            self._candidate_views,
            (item_id, *figures) if figures else item_id,
            text,
            lambda: CandidateItem(
                item_id=item_id,
                title=text.title,
                item_info=text.item_info,
                features=text.features,
                community=CommunityStats(mean=figures[0], count=figures[1]) if figures else None,
            ),
        )

    def _view(
        self,
        views: dict[Any, tuple[CatalogueItem, View]],
        key: Hashable,
        entry: CatalogueItem,
        build: Callable[[], View],
    ) -> View:
        """The view of ``entry`` that ``build`` makes, reused from ``views`` while ``entry`` is the same object."""
        cached = views.get(key)
        if cached is not None and cached[0] is entry:
            return cached[1]
        view = build()
        if len(views) >= self.view_cache_size:
            views.clear()
        views[key] = (entry, view)
        return view

    def profile(
        self,
        user_id: str,
        user_info: str,
        batch: list[Interaction],
        previous_profile: str | None,
        step: int,
        note: str | None = None,
        max_words: int = PROFILE_MAX_WORDS,
    ) -> LLMRequest:
        """The initial profile (``previous_profile`` None) or an update folding in ``batch``, of at most
        ``max_words`` words."""
        context = ProfileContext(
            user_id=user_id,
            user_info=user_info,
            scale=self.domain.scale,
            item_noun=self.domain.item_noun,
            note=note,
            step=step,
            previous_profile=previous_profile,
            batch=tuple(self._rated(entry) for entry in batch),
            profile_min_words=self.profile_min_words,
            profile_max_words=max_words,
        )
        task = "profile" if previous_profile is None else "profile_update"
        schema = profile_schema(previous_profile is not None, self.profile_min_words, max_words)
        return self.request(task, context, schema, "profile")

    def feedback(
        self,
        user_id: str,
        user_info: str,
        profile: str,
        recent: list[Interaction],
        item_ids: list[str],
        user_stats: dict[str, float] | None,
        community: dict[str, dict[str, float]],
        note: str | None = None,
    ) -> LLMRequest:
        """Ask for the user's feedback on ``item_ids`` given the profile and recent feedback."""
        context = FeedbackContext(
            user_id=user_id,
            user_info=user_info,
            scale=self.domain.scale,
            item_noun=self.domain.item_noun,
            note=note,
            profile=profile,
            user_stats=UserStats(mean=user_stats["mean"], count=int(user_stats["count"])) if user_stats else None,
            recent=tuple(self._rated(entry) for entry in recent),
            items=tuple(self._candidate(item_id, community.get(item_id)) for item_id in item_ids),
            item_ids=tuple(item_ids),
        )
        schema = feedback_schema(item_ids, self.domain.scale.low, self.domain.scale.high)
        return self.request("feedback", context, schema, "feedback")
