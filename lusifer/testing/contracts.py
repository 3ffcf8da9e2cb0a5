"""Contract checkers plugin authors call in their own tests (like Gymnasium's ``check_env``).

Each checker raises ``AssertionError`` with a message naming what is wrong, and returns what it
checked so a test can go on using it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lusifer.backends.base import Backend, LLMRequest, LLMResponse, Message
from lusifer.domains.base import RATING_COLUMNS, Dataset, Domain, Split
from lusifer.validation import FeedbackValidator, feedback_schema, parse_json

if TYPE_CHECKING:
    from lusifer.config import BackendConfig, DataConfig


def check_domain(domain: Domain, dataset: str, config: DataConfig | None = None) -> tuple[Dataset, Split]:
    """Load ``dataset`` and split it; check the tables against the domain contract."""
    from lusifer.config import DataConfig

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


def check_backend(backend_class: type[Backend], config: BackendConfig, api_key: str | None = None) -> LLMResponse:
    """Instantiate ``backend_class`` and ask it for feedback on two items; check the answer parses."""
    from pydantic import SecretStr

    assert issubclass(backend_class, Backend), "a backend must subclass lusifer.backends.base.Backend"
    assert isinstance(backend_class.name, str) and backend_class.name, "a backend needs a non-empty name"
    backend = backend_class(config, SecretStr(api_key) if api_key else None)
    item_ids = ["1", "2"]
    context = {
        "user_id": "1",
        "user_info": "",
        "item_noun": "movie",
        "scale": {"kind": "rating", "low": 1, "high": 5},
        "profile": "Likes comedies.",
        "user_stats": {"mean": 3.5, "count": 10},
        "recent": [],
        "items": [
            {"item_id": i, "title": f"Movie {i}", "item_info": f"Movie {i}.", "community": None} for i in item_ids
        ],
        "item_ids": item_ids,
    }
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
