"""Build the LLM requests of both phases from a user's data and the domain's templates.

The context dicts built here are rendered into the prompts and travel with the request
(``LLMRequest.context``): validators read the expected ids from them, and the offline backend
computes its answer from them. Their keys are part of the template contract (``docs/prompts.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.domain import Domain
from lusifer.api.settings import PROFILE_MIN_WORDS
from lusifer.engine.templates import render
from lusifer.engine.validation import feedback_schema, profile_schema


@dataclass(frozen=True)
class ItemText:
    """What a prompt shows of one item."""

    title: str
    item_info: str


@dataclass(frozen=True)
class Interaction:
    """One piece of feedback a user gave."""

    item_id: str
    rating: int
    timestamp: int


class RequestBuilder:
    """Renders profile and feedback requests for one domain."""

    def __init__(
        self,
        domain: Domain,
        environment: jinja2.Environment,
        items: dict[str, ItemText],
        profile_min_words: int = PROFILE_MIN_WORDS,
    ) -> None:
        self.domain = domain
        self.profile_min_words = profile_min_words
        self.environment = environment
        self.items = items
        scale = domain.scale
        self.scale = {"kind": scale.kind, "low": scale.low, "high": scale.high, "description": scale.description}

    def _base(self, user_id: str, user_info: str) -> dict[str, Any]:
        return {"user_id": user_id, "user_info": user_info, "scale": self.scale, "item_noun": self.domain.item_noun}

    def _request(self, task: str, context: dict[str, Any], schema: dict[str, Any], schema_name: str) -> LLMRequest:
        folder = self.domain.templates
        messages = (
            Message("system", render(self.environment, folder, "system", **context)),
            Message("user", render(self.environment, folder, task, **context)),
        )
        return LLMRequest(task, messages, schema=schema, schema_name=schema_name, context=context)

    def _rated(self, entry: Interaction) -> dict[str, Any]:
        text = self.items[entry.item_id]
        return {"item_id": entry.item_id, "title": text.title, "item_info": text.item_info, "rating": entry.rating}

    def profile(
        self,
        user_id: str,
        user_info: str,
        batch: list[Interaction],
        previous_profile: str | None,
        step: int,
        note: str | None = None,
    ) -> LLMRequest:
        """The initial profile (``previous_profile`` None) or an update folding in ``batch``."""
        context = self._base(user_id, user_info)
        context.update(
            step=step,
            previous_profile=previous_profile,
            note=note,
            batch=[self._rated(entry) for entry in batch],
            profile_min_words=self.profile_min_words,
        )
        task = "profile" if previous_profile is None else "profile_update"
        return self._request(task, context, profile_schema(previous_profile is not None), "profile")

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
        context = self._base(user_id, user_info)
        context.update(
            profile=profile,
            user_stats=user_stats,
            recent=[self._rated(entry) for entry in recent],
            items=[
                {
                    "item_id": item_id,
                    "title": self.items[item_id].title,
                    "item_info": self.items[item_id].item_info,
                    "community": community.get(item_id),
                }
                for item_id in item_ids
            ],
            item_ids=list(item_ids),
            note=note,
        )
        schema = feedback_schema(item_ids, self.scale["low"], self.scale["high"])
        return self._request("feedback", context, schema, "feedback")
