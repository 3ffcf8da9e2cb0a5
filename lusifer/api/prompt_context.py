"""Typed prompt contexts: the data a prompt is rendered from, and what travels with the request.

The request builder (:mod:`lusifer.engine.requests`) fills one of these per request. Templates
receive its fields as variables (``{{ profile }}``, ``{% for item in items %}``); validators and the
offline backend read the same fields from ``LLMRequest.context``. ``docs/plugins/prompts.md``
documents every field (a test keeps it complete).

Contracts only: this module imports nothing but the standard library and pydantic.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo

from lusifer.api.settings import PROFILE_MAX_WORDS


@dataclass(frozen=True)
class FeedbackScale:
    """What a simulated user answers: an integer from ``low`` to ``high``.

    ``kind`` is ``"rating"`` for explicit ratings (e.g. 1-5 stars) or ``"binary"`` for click/skip
    (0/1). Validators, prompts and evaluators read the scale; nothing else depends on the kind.
    """

    kind: Literal["rating", "binary"] = Field(description="`rating` (e.g. 1-5 stars) or `binary` (click/skip).")
    low: int = Field(description="The lowest value.")
    high: int = Field(description="The highest value.")
    description: str = Field("", description="What the values mean, for the prompt.")

    def contains(self, value: int) -> bool:
        """Whether ``value`` is on the scale."""
        return self.low <= value <= self.high

    @property
    def points(self) -> list[int]:
        """Every value of the scale, ascending."""
        return list(range(self.low, self.high + 1))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ItemFeatures(_Frozen):
    """Structured facts a domain knows about an item, for backends that model content (the offline one).

    A domain fills them (``Domain.item_features``); templates may show them, but the prompt text is
    ``item_info``. Empty when the domain provides none.
    """

    genres: tuple[str, ...] = Field((), description="The item's genres or categories, as the domain names them.")
    description: str | None = Field(None, description="The item's text without its genre list (None: `item_info`).")


class ItemView(_Frozen):
    """What a prompt shows of one item."""

    item_id: str = Field(description="The item's id, as a string.")
    title: str = Field(description="The item's title.")
    item_info: str = Field(description="The text an LLM reads about the item (the domain writes it).")
    features: ItemFeatures = Field(default_factory=ItemFeatures, description="Structured facts the domain gives.")


class RatedItem(ItemView):
    """An item the user has given feedback on."""

    rating: int = Field(description="The user's feedback on the item, on the scale.")


class CommunityStats(_Frozen):
    """What the training slice's users gave an item."""

    mean: float = Field(description="Their mean feedback, rounded to two decimals.")
    count: int = Field(description="How many of them gave feedback.")


class CandidateItem(ItemView):
    """An item the user is asked to give feedback on."""

    community: CommunityStats | None = Field(None, description="The community's feedback (None: no data).")


class UserStats(_Frozen):
    """The user's own feedback so far."""

    mean: float = Field(description="Their mean feedback, rounded to two decimals.")
    count: int = Field(description="How many items they gave feedback on.")


class PromptContext(_Frozen):
    """The fields every task's context has."""

    user_id: str = Field(description="The simulated user's id, as a string.")
    user_info: str = Field(description="The text the domain gives about the user (may be empty).")
    scale: FeedbackScale = Field(description="The domain's feedback scale (`kind`, `low`, `high`, ...).")
    item_noun: str = Field(description="The domain's word for one item (`movie`, `article`).")
    note: str | None = Field(None, description="Why a previous answer was unusable, on a re-ask (else None).")


class ProfileContext(PromptContext):
    """The context of a ``profile`` (first step) or ``profile_update`` request."""

    step: int = Field(description="The profile step, 0 for the initial profile.")
    previous_profile: str | None = Field(description="The profile to update (None for the initial one).")
    batch: tuple[RatedItem, ...] = Field(description="The feedback this step folds in, oldest first.")
    profile_min_words: int = Field(description="Words the profile needs at least.")
    profile_max_words: int = Field(
        PROFILE_MAX_WORDS, description="Words the profile may have at most (fewer in a re-ask of a cut answer)."
    )


class FeedbackContext(PromptContext):
    """The context of a ``feedback`` request."""

    profile: str = Field(description="The user's current profile.")
    user_stats: UserStats | None = Field(description="The user's own feedback so far (None: none yet).")
    recent: tuple[RatedItem, ...] = Field(description="The user's latest feedback, oldest first.")
    items: tuple[CandidateItem, ...] = Field(description="The items to give feedback on, in request order.")
    item_ids: tuple[str, ...] = Field(description="Their ids, in the same order.")
    feedback_output: Literal["rating", "distribution"] = Field(
        "rating", description="`distribution`: the run also asks for a probability per scale point."
    )
    distribution_method: Literal["logprobs", "verbalised", "model"] | None = Field(
        None,
        description="In distribution mode, where the distribution comes from: token `logprobs`, a `verbalised` "
        "probability per scale point, or the backend's own `model`; unset in rating mode.",
    )


class ShownItem(_Frozen):
    """An item of the slate a leave decision looks back on."""

    item_id: str = Field(description="The item's id, as a string.")
    title: str = Field(description="The item's title.")
    rating: int | None = Field(description="The user's feedback on it this step (None: not rated, e.g. seen before).")


class LeaveContext(PromptContext):
    """The context of a ``leave`` request (the RL environment's ``leave_decision="llm"``)."""

    profile: str = Field(description="The user's current profile.")
    items: tuple[ShownItem, ...] = Field(description="The slate just shown, with the feedback given.")
    chosen: str | None = Field(description="The title of the item the user picked (None: nothing).")
    picked: bool = Field(description="Whether the user picked an item.")
    step: int = Field(description="The step of this visit.")
    max_words: int = Field(description="Words the reason may have at most.")


#: The context class of each task's request (the ``system`` template renders with its task's context).
TASK_CONTEXTS: dict[str, type[PromptContext]] = {
    "profile": ProfileContext,
    "profile_update": ProfileContext,
    "feedback": FeedbackContext,
    "leave": LeaveContext,
}


def template_variables(context: PromptContext) -> dict[str, object]:
    """The variables a template renders with: the context's fields, typed (not dumped to dicts)."""
    return {name: getattr(context, name) for name in type(context).model_fields}


def _fields_of(model: type) -> dict[str, FieldInfo]:
    fields: dict[str, FieldInfo] = getattr(model, "__pydantic_fields__", {})
    return fields


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and bool(_fields_of(annotation))


def _members(annotation: object) -> tuple[Any, ...]:
    """``annotation`` and the types it is made of (``tuple[RatedItem, ...]`` -> RatedItem, ...)."""
    return (annotation, *(member for arg in get_args(annotation) for member in _members(arg)))


def context_models() -> list[type]:
    """Every model a template can reach from a task's context, contexts first (in field order)."""
    found: list[type] = []
    pending: list[type] = list(dict.fromkeys(TASK_CONTEXTS.values()))
    while pending:
        model = pending.pop(0)
        if model in found:
            continue
        found.append(model)
        for info in _fields_of(model).values():
            pending.extend(member for member in _members(info.annotation) if _is_model(member))
    return found


def type_name(annotation: object) -> str:
    """A readable name of a field's type (``tuple[RatedItem, ...]``, ``str | None``)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "None"
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in args)
    if origin is Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin is tuple:
        return f"tuple[{type_name(args[0])}, ...]"
    return getattr(annotation, "__name__", str(annotation))


def field_descriptions(model: type) -> list[tuple[str, str, str]]:
    """``(name, type, description)`` of each field of a context model, in field order."""
    return [(name, type_name(info.annotation), info.description or "") for name, info in _fields_of(model).items()]
