"""Profile-evolution gain: does each profile update make the simulated feedback more like the user's?"""

from __future__ import annotations

import numpy as np

from lusifer.validity.base import ValidityCheck, ValidityData, interval
from lusifer.validity.live_stats import (
    UserErrors,
    condition_curves,
    live_of,
    method_of,
    targets_of,
    truth_of,
    user_errors,
)


def profile_evolution(data: ValidityData) -> list[tuple]:
    """Rate the same held-out items knowing 0, 1, ..., all profile steps; RMSE and Spearman per step,
    and each step's gain over step 0 and over the previous step."""
    live = live_of(data)
    targets, truth = targets_of(data), truth_of(data)
    users = list(targets)
    steps = max(live.steps(user) for user in users)

    async def work(user: str) -> list[UserErrors]:
        own = {item: truth[(user, item)] for item in targets[user]}
        return [
            user_errors(await live.rate(user, targets[user], steps=step), targets[user], own)
            for step in range(steps + 1)
        ]

    results = live.map_users(users, work)
    curves = condition_curves(data, np.array([results[user] for user in users]))
    method, rows = method_of(data), []
    for name, values in curves.items():
        for step in range(steps + 1):
            rows.append(("evolution", method, name, f"step={step}", values[0, step], *interval(values[1:, step])))
            for label, base in (("vs_step=0", 0), ("vs_previous", step - 1)) if step else ():
                gain = values[:, step] - values[:, base]
                rows.append(("evolution", method, f"{name}_gain", f"step={step} {label}", gain[0], *interval(gain[1:])))
    return rows


EVOLUTION = ValidityCheck(
    "evolution",
    "Profile-evolution gain",
    run=profile_evolution,
    description=(
        "The same held-out items rated with the profile after 0 (no profile, no history), 1, 2, ... steps, "
        "each step knowing only the history its profile has seen. RMSE (lower is better) and within-user "
        "Spearman per step, and each step's gain over step 0 and over the previous step (paired intervals)."
    ),
)
