"""Contamination probe: does the model rate from memorised titles rather than from the profile?"""

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

SETTINGS = ("titles shown", "titles masked")


def contamination(data: ValidityData) -> list[tuple[Any, ...]]:
    """The held-out items with titles masked: RMSE and within-user Spearman, and their change."""
    from lusifer.engine.requests import CatalogueItem

    live = live_of(data)
    targets, truth = targets_of(data), truth_of(data)
    users = list(targets)
    masked = {item: CatalogueItem(f"Item {item}", text.item_info, text.features) for item, text in live.items.items()}

    async def work(user: str) -> tuple[UserErrors, UserErrors]:
        own = {item: truth[(user, item)] for item in targets[user]}
        shown = await live.rate(user, targets[user])
        hidden = await live.rate(user, targets[user], items=masked)
        return user_errors(shown, targets[user], own), user_errors(hidden, targets[user], own)

    results = live.map_users(users, work)
    curves = condition_curves(data, np.array([results[user] for user in users]))
    method, rows = method_of(data), []
    for name, values in curves.items():
        for column, setting in enumerate(SETTINGS):
            rows.append(("contamination", method, name, setting, values[0, column], *interval(values[1:, column])))
        change = values[:, 1] - values[:, 0]
        rows.append(("contamination", method, f"{name}_change", "masked - shown", change[0], *interval(change[1:])))
    return rows


CONTAMINATION = ValidityCheck(
    "contamination",
    "Contamination probe",
    run=contamination,
    description=(
        "The held-out items rated with their titles masked ('Item <id>', text kept). A large loss of accuracy "
        "suggests the model rates from memorised titles rather than the profile."
    ),
)
