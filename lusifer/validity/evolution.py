"""Profile-evolution gain: does each profile update make the simulated feedback more like the user's?"""

from __future__ import annotations

from typing import Any

import numpy as np

from lusifer.api.validity import ValidityCheck, ValidityData
from lusifer.evaluation.intervals import interval
from lusifer.validity.live_stats import (
    UserErrors,
    condition_curves,
    live_of,
    method_of,
    targets_of,
    truth_of,
    user_errors,
)

#: The condition with the whole history (recent items, rating statistics) but no profile text.
HISTORY_ONLY = "history without profile"


def profile_evolution(data: ValidityData) -> list[tuple[Any, ...]]:
    """Rate the same held-out items knowing 0, 1, ..., all profile steps, and the whole history without
    a profile; RMSE and Spearman per condition, and the gains between them."""
    live = live_of(data)
    targets, truth = targets_of(data), truth_of(data)
    users = list(targets)
    steps = max(live.steps(user) for user in users)

    async def work(user: str) -> list[UserErrors]:
        own, items = {item: truth[(user, item)] for item in targets[user]}, targets[user]
        curve = [user_errors(await live.rate(user, items, steps=step), items, own) for step in range(steps + 1)]
        return [*curve, user_errors(await live.rate(user, items, profile=False), items, own)]

    results = live.map_users(users, work)
    curves = condition_curves(data, np.array([results[user] for user in users]))
    method, rows = method_of(data), []
    for name, values in curves.items():

        def add(statistic: str, setting: str, replicates: np.ndarray) -> None:
            rows.append(("evolution", method, statistic, setting, replicates[0], *interval(replicates[1:])))

        for step in range(steps + 1):
            add(name, f"step={step}", values[:, step])
            for label, base in (("vs_step=0", 0), ("vs_previous", step - 1)) if step else ():
                add(f"{name}_gain", f"step={step} {label}", values[:, step] - values[:, base])
        add(name, HISTORY_ONLY, values[:, -1])
        add(f"{name}_gain", f"step={steps} vs {HISTORY_ONLY}", values[:, steps] - values[:, -1])
    return rows


EVOLUTION = ValidityCheck(
    "evolution",
    "Profile-evolution gain",
    run=profile_evolution,
    description=(
        "The same held-out items rated with the profile after 0 (no profile, no history), 1, 2, ... steps, "
        "each step knowing only the history its profile has seen. RMSE (lower is better) and within-user "
        "Spearman per step, and each step's gain over step 0 and over the previous step (paired intervals); "
        "then the whole history without the profile text, and the last step's gain over it: what the "
        "profile adds beyond the recent items and rating statistics the prompt shows anyway."
    ),
)
