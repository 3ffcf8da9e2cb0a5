"""Recommender-ranking agreement (sim2real): do simulator and real users order the panel alike?

Every recommender of :mod:`lusifer.validity.panel` ranks each user's held-out items; its top ``k`` is
scored with the true ratings (the real score) and with a method's ratings (the simulated score), as the
mean rating of the top ``k`` and as NDCG@k. Kendall's tau-b, Spearman's rho and the pairwise agreement
(share of recommender pairs ordered the same; a tie in the simulator counts one half) compare the two
orderings of the recommenders, inside every user-bootstrap replicate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lusifer.api.validity import (
    PERMUTED,
    ValidityCheck,
    ValidityData,
    Values,
)
from lusifer.evaluation.intervals import (
    interval,
)
from lusifer.validity.common import (
    cached,
    null_rows,
    user_means,
)
from lusifer.validity.live_stats import live_of, method_of, targets_of, unrated_items

SCORES = ("mean_rating", "ndcg")
#: Never-rated candidates per user among which each recommender picks its top k (open catalogue).
CANDIDATES = 50


def _positions(codes: np.ndarray, scores: np.ndarray, tie_break: np.ndarray) -> np.ndarray:
    """Each row's 0-based rank among its user's rows by descending score (ties by ``tie_break``)."""
    order = np.lexsort((tie_break, -np.nan_to_num(scores, nan=-np.inf), codes))
    starts = np.searchsorted(codes[order], codes[order], side="left")
    positions = np.empty(codes.size, dtype=int)
    positions[order] = np.arange(codes.size) - starts
    return positions


def _recommender_positions(data: ValidityData) -> dict[str, np.ndarray]:
    from lusifer.evaluation.pipeline import align_ids
    from lusifer.validity.panel import panel_scores, random_scores

    if data.history is None:
        return {}
    pairs, history = align_ids(data.frame[["user_id", "item_id"]], data.history)
    scores = panel_scores(history, data.items, pairs, data.seed, data.recommender_file)
    tie_break = random_scores(history, None, pairs, data.seed + 1)
    codes = data.user_codes
    return {name: _positions(codes, scores[name].to_numpy(float), tie_break) for name in scores.columns}


def _discounted(codes: np.ndarray, gains: np.ndarray, positions: np.ndarray, k: int, users: int) -> np.ndarray:
    top = (positions < k) & np.isfinite(gains)
    discount = np.where(top, 1.0 / np.log2(positions + 2.0), 0.0)
    return np.bincount(codes, weights=np.where(top, gains, 0.0) * discount, minlength=users)


def per_user_scores(data: ValidityData, values: np.ndarray) -> dict[str, np.ndarray]:
    """``(n_users, n_recommenders)`` mean rating@k and NDCG@k of each recommender's top k, with
    ``values`` as the ratings (users with no more than k held-out items are NaN)."""
    positions = cached(data, "ranking_positions", lambda: _recommender_positions(data))
    codes, users, k = data.user_codes, data.n_users, data.k
    informative = np.bincount(codes, minlength=users) > k
    ideal_positions = _positions(codes, values, np.zeros(values.size))
    ideal = _discounted(codes, values, ideal_positions, k, users)
    means, ndcgs = [], []
    for position in positions.values():
        top = (position < k) & np.isfinite(values)
        total = np.bincount(codes, weights=np.where(top, values, 0.0), minlength=users)
        count = np.bincount(codes, weights=top, minlength=users)
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append(np.where(informative & (count > 0), total / count, np.nan))
            gained = _discounted(codes, values, position, k, users)
            ndcgs.append(np.where(informative & (ideal > 0), gained / ideal, np.nan))
    return {"mean_rating": np.column_stack(means), "ndcg": np.column_stack(ndcgs)}


def _weighted_scores(per_user: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(r, n_recommenders)``: each replicate's mean over users, per recommender."""
    return np.column_stack([user_means(per_user[:, j], weights) for j in range(per_user.shape[1])])


def agreement(real: np.ndarray, simulated: np.ndarray) -> dict[str, np.ndarray]:
    """Kendall tau-b, Spearman rho and pairwise agreement between the rows of two ``(r, m)`` tables."""
    from scipy.stats import rankdata

    left, right = np.triu_indices(real.shape[1], k=1)
    real_sign = np.sign(real[:, left] - real[:, right])
    sim_sign = np.sign(simulated[:, left] - simulated[:, right])
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (real_sign * sim_sign).sum(axis=1) / np.sqrt((real_sign**2).sum(axis=1) * (sim_sign**2).sum(axis=1))
        counted = real_sign != 0
        same = np.where(sim_sign == 0, 0.5, (real_sign * sim_sign > 0).astype(float))
        pairwise = (same * counted).sum(axis=1) / counted.sum(axis=1)
        a = rankdata(real, axis=1) - (real.shape[1] + 1) / 2
        b = rankdata(simulated, axis=1) - (real.shape[1] + 1) / 2
        rho = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    nan_rows = ~(np.isfinite(real).all(axis=1) & np.isfinite(simulated).all(axis=1))
    return {
        name: np.where(nan_rows, np.nan, value)
        for name, value in {"kendall_tau": tau, "spearman_rho": rho, "pairwise_agreement": pairwise}.items()
    }


def ranking_agreement(data: ValidityData, column: str, weights: np.ndarray) -> Values:
    """Agreement statistics, and every recommender's real and simulated scores."""
    positions = cached(data, "ranking_positions", lambda: _recommender_positions(data))
    if not positions:
        return {}
    real_users = cached(data, "ranking_real", lambda: per_user_scores(data, data.frame["rating"].to_numpy(float)))
    simulated_users = per_user_scores(data, data.frame[column].to_numpy(float))
    result: Values = {}
    for score in SCORES:
        setting = f"{score}@{data.k}"
        real = _weighted_scores(real_users[score], weights)
        simulated = _weighted_scores(simulated_users[score], weights)
        for statistic, values in agreement(real, simulated).items():
            result[(statistic, setting)] = values
        for j, name in enumerate(positions):
            result[(f"sim_{setting}", name)] = simulated[:, j]
            result[(f"real_{setting}", name)] = real[:, j]
    return result


RANKING = ValidityCheck(
    "ranking",
    "Recommender-ranking agreement (held-out items)",
    compute=ranking_agreement,
    description=(
        "A panel of reference recommenders trained on the simulator's history ranks each user's held-out "
        "items. Each recommender's top k is scored with the true ratings (real_*) and with the method's "
        "ratings (sim_*); Kendall tau-b, Spearman rho and the pairwise agreement compare the two orderings of "
        "the recommenders (1 = the simulator reaches the real users' conclusions, 0 / 0.5 = chance)."
    ),
)


def _open_top_lists(data: ValidityData, users: list[str]) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """Recommender names, and each user's top k of every recommender among never-rated candidates."""
    import pandas as pd

    from lusifer.evaluation.pipeline import align_ids
    from lusifer.validity.panel import panel_scores

    live, targets = live_of(data), targets_of(data)
    assert data.history is not None
    pairs = pd.DataFrame(
        [
            (user, item)
            for user in users
            for item in unrated_items(live, user, set(targets.get(user, [])), CANDIDATES, data.seed)
        ],
        columns=["user_id", "item_id"],
    )
    pairs, history = align_ids(pairs, data.history)
    scores = panel_scores(history, data.items, pairs, data.seed, data.recommender_file)
    pairs = pairs.astype({"user_id": str, "item_id": str})
    tops: dict[str, dict[str, list[str]]] = {user: {} for user in users}
    for name in scores.columns:
        ranked = pairs.assign(score=scores[name].to_numpy()).sort_values(
            ["user_id", "score"], ascending=[True, False], kind="stable"
        )
        for user, group in ranked.groupby("user_id", sort=False):
            tops[str(user)][name] = group["item_id"].head(data.k).tolist()
    return list(scores.columns), tops


def open_catalogue_agreement(data: ValidityData) -> list[tuple[Any, ...]]:
    """Each recommender's top k among never-rated candidates, rated by the simulator, ordered against
    the recommenders' real held-out mean rating@k; beside the within-user permutation of the answers."""
    from lusifer.evaluation.compute import bootstrap_counts

    live = live_of(data)
    if data.history is None:
        return []
    real_users = cached(data, "ranking_real", lambda: per_user_scores(data, data.frame["rating"].to_numpy(float)))
    users = [str(user) for user in data.users]
    names, tops = _open_top_lists(data, users)

    async def work(user: str) -> dict[str, float]:
        return await live.rate(user, list(dict.fromkeys(item for top in tops[user].values() for item in top)))

    answers = live.map_users(users, work)

    def table(ratings: dict[str, dict[str, float]]) -> np.ndarray:
        return np.array(
            [
                [np.nanmean([ratings[u].get(i, np.nan) for i in tops[u][name]] or [np.nan]) for name in names]
                for u in users
            ]
        )

    counts = np.vstack([np.ones((1, len(users))), bootstrap_counts(len(users), data.reps, data.seed)])
    method, setting, rows = method_of(data), f"open mean_rating@{data.k}", []
    rng = np.random.default_rng(data.seed)
    shuffles: dict[tuple[str, str], list[float]] = {}
    with np.errstate(all="ignore"):
        real = _weighted_scores(real_users["mean_rating"], counts)
        simulated = _weighted_scores(table(answers), counts)
        for statistic, values in agreement(real, simulated).items():
            rows.append(("ranking_open", method, statistic, setting, float(values[0]), *interval(values[1:])))
        for j, name in enumerate(names):
            rows.append(
                ("ranking_open", method, f"sim_{setting}", name, float(simulated[0, j]), *interval(simulated[1:, j]))
            )
        for _ in range(data.permutations):
            shuffled = {user: dict(zip(answers[user], rng.permutation(list(answers[user].values())))) for user in users}
            for statistic, values in agreement(real[:1], _weighted_scores(table(shuffled), counts[:1])).items():
                shuffles.setdefault((statistic, setting), []).append(float(values[0]))
    return rows + null_rows("ranking_open", method + PERMUTED, shuffles)


RANKING_OPEN = ValidityCheck(
    "ranking_open",
    "Recommender-ranking agreement (open catalogue)",
    run=open_catalogue_agreement,
    description=(
        f"Each recommender's top k among {CANDIDATES} never-rated candidates per user, rated by the simulator "
        "(mean simulated rating of the top k), ordered against the recommenders' real held-out mean rating@k."
    ),
)
