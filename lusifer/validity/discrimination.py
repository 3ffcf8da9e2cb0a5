"""Discrimination (Agent4Rec's test): can the simulated feedback tell liked items from the others?

On recorded output the negatives are the user's held-out items rated below the like threshold; a live
simulator also rates items the user never rated (:data:`UNRATED`). Ratios 1:1, 1:3 and 1:9 weight each
user's negatives so they count ``k`` times the user's liked items; accuracy calls an item liked when
its simulated rating reaches the threshold; AUC needs no threshold and does not depend on the ratio.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from lusifer.api.validity import (
    PERMUTED,
    USER_MEAN,
    ValidityCheck,
    ValidityData,
    Values,
)
from lusifer.evaluation.intervals import (
    interval,
)
from lusifer.validity.common import (
    null_rows,
    permute_within_users,
)
from lusifer.validity.live_stats import live_of, method_of, targets_of, truth_of, unrated_items

RATIOS = (1, 3, 9)
#: Never-rated items requested beside each user's liked held-out items.
NEGATIVES = 30


def ratio_weights(codes: np.ndarray, labels: np.ndarray, ratio: int) -> np.ndarray:
    """Row weights giving each user's negatives ``ratio`` times the weight of their positives (0 if
    the user lacks either)."""
    positives = np.bincount(codes, weights=labels == 1, minlength=codes.max() + 1)
    negatives = np.bincount(codes, weights=labels == 0, minlength=codes.max() + 1)
    usable = (positives > 0) & (negatives > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        negative_weight = np.where(usable, ratio * positives / negatives, 0.0)
    weights: np.ndarray = np.where(labels == 1, usable[codes].astype(float), negative_weight[codes])
    return weights


def discrimination_values(
    codes: np.ndarray, labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray, threshold: float
) -> Values:
    """AUC and accuracy at each ratio for user weights ``weights`` (``(r, n_users)``)."""
    from lusifer.evaluation.metrics import weighted_auc

    correct = ((predicted >= threshold) == (labels == 1)).astype(float)
    finite = np.isfinite(predicted)
    # the ratios scale every user's negatives by the same factor, which leaves the pooled AUC unchanged
    rows = weights[:, codes] * ratio_weights(codes, labels, 1) * finite
    result: Values = {("auc", "any ratio"): weighted_auc(labels.astype(float), predicted, rows)}
    for ratio in RATIOS:
        rows = weights[:, codes] * ratio_weights(codes, labels, ratio) * finite
        with np.errstate(invalid="ignore", divide="ignore"):
            result[("accuracy", f"1:{ratio}")] = (rows @ np.where(finite, correct, 0.0)) / rows.sum(axis=1)
    return result


def held_out_discrimination(data: ValidityData, column: str, weights: np.ndarray) -> Values:
    """Liked held-out items versus held-out items rated below the threshold."""
    labels = (data.frame["rating"].to_numpy(float) >= data.liked_from).astype(int)
    predicted = data.frame[column].to_numpy(float)
    return discrimination_values(data.user_codes, labels, predicted, weights, data.liked_from)


DISCRIMINATION = ValidityCheck(
    "discrimination",
    "Discrimination: liked vs not-liked held-out items",
    compute=held_out_discrimination,
    description=(
        "Per user, held-out items rated at or above the like threshold (positives) against held-out items "
        "rated below it (negatives), weighted to 1:1, 1:3 and 1:9. AUC (0.5 = chance; the same at every ratio) and the "
        "accuracy of 'simulated rating >= threshold' at each ratio. Needs no new calls, so it works on recorded output."
    ),
)


def unrated_discrimination(data: ValidityData) -> list[tuple[Any, ...]]:
    """Liked held-out items versus never-rated items, rated together in one shuffled request, beside
    the user-mean constant and the within-user permutation of the same answers."""
    from lusifer.evaluation.compute import bootstrap_counts

    live = live_of(data)
    targets, truth = targets_of(data), truth_of(data)
    liked = {user: [i for i in items if truth[(user, i)] >= data.liked_from] for user, items in targets.items()}
    users = [user for user, items in liked.items() if items]

    async def work(user: str) -> tuple[list[str], dict[str, float]]:
        negatives = unrated_items(live, user, set(targets[user]), NEGATIVES, data.seed)
        request = liked[user] + negatives
        random.Random(f"{data.seed}:{user}:order").shuffle(request)
        return negatives, await live.rate(user, request)

    results = live.map_users(users, work)
    codes, labels, predicted, means = [], [], [], []
    for code, user in enumerate(users):
        negatives, ratings = results[user]
        level = float(np.mean([float(entry.rating) for entry in live.histories.get(user, [])] or [np.nan]))
        for item, label in [(item, 1) for item in liked[user]] + [(item, 0) for item in negatives]:
            codes.append(code)
            labels.append(label)
            predicted.append(ratings.get(item, np.nan))
            means.append(level)
    code_array, label_array, simulated = np.asarray(codes), np.asarray(labels), np.asarray(predicted)
    counts = bootstrap_counts(len(users), data.reps, data.seed)
    ones = np.ones((1, len(users)))

    def score(values: np.ndarray, weights: np.ndarray) -> Values:
        return discrimination_values(code_array, label_array, values, weights, data.liked_from)

    method, rows = method_of(data), []
    for name, values in ((method, simulated), (method + USER_MEAN, np.asarray(means))):
        boot = score(values, counts)
        for key, value in score(values, ones).items():
            rows.append(("discrimination_unrated", name, *key, float(value[0]), *interval(boot[key])))
    rng = np.random.default_rng(data.seed)
    shuffles: dict[tuple[str, str], list[float]] = {}
    for _ in range(data.permutations):
        for key, value in score(permute_within_users(simulated, code_array, rng), ones).items():
            shuffles.setdefault(key, []).append(float(value[0]))
    return rows + null_rows("discrimination_unrated", method + PERMUTED, shuffles)


DISCRIMINATION_UNRATED = ValidityCheck(
    "discrimination_unrated",
    "Discrimination: liked held-out vs never-rated items",
    run=unrated_discrimination,
    description=(
        f"Agent4Rec's test: each user's liked held-out items and {NEGATIVES} items the user never rated, "
        "rated in one shuffled request; AUC (the same at every ratio) and accuracy at 1:1, 1:3, 1:9."
    ),
)
