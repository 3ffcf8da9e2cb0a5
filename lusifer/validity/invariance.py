"""Invariances: feedback on an item should not depend on what is requested beside it, on the order of
the request, or on how the prompt is worded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lusifer.api.validity import ValidityCheck, ValidityData
from lusifer.validity.live_stats import live_of, method_of, summary_row, targets_of

if TYPE_CHECKING:
    from lusifer.validity.live import LiveSimulator

#: Slate-mates added to a user's held-out items in each slate condition.
SLATE_MATES = 10
#: Items need this many training ratings to serve as low- or high-rated slate-mates.
MATE_MIN_COUNT = 5
#: Settings of the rows: (statistic, setting, left condition, right condition, signed).
COMPARISONS = (
    ("mean_abs_change", "slate: low- vs high-rated mates", "low", "high", False),
    ("mean_change", "slate: low- minus high-rated mates", "low", "high", True),
    ("mean_abs_change", "order: reversed", "base", "reversed", False),
    ("mean_abs_change", "prompt paraphrase", "base", "paraphrase", False),
)


def slate_mate_pools(live: LiveSimulator) -> tuple[list[str], list[str]]:
    """Candidates for low- and high-rated slate-mates: the training slice's lowest and highest
    community means (items with enough ratings and a text), three times as many as needed."""
    rated = sorted(
        (stats["mean"], item)
        for item, stats in live.community.items()
        if stats["count"] >= MATE_MIN_COUNT and item in live.items
    )
    items = [item for _, item in rated]
    return items[: 3 * SLATE_MATES], items[-3 * SLATE_MATES :]


def invariance(data: ValidityData) -> list[tuple[Any, ...]]:
    """The same (user, item) requested beside low- vs high-rated slate-mates, in reversed order, and
    (given ``data.extra["paraphrase_prompts"]``) with paraphrased templates."""
    live = live_of(data)
    targets = targets_of(data)
    users = list(targets)
    low, high = slate_mate_pools(live)
    paraphrase = data.extra.get("paraphrase_prompts")

    def mates(pool: list[str], user: str) -> list[str]:
        seen = {entry.item_id for entry in live.histories.get(user, [])} | set(targets[user])
        return [item for item in pool if item not in seen][:SLATE_MATES]

    async def work(user: str) -> dict[str, dict[str, float]]:
        items = targets[user]
        conditions = {
            "base": await live.rate(user, items),
            "low": await live.rate(user, items + mates(low, user)),
            "high": await live.rate(user, items + mates(high, user)),
            "reversed": await live.rate(user, items[::-1]),
        }
        if paraphrase is not None:
            conditions["paraphrase"] = await live.rate(user, items, prompts_dir=paraphrase)
        return conditions

    results = live.map_users(users, work)

    def per_user(left: str, right: str, signed: bool) -> np.ndarray:
        values = []
        for user in users:
            a, b = results[user][left], results[user][right]
            changes = [a[item] - b[item] for item in targets[user] if item in a and item in b]
            changes = changes if signed else [abs(change) for change in changes]
            values.append(float(np.mean(changes)) if changes else np.nan)
        return np.asarray(values)

    method = method_of(data)
    return [
        summary_row("invariance", method, statistic, setting, data, per_user(left, right, signed))
        for statistic, setting, left, right, signed in COMPARISONS
        if right != "paraphrase" or paraphrase is not None
    ]


INVARIANCE = ValidityCheck(
    "invariance",
    "Invariances",
    run=invariance,
    description=(
        f"The same (user, item) rated beside {SLATE_MATES} low-rated vs {SLATE_MATES} high-rated slate-mates "
        "(the training slice's lowest and highest community means), in reversed request order, and, for LLM "
        "backends given paraphrased templates, with the paraphrase. Mean absolute change (the goal is 0) "
        "and the signed slate effect (positive: rated higher beside low-rated items)."
    ),
)
