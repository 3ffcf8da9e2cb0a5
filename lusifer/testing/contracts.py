"""Contract checkers plugin authors call in their own tests (like Gymnasium's ``check_env``).

Each checker raises ``AssertionError`` with a message naming what is wrong, and returns what it
checked so a test can go on using it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lusifer.api.backend import Backend, LLMRequest, LLMResponse, Message
from lusifer.api.domain import RATING_COLUMNS, STAR_RATING, Dataset, Domain, FeedbackScale, Split
from lusifer.api.prompt_context import CandidateItem, FeedbackContext, UserStats
from lusifer.engine.validation import FeedbackValidator, feedback_schema, parse_json

if TYPE_CHECKING:
    from pathlib import Path

    from lusifer.api.evaluator import Evaluator
    from lusifer.api.settings import BackendConfig, DataConfig


def check_domain(domain: Domain, dataset: str, config: DataConfig | None = None) -> tuple[Dataset, Split]:
    """Load ``dataset`` and split it; check the tables against the domain contract."""
    from lusifer.api.settings import DataConfig

    assert isinstance(domain.name, str) and domain.name, "a domain needs a non-empty name"
    assert dataset in domain.datasets, f"{dataset!r} is not in {domain.name}.datasets {domain.datasets}"
    data = domain.load(dataset, config or DataConfig())
    assert isinstance(data, Dataset), f"load() must return a Dataset, not {type(data).__name__}"
    assert "user_info" in data.users.columns, "users needs a 'user_info' column"
    for column in ("title", "item_info", "has_text"):
        assert column in data.items.columns, f"items needs a '{column}' column"
    missing = [column for column in RATING_COLUMNS if column not in data.ratings.columns]
    assert not missing, f"ratings lacks columns {missing}"
    assert data.items.index.is_unique and data.users.index.is_unique, "user and item ids must be unique"
    unknown_items = set(data.ratings["item_id"]) - set(data.items.index)
    assert not unknown_items, f"ratings name unknown items, e.g. {sorted(unknown_items)[:5]}"
    unknown_users = set(data.ratings["user_id"]) - set(data.users.index)
    assert not unknown_users, f"ratings name unknown users, e.g. {sorted(unknown_users)[:5]}"
    values = data.ratings["rating"]
    scale = domain.scale
    assert values.between(scale.low, scale.high).all(), f"ratings outside {scale.low}..{scale.high}"
    split = domain.split(data, None, seed=0)
    assert isinstance(split, Split), "split() must return a Split"
    assert len(split.train) and len(split.test), "the default split must have training and test rows"
    return data, split


def sample_feedback_context(item_ids: Sequence[str], scale: FeedbackScale = STAR_RATING) -> FeedbackContext:
    """A feedback context asking one user (known profile, no recent feedback) about ``item_ids``
    (titled ``Movie <id>``): for tests that build a feedback request by hand."""
    return FeedbackContext(
        user_id="1",
        user_info="",
        item_noun="movie",
        scale=scale,
        profile="Likes comedies.",
        user_stats=UserStats(mean=3.5, count=10),
        recent=(),
        items=tuple(CandidateItem(item_id=i, title=f"Movie {i}", item_info=f"Movie {i}.") for i in item_ids),
        item_ids=tuple(item_ids),
    )


def check_backend(backend_class: type[Backend], config: BackendConfig, api_key: str | None = None) -> LLMResponse:
    """Instantiate ``backend_class`` and ask it for feedback on two items; check the answer parses."""
    from pydantic import SecretStr

    assert issubclass(backend_class, Backend), "a backend must subclass lusifer.api.backend.Backend"
    assert isinstance(backend_class.name, str) and backend_class.name, "a backend needs a non-empty name"
    backend = backend_class(config, SecretStr(api_key) if api_key else None)
    item_ids = ["1", "2"]
    context = sample_feedback_context(item_ids)
    request = LLMRequest(
        "feedback",
        (Message("system", "You rate movies."), Message("user", 'Rate movies 1 and 2 as {"ratings": {...}}.')),
        schema=feedback_schema(item_ids, 1, 5),
        schema_name="feedback",
        context=context,
    )

    async def ask() -> LLMResponse:
        try:
            return await backend.acomplete(request)
        finally:
            await backend.aclose()

    response = asyncio.run(ask())
    assert isinstance(response, LLMResponse), f"acomplete() must return an LLMResponse, not {type(response).__name__}"
    data, _repairs = parse_json(response.text)
    result = FeedbackValidator().validate(data, request)
    assert result.ok, f"the answer does not rate every item validly: {result.problems}"
    return response


def check_templates(domain: Domain, data: Dataset, prompts_dir: Path | None = None) -> list[LLMRequest]:
    """Render the domain's profile, profile-update and feedback prompts for the first user of ``data``
    (every template variable must exist: they render with ``StrictUndefined``); returns the requests."""
    from lusifer.engine.inputs import histories_by_user, item_texts
    from lusifer.engine.requests import RequestBuilder
    from lusifer.engine.templates import template_environment

    builder = RequestBuilder(
        domain, template_environment(prompts_dir, (domain.templates,)), item_texts(data.items, domain)
    )
    histories = histories_by_user(data.ratings)
    assert histories, "the dataset has no ratings to build a prompt from"
    user_id, history = next(iter(histories.items()))
    profile = "Likes this kind of item."
    requests = [
        builder.profile(user_id, "", history[:5], None, 0),
        builder.profile(user_id, "", history[:5], profile, 1),
        builder.feedback(user_id, "", profile, history[:2], [history[-1].item_id], None, {}),
    ]
    for request in requests:
        assert all(message.content.strip() for message in request.messages), f"{request.task}: a prompt is empty"
    return requests


def check_evaluator(evaluator: Evaluator) -> float:
    """Score a small sample of each feedback kind the evaluator names: a finite float, failed rows
    (NaN predictions) ignored, and the weighted form (when given) agreeing with ``function``."""
    import numpy as np

    from lusifer.api.domain import CLICK, STAR_RATING

    assert isinstance(evaluator.name, str) and evaluator.name, "an evaluator needs a non-empty name"
    assert evaluator.kinds and set(evaluator.kinds) <= {"rating", "binary"}, "kinds must be 'rating' and/or 'binary'"
    value = float("nan")
    for kind in evaluator.kinds:
        scale = STAR_RATING if kind == "rating" else CLICK
        bound = evaluator.for_scale(scale)
        rng = np.random.default_rng(0)
        truth = rng.integers(scale.low, scale.high + 1, 40).astype(float)
        predicted = np.clip(truth + rng.integers(-1, 2, 40), scale.low, scale.high).astype(float)
        value = bound(truth, predicted)
        assert np.isfinite(value), f"{evaluator.name} on {kind} feedback returned {value}"
        failed = np.append(predicted, np.nan)
        with_failed = bound(np.append(truth, scale.low), failed)
        assert np.isclose(with_failed, value), f"{evaluator.name} does not ignore rows with a NaN prediction"
        if bound.weighted is not None:
            weighted = np.asarray(bound.weighted(truth, predicted, np.ones((1, truth.size))))
            assert np.isclose(weighted[0], value), f"{evaluator.name}: weighted form disagrees with function"
    return value
