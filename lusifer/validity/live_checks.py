"""Checks that ask the simulator for new feedback: profile evolution, invariances, contamination,
discrimination against never-rated items and the open-catalogue ranking agreement.

Each returns finished rows; statistics are means over users with a user-bootstrap 95 % interval, and
differences between two conditions use the same resampled users for both (paired intervals).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

from lusifer.validity.base import PERMUTED, USER_MEAN, ValidityCheck, ValidityData, interval, user_means

if TYPE_CHECKING:
    from lusifer.validity.live import LiveSimulator

#: Slate-mates per invariance request, unrated candidates per user (discrimination, open catalogue).
SLATE_MATES = 10
NEGATIVES = 30
CANDIDATES = 100
#: Items need this many training ratings to serve as low- or high-rated slate-mates.
MATE_MIN_COUNT = 5


def _method(data: ValidityData) -> str:
    return data.simulators[0] if data.simulators else "simulator"


def _targets(data: ValidityData) -> dict[str, list[str]]:
    targets: dict[str, list[str]] = {}
    for user, item in zip(data.frame["user_id"].astype(str), data.frame["item_id"].astype(str)):
        targets.setdefault(user, []).append(item)
    return targets


def _truth(data: ValidityData) -> dict[tuple[str, str], float]:
    keys = zip(data.frame["user_id"].astype(str), data.frame["item_id"].astype(str))
    return dict(zip(keys, data.frame["rating"].to_numpy(float)))


def _summary(data: ValidityData, per_user: np.ndarray) -> tuple[float, float, float]:
    """Mean over users and its user-bootstrap interval (users in the order of ``_targets``)."""
    from lusifer.evaluation.compute import bootstrap_counts

    counts = bootstrap_counts(per_user.size, data.reps, data.seed)
    value = float(user_means(per_user, np.ones((1, per_user.size)))[0])
    return (value, *interval(user_means(per_user, counts)))


def _row(check: str, method: str, statistic: str, setting: str, data: ValidityData, values: np.ndarray) -> tuple:
    return (check, method, statistic, setting, *_summary(data, values))


def _spearman(pairs: list[tuple[float, float]]) -> float:
    from scipy.stats import spearmanr

    truth, simulated = (np.asarray(side, dtype=float) for side in zip(*pairs)) if pairs else ([], [])
    if len(pairs) < 2 or np.ptp(truth) == 0 or np.ptp(simulated) == 0:
        return float("nan")
    return float(spearmanr(truth, simulated).statistic)


def _errors(ratings: dict[str, float], items: list[str], truth: dict[str, float]) -> tuple[float, float, float]:
    """(sum of squared errors, rated items, Spearman) of one user's ratings."""
    pairs = [(truth[item], ratings[item]) for item in items if item in ratings]
    squared = sum((t - r) ** 2 for t, r in pairs)
    return squared, float(len(pairs)), _spearman(pairs)


# Profile evolution ------------------------------------------------------------------------------------


def profile_evolution(data: ValidityData) -> list[tuple]:
    """Rate the same held-out items knowing 0, 1, ..., all profile steps; RMSE and Spearman per step."""
    from lusifer.evaluation.compute import bootstrap_counts

    live = _live(data)
    targets, truth = _targets(data), _truth(data)
    users = list(targets)
    steps = max(live.steps(user) for user in users)

    async def work(user: str) -> list[tuple[float, float, float]]:
        own = {item: truth[(user, item)] for item in targets[user]}
        return [_errors(await live.rate(user, targets[user], steps=s), targets[user], own) for s in range(steps + 1)]

    results = live.map_users(users, work)
    table = np.array([results[user] for user in users])  # (users, steps + 1, 3)
    counts = np.vstack([np.ones((1, len(users))), bootstrap_counts(len(users), data.reps, data.seed)])
    with np.errstate(invalid="ignore", divide="ignore"):
        rmse = np.sqrt((counts @ table[:, :, 0]) / (counts @ table[:, :, 1]))  # (1 + reps, steps + 1)
    spearman = np.column_stack([user_means(table[:, s, 2], counts) for s in range(steps + 1)])
    method, rows = _method(data), []
    for name, values in (("rmse", rmse), ("per_user_spearman", spearman)):
        for s in range(steps + 1):
            rows.append(("evolution", method, name, f"step={s}", values[0, s], *interval(values[1:, s])))
            if s:
                for label, base in (("vs_step=0", 0), ("vs_previous", s - 1)):
                    gain = values[:, s] - values[:, base]
                    rows.append(
                        ("evolution", method, f"{name}_gain", f"step={s} {label}", gain[0], *interval(gain[1:]))
                    )
    return rows


# Invariances ------------------------------------------------------------------------------------------


def _slate_mates(live: LiveSimulator) -> tuple[list[str], list[str]]:
    """The lowest- and highest-rated items of the training slice (with enough ratings and a text)."""
    rated = sorted(
        (stats["mean"], item)
        for item, stats in live.community.items()
        if stats["count"] >= MATE_MIN_COUNT and item in live.items
    )
    items = [item for _, item in rated]
    return items[: 3 * SLATE_MATES], items[-3 * SLATE_MATES :]


def invariance(data: ValidityData) -> list[tuple]:
    """The same (user, item) requested beside low- vs high-rated slate-mates, in reversed order, and
    (LLM backends with ``paraphrase_prompts``) with paraphrased prompts: mean absolute change."""
    live = _live(data)
    targets = _targets(data)
    users = list(targets)
    low, high = _slate_mates(live)
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

    def per_user(left: str, right: str, signed: bool = False) -> np.ndarray:
        values = []
        for user in users:
            a, b = results[user][left], results[user][right]
            changes = [a[item] - b[item] for item in targets[user] if item in a and item in b]
            changes = changes if signed else [abs(change) for change in changes]
            values.append(float(np.mean(changes)) if changes else np.nan)
        return np.asarray(values)

    method = _method(data)
    rows = [
        _row("invariance", method, "mean_abs_change", "slate: low- vs high-rated mates", data, per_user("low", "high")),
        _row(
            "invariance",
            method,
            "mean_change",
            "slate: low- minus high-rated mates",
            data,
            per_user("low", "high", True),
        ),
        _row("invariance", method, "mean_abs_change", "order: reversed", data, per_user("base", "reversed")),
    ]
    if paraphrase is not None:
        rows.append(
            _row("invariance", method, "mean_abs_change", "prompt paraphrase", data, per_user("base", "paraphrase"))
        )
    return rows


# Contamination ----------------------------------------------------------------------------------------


def contamination(data: ValidityData) -> list[tuple]:
    """The held-out items with titles masked: the change of RMSE and within-user Spearman."""
    from lusifer.simulation.requests import ItemText

    live = _live(data)
    targets, truth = _targets(data), _truth(data)
    users = list(targets)
    masked = {item: ItemText(f"Item {item}", text.item_info) for item, text in live.items.items()}

    async def work(user: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        own = {item: truth[(user, item)] for item in targets[user]}
        plain = await live.rate(user, targets[user])
        hidden = await live.rate(user, targets[user], items=masked)
        return _errors(plain, targets[user], own), _errors(hidden, targets[user], own)

    results = live.map_users(users, work)
    table = np.array([results[user] for user in users])  # (users, 2, 3)
    from lusifer.evaluation.compute import bootstrap_counts

    counts = np.vstack([np.ones((1, len(users))), bootstrap_counts(len(users), data.reps, data.seed)])
    with np.errstate(invalid="ignore", divide="ignore"):
        rmse = np.sqrt((counts @ table[:, :, 0]) / (counts @ table[:, :, 1]))
    spearman = np.column_stack([user_means(table[:, c, 2], counts) for c in range(2)])
    method, rows = _method(data), []
    for name, values in (("rmse", rmse), ("per_user_spearman", spearman)):
        for c, setting in enumerate(("titles shown", "titles masked")):
            rows.append(("contamination", method, name, setting, values[0, c], *interval(values[1:, c])))
        change = values[:, 1] - values[:, 0]
        rows.append(("contamination", method, f"{name}_change", "masked - shown", change[0], *interval(change[1:])))
    return rows


# Never-rated items ------------------------------------------------------------------------------------


def _unrated(live: LiveSimulator, user: str, exclude: set[str], size: int, seed: int) -> list[str]:
    seen = {entry.item_id for entry in live.histories.get(user, [])} | exclude
    pool = sorted(item for item in live.items if item not in seen)
    return random.Random(f"{seed}:{user}").sample(pool, min(size, len(pool)))


def discrimination_unrated(data: ValidityData) -> list[tuple]:
    """Liked held-out items versus never-rated items, rated together in one shuffled request."""
    from lusifer.evaluation.compute import bootstrap_counts
    from lusifer.validity.base import permute_within_users
    from lusifer.validity.discrimination import discrimination_values

    live = _live(data)
    targets, truth = _targets(data), _truth(data)
    liked = {u: [i for i in items if truth[(u, i)] >= data.liked_from] for u, items in targets.items()}
    users = [user for user, items in liked.items() if items]

    async def work(user: str) -> tuple[list[str], dict[str, float]]:
        negatives = _unrated(live, user, set(targets[user]), NEGATIVES, data.seed)
        request = liked[user] + negatives
        random.Random(f"{data.seed}:{user}:order").shuffle(request)
        return negatives, await live.rate(user, request)

    results = live.map_users(users, work)
    codes, labels, predicted, means = [], [], [], []
    user_mean = {u: float(np.mean([e.rating for e in live.histories.get(u, [])] or [np.nan])) for u in users}
    for code, user in enumerate(users):
        negatives, ratings = results[user]
        for item, label in [(i, 1) for i in liked[user]] + [(i, 0) for i in negatives]:
            codes.append(code)
            labels.append(label)
            predicted.append(ratings.get(item, np.nan))
            means.append(user_mean[user])
    codes_a, labels_a = np.asarray(codes), np.asarray(labels)
    ones = np.ones((1, len(users)))
    counts = bootstrap_counts(len(users), data.reps, data.seed)
    method, rows = _method(data), []
    for name, values in ((method, np.asarray(predicted)), (method + USER_MEAN, np.asarray(means))):
        point = discrimination_values(codes_a, labels_a, values, ones, data.liked_from)
        boot = discrimination_values(codes_a, labels_a, values, counts, data.liked_from)
        for (statistic, setting), value in point.items():
            rows.append(
                (
                    "discrimination_unrated",
                    name,
                    statistic,
                    setting,
                    float(value[0]),
                    *interval(boot[(statistic, setting)]),
                )
            )
    rng = np.random.default_rng(data.seed)
    shuffles: dict[tuple[str, str], list[float]] = {}
    for _ in range(data.permutations):
        permuted = permute_within_users(np.asarray(predicted), codes_a, rng)
        for key, value in discrimination_values(codes_a, labels_a, permuted, ones, data.liked_from).items():
            shuffles.setdefault(key, []).append(float(value[0]))
    for (statistic, setting), values in shuffles.items():
        rows.append(
            (
                "discrimination_unrated",
                method + PERMUTED,
                statistic,
                setting,
                float(np.nanmean(values)),
                *interval(np.asarray(values)),
            )
        )
    return rows


# Open catalogue ---------------------------------------------------------------------------------------


def ranking_open(data: ValidityData) -> list[tuple]:
    """Each recommender's top k among never-rated candidates, rated by the simulator, ordered against
    the recommenders' real held-out scores (mean rating@k of the held-out check)."""
    import pandas as pd

    from lusifer.evaluation.compute import bootstrap_counts
    from lusifer.evaluation.pipeline import align_ids
    from lusifer.validity.base import cached
    from lusifer.validity.panel import panel_scores
    from lusifer.validity.ranking import _weighted_scores, agreement, per_user_scores

    live = _live(data)
    if data.history is None:
        return []
    real_users = cached(data, "ranking_real", lambda: per_user_scores(data, data.frame["rating"].to_numpy(float)))
    targets = _targets(data)
    all_users = [str(user) for user in data.users]
    candidates = {user: _unrated(live, user, set(targets.get(user, [])), CANDIDATES, data.seed) for user in all_users}
    pairs = pd.DataFrame(
        [(user, item) for user in all_users for item in candidates[user]], columns=["user_id", "item_id"]
    )
    pairs, history = align_ids(pairs, data.history)
    scores = panel_scores(history, data.items, pairs, data.seed, data.recommender_file)
    pairs = pairs.astype({"user_id": str, "item_id": str})
    tops: dict[str, dict[str, list[str]]] = {user: {} for user in all_users}
    for name in scores.columns:
        ranked = pairs.assign(score=scores[name].to_numpy()).sort_values(
            ["user_id", "score"], ascending=[True, False], kind="stable"
        )
        for user, group in ranked.groupby("user_id", sort=False):
            tops[user][name] = group["item_id"].head(data.k).tolist()

    async def work(user: str) -> dict[str, float]:
        union = list(dict.fromkeys(item for top in tops[user].values() for item in top))
        return await live.rate(user, union)

    results = live.map_users(all_users, work)
    names = list(scores.columns)

    def table(ratings: dict[str, dict[str, float]]) -> np.ndarray:
        return np.array(
            [
                [np.nanmean([ratings[u].get(i, np.nan) for i in tops[u][n]] or [np.nan]) for n in names]
                for u in all_users
            ]
        )

    counts = np.vstack([np.ones((1, len(all_users))), bootstrap_counts(len(all_users), data.reps, data.seed)])
    real = _weighted_scores(real_users["mean_rating"], counts)
    method, setting, rows = _method(data), f"open mean_rating@{data.k}", []
    with np.errstate(all="ignore"):
        simulated = _weighted_scores(table(results), counts)
        for statistic, values in agreement(real, simulated).items():
            rows.append(("ranking_open", method, statistic, setting, float(values[0]), *interval(values[1:])))
        for j, name in enumerate(names):
            rows.append(
                ("ranking_open", method, f"sim_{setting}", name, float(simulated[0, j]), *interval(simulated[1:, j]))
            )
        rng = np.random.default_rng(data.seed)
        shuffles: dict[str, list[float]] = {}
        for _ in range(data.permutations):
            shuffled = {}
            for user in all_users:
                items = list(results[user])
                values = rng.permutation(np.array([results[user][i] for i in items]))
                shuffled[user] = dict(zip(items, values))
            permuted = _weighted_scores(table(shuffled), counts[:1])
            for statistic, values in agreement(real[:1], permuted).items():
                shuffles.setdefault(statistic, []).append(float(values[0]))
    for statistic, values in shuffles.items():
        rows.append(
            (
                "ranking_open",
                method + PERMUTED,
                statistic,
                setting,
                float(np.nanmean(values)),
                *interval(np.asarray(values)),
            )
        )
    return rows


def _live(data: ValidityData) -> LiveSimulator:
    assert data.live is not None, "live checks need a simulator"
    return data.live


LIVE_CHECKS = [
    ValidityCheck(
        "ranking_open",
        "Recommender-ranking agreement (open catalogue)",
        run=ranking_open,
        description=(
            f"Each recommender's top k among {CANDIDATES} never-rated candidates per user, rated by the simulator "
            "(mean simulated rating of the top k), ordered against the recommenders' real held-out mean rating@k."
        ),
    ),
    ValidityCheck(
        "discrimination_unrated",
        "Discrimination: liked held-out vs never-rated items",
        run=discrimination_unrated,
        description=(
            f"Agent4Rec's test: each user's liked held-out items and {NEGATIVES} items the user never rated, "
            "rated in one shuffled request; AUC and accuracy at 1:1, 1:3, 1:9."
        ),
    ),
    ValidityCheck(
        "evolution",
        "Profile-evolution gain",
        run=profile_evolution,
        description=(
            "The same held-out items rated with the profile after 0 (no profile, no history), 1, 2, ... steps, "
            "each step knowing only the history its profile has seen. RMSE (lower is better) and within-user "
            "Spearman per step, and each step's gain over step 0 and over the previous step (paired intervals)."
        ),
    ),
    ValidityCheck(
        "invariance",
        "Invariances",
        run=invariance,
        description=(
            f"The same (user, item) rated beside {SLATE_MATES} low-rated vs {SLATE_MATES} high-rated slate-mates "
            "(the training slice's lowest and highest community means), in reversed request order, and, for LLM "
            "backends given paraphrased templates, with the paraphrase. Mean absolute change; the goal is 0."
        ),
    ),
    ValidityCheck(
        "contamination",
        "Contamination probe",
        run=contamination,
        description=(
            "The held-out items rated with their titles masked ('Item <id>', text kept). A large loss of accuracy "
            "suggests the model rates from memorised titles rather than the profile."
        ),
    ),
]
