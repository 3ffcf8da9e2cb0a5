"""``lusifer estimate``: predict the calls, tokens and cost of a run without calling anything.

The estimate renders the run's real prompts for a sample of users (profile steps with a placeholder
profile of typical length, feedback calls in rating batches) and scales them to all users. It assumes
every answer is valid on the first try: retries and re-asks come on top, cached answers cost less.

Distribution mode (``run.feedback_output = "distribution"``) is estimated as the backend would run it:
log-probabilities cost no tokens, so a logprobs backend costs what value mode costs; the verbalised
method adds its instruction to each feedback prompt and a probability object per rating to each answer
(:func:`lusifer.engine.distributions.verbalised_answer_tokens`).

Given a :class:`~lusifer.runs.estimate_calibration.Calibration` (the exchanges of a pilot run or of
the run being resumed), completion tokens and the prompt-token estimator follow what that run's model
answered, and the interval is the calibration's; otherwise it is the wide uncalibrated one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lusifer.api.backend import Usage
from lusifer.engine.calls.batch import BatchCallLayer
from lusifer.engine.calls.costs import cost, price_for, price_table
from lusifer.engine.calls.layer import estimate_tokens
from lusifer.engine.distributions import distribution_request, verbalised_answer_tokens
from lusifer.engine.inputs import community_stats, histories_by_user, item_texts
from lusifer.engine.requests import RequestBuilder
from lusifer.engine.templates import template_environment
from lusifer.kernel.registry import get_backend
from lusifer.runs.estimate_calibration import UNCALIBRATED_RANGE, Calibration

if TYPE_CHECKING:
    from lusifer.api.settings import LusiferConfig
    from lusifer.runs.session import RunPlan

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
    #: 95 % intervals (calibrated) or the uncalibrated range of the token counts and the cost.
    prompt_tokens_range: tuple[int, int] = (0, 0)
    completion_tokens_range: tuple[int, int] = (0, 0)
    cost_range_usd: tuple[float, float] = (0.0, 0.0)
    #: The run directory whose exchanges calibrated the estimate, if any.
    calibrated_from: str | None = None


def estimate_run(config: LusiferConfig, plan: RunPlan, calibration: Calibration | None = None) -> Estimate:
    """Estimate ``plan`` as ``config`` would run it (calibrated by ``calibration`` when given)."""
    backend = get_backend(config.backend.name)
    model = config.backend.model or backend.default_model
    texts = item_texts(plan.data.items, plan.domain)
    builder = RequestBuilder(plan.domain, template_environment(config.prompts_dir), texts)
    histories = histories_by_user(plan.history)
    community = community_stats(plan.history)
    targets: dict[str, list[str]] = {}
    for user_id, item_id in zip(plan.targets["user_id"], plan.targets["item_id"]):
        targets.setdefault(str(user_id), []).append(str(item_id))
    method = backend.distribution_method if config.run.feedback_output == "distribution" else None
    per_rating = float(TOKENS_PER_RATING)
    if method == "verbalised":
        points = plan.domain.scale.points
        per_rating += verbalised_answer_tokens(points)
    users = plan.user_ids
    sample = users if len(users) <= SAMPLE_USERS else random.Random(config.seed).sample(users, SAMPLE_USERS)
    calls = prompt = profile_calls = feedback_calls = rated = 0
    for user_id in sample:
        history = histories.get(user_id, [])
        size = config.data.profile_step_size
        for step, start in enumerate(range(0, len(history), size)):
            previous = PLACEHOLDER_PROFILE if step else None
            request = builder.profile(user_id, "", history[start : start + size], previous, step)
            calls, prompt, profile_calls = calls + 1, prompt + estimate_tokens(request), profile_calls + 1
        items = targets.get(user_id, [])
        recent = history[-config.data.context_items :] if config.data.context_items else []
        stats = {"mean": 3.5, "count": len(history)} if history else None
        for start in range(0, len(items), config.run.items_per_call):
            chunk = items[start : start + config.run.items_per_call]
            request = builder.feedback(user_id, "", PLACEHOLDER_PROFILE, recent, chunk, stats, community)
            if method is not None:
                request = distribution_request(request, method)
            calls, prompt, feedback_calls, rated = (
                calls + 1,
                prompt + estimate_tokens(request),
                feedback_calls + 1,
                rated + len(chunk),
            )
    scale = len(users) / max(len(sample), 1)
    totals = _token_totals(
        prompt * scale, profile_calls * scale, feedback_calls * scale, rated * scale, calibration, per_rating
    )
    prices = price_table(backend, config.prices)
    # A keyless backend (local server, offline) costs nothing unless [prices] or the backend price it.
    priced = bool(backend.key_name or price_for(model, prices))
    factor = BatchCallLayer.price_factor if config.run.vendor_batch else 1.0
    costs = [cost(model, Usage(p, c), prices) * factor if priced else 0.0 for p, c in totals]
    (prompt_point, completion_point), (prompt_low, completion_low), (prompt_high, completion_high) = totals
    return Estimate(
        len(users),
        len(plan.targets),
        math.ceil(calls * scale),
        prompt_point,
        completion_point,
        model,
        costs[0],
        (prompt_low, prompt_high),
        (completion_low, completion_high),
        (costs[1], costs[2]),
        str(calibration.source) if calibration is not None else None,
    )


def _token_totals(
    prompt: float,
    profile_calls: float,
    feedback_calls: float,
    rated: float,
    calibration: Calibration | None,
    per_rating: float = TOKENS_PER_RATING,
) -> list[tuple[int, int]]:
    """(prompt, completion) tokens: the point estimate, then the low and the high end of its interval.

    ``per_rating``: completion tokens assumed per rated item (more in verbalised distribution mode).
    A quantity the calibration did not measure keeps its fixed assumption (with no spread)."""
    if calibration is None:
        completion = profile_calls * PROFILE_COMPLETION_TOKENS + rated * per_rating + feedback_calls * 10
        ends = [(1.0, 1.0), *zip(UNCALIBRATED_RANGE["prompt"], UNCALIBRATED_RANGE["completion"])]
        return [(math.ceil(prompt * p), math.ceil(completion * c)) for p, c in ends]
    measured = (calibration.prompt_ratio, calibration.profile_completion, calibration.completion_per_rating)
    totals = []
    for end in ("mean", "low", "high"):
        ratio, profile, measured_rating = (getattr(m, end) if m is not None else None for m in measured)
        profile_tokens = profile_calls * (PROFILE_COMPLETION_TOKENS if profile is None else profile)
        rating_tokens = rated * per_rating + feedback_calls * 10 if measured_rating is None else rated * measured_rating
        totals.append(
            (math.ceil(prompt * (1.0 if ratio is None else ratio)), math.ceil(profile_tokens + rating_tokens))
        )
    return totals
