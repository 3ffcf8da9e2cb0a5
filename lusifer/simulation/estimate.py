"""``lusifer estimate``: predict the calls, tokens and cost of a run without calling anything.

The estimate renders the run's real prompts for a sample of users (profile steps with a placeholder
profile of typical length, feedback calls in rating batches) and scales them to all users. It assumes
every answer is valid on the first try: retries and re-asks come on top, cached answers cost less.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lusifer.backends.base import Usage
from lusifer.calls.batch import BatchCallLayer
from lusifer.calls.costs import cost, price_for, price_table
from lusifer.calls.layer import estimate_tokens
from lusifer.registry import get_backend
from lusifer.simulation.inputs import community_stats, histories_by_user, item_texts
from lusifer.simulation.requests import RequestBuilder
from lusifer.templates import template_environment

if TYPE_CHECKING:
    from lusifer.config import LusiferConfig
    from lusifer.simulation.runner import RunPlan

#: A profile of typical length (the templates ask for at most 120 words).
PLACEHOLDER_PROFILE = " ".join(["taste"] * 120)
#: Completion tokens assumed per profile answer, and per rated item in a feedback answer.
PROFILE_COMPLETION_TOKENS = 220
TOKENS_PER_RATING = 8
#: Users whose prompts are rendered; the rest are extrapolated.
SAMPLE_USERS = 1000


@dataclass(frozen=True)
class Estimate:
    """Predicted size and price of a run."""

    users: int
    ratings: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    model: str
    cost_usd: float


def estimate_run(config: LusiferConfig, plan: RunPlan) -> Estimate:
    """Estimate ``plan`` as ``config`` would run it."""
    backend = get_backend(config.backend.name)
    model = config.backend.model or backend.default_model
    builder = RequestBuilder(plan.domain, template_environment(config.prompts_dir), item_texts(plan.data.items))
    histories = histories_by_user(plan.history)
    community = community_stats(plan.history)
    targets: dict[str, list[str]] = {}
    for user_id, item_id in zip(plan.targets["user_id"], plan.targets["item_id"]):
        targets.setdefault(str(user_id), []).append(str(item_id))
    users = plan.user_ids
    sample = users if len(users) <= SAMPLE_USERS else random.Random(config.seed).sample(users, SAMPLE_USERS)
    calls = prompt = completion = 0
    for user_id in sample:
        history = histories.get(user_id, [])
        size = config.data.profile_batch
        for step, start in enumerate(range(0, len(history), size)):
            previous = PLACEHOLDER_PROFILE if step else None
            request = builder.profile(user_id, "", history[start : start + size], previous, step)
            calls, prompt, completion = (
                calls + 1,
                prompt + estimate_tokens(request),
                completion + PROFILE_COMPLETION_TOKENS,
            )
        items = targets.get(user_id, [])
        recent = history[-config.data.context_items :] if config.data.context_items else []
        stats = {"mean": 3.5, "count": len(history)} if history else None
        for start in range(0, len(items), config.run.rating_batch):
            chunk = items[start : start + config.run.rating_batch]
            request = builder.feedback(user_id, "", PLACEHOLDER_PROFILE, recent, chunk, stats, community)
            calls, prompt = calls + 1, prompt + estimate_tokens(request)
            completion += TOKENS_PER_RATING * len(chunk) + 10
    scale = len(users) / max(len(sample), 1)
    usage = Usage(math.ceil(prompt * scale), math.ceil(completion * scale))
    prices = price_table(backend, config.prices)
    # A keyless backend (local server, offline) costs nothing unless [prices] or the backend price it.
    price = cost(model, usage, prices) if backend.key_name or price_for(model, prices) else 0.0
    if config.run.batch:
        price *= BatchCallLayer.price_factor
    return Estimate(
        len(users),
        len(plan.targets),
        math.ceil(calls * scale),
        usage.prompt_tokens,
        usage.completion_tokens,
        model,
        price,
    )
