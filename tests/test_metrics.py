"""Fidelity metrics: each built-in equals an independent plain computation; NaN = failed output."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lusifer import hookimpl
from lusifer.api.evaluator import Evaluator
from lusifer.evaluation.compute import (
    bootstrap_counts,
    cold_start_subsets,
    metric_table,
    per_user_metrics,
    select_evaluators,
)
from lusifer.kernel import registry
from lusifer.kernel.plugins import get_plugin_manager

# Independent reference implementations: plain Python loops, no numpy/scipy/sklearn metric code.


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _pearson(x: list[float], y: list[float]) -> float:
    mx, my = _mean(x), _mean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def _ranks(values: list[float]) -> list[float]:
    ordered = sorted(values)
    return [
        (ordered.index(v) + 1 + ordered.index(v) + ordered.count(v)) / 2 for v in values
    ]  # average of first and last position of the tie group


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def _qwk(t: list[float], p: list[float]) -> float:
    truth, pred = [_round(v) for v in t], [_round(v) for v in p]
    low, high = min(truth + pred), max(truth + pred)
    k = high - low + 1
    observed = [[0.0] * k for _ in range(k)]
    for a, b in zip(truth, pred):
        observed[a - low][b - low] += 1
    n = len(truth)
    rows = [sum(observed[i]) for i in range(k)]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    numerator = sum((i - j) ** 2 * observed[i][j] for i in range(k) for j in range(k))
    denominator = sum((i - j) ** 2 * rows[i] * cols[j] / n for i in range(k) for j in range(k))
    return 1 - numerator / denominator


def _histogram(values: list[int], levels: range) -> list[float]:
    return [values.count(level) / len(values) for level in levels]


def _auc(t: list[float], p: list[float]) -> float:
    positives = [b for a, b in zip(t, p) if a == 1]
    negatives = [b for a, b in zip(t, p) if a == 0]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in positives for b in negatives)
    return wins / (len(positives) * len(negatives))


def _ece(t: list[float], p: list[float], bins: int = 10) -> float:
    total = 0.0
    for b in range(bins):
        members = [(a, q) for a, q in zip(t, p) if min(int(q * bins), bins - 1) == b]
        if members:
            total += len(members) / len(t) * abs(_mean([a for a, _ in members]) - _mean([q for _, q in members]))
    return total


def _reference(name: str, t: list[float], p: list[float]) -> float:
    if name == "rmse":
        return math.sqrt(_mean([(a - b) ** 2 for a, b in zip(t, p)]))
    if name == "mae":
        return _mean([abs(a - b) for a, b in zip(t, p)])
    if name == "pearson":
        return _pearson(t, p)
    if name == "spearman":
        return _pearson(_ranks(t), _ranks(p))
    if name == "r2":
        mean = _mean(t)
        return 1 - sum((a - b) ** 2 for a, b in zip(t, p)) / sum((a - mean) ** 2 for a in t)
    if name == "qwk":
        return _qwk(t, p)
    if name == "accuracy":
        return _mean([float(_round(a) == _round(b)) for a, b in zip(t, p)])
    if name in ("tv_distance", "wasserstein"):
        truth, pred = [_round(v) for v in t], [_round(v) for v in p]
        levels = range(min(truth + pred), max(truth + pred) + 1)
        ht, hp = _histogram(truth, levels), _histogram(pred, levels)
        if name == "tv_distance":
            return 0.5 * sum(abs(a - b) for a, b in zip(ht, hp))
        cumulative, distance = 0.0, 0.0
        for a, b in zip(ht[:-1], hp[:-1]):
            cumulative += a - b
            distance += abs(cumulative)
        return distance
    if name == "auc":
        return _auc(t, p)
    if name == "log_loss":
        return _mean([-math.log(q) if a == 1 else -math.log(1 - q) for a, q in zip(t, p)])
    if name == "ece":
        return _ece(t, p)
    if name == "valid_share":
        return 1.0
    raise AssertionError(name)


def _rating_data(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, n).astype(float)
    predicted = np.clip(0.5 * truth + 1.8 + rng.normal(0, 0.9, n), 1, 5)
    predicted[::7] = np.round(predicted[::7])  # some ties at whole stars
    return truth, predicted


def _binary_data(seed: int = 1, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n).astype(float)
    predicted = np.clip(0.35 * truth + rng.uniform(0.05, 0.6, n), 0.01, 0.99).round(2)
    return truth, predicted


RATING_NAMES = ["rmse", "mae", "pearson", "spearman", "r2", "qwk", "accuracy", "tv_distance", "wasserstein"]
BINARY_NAMES = ["auc", "accuracy", "log_loss", "ece"]


@pytest.mark.parametrize("name", RATING_NAMES)
def test_rating_metric_matches_an_independent_computation(name: str) -> None:
    truth, predicted = _rating_data()
    evaluator = registry.get_evaluator(name)
    assert evaluator(truth, predicted) == pytest.approx(_reference(name, list(truth), list(predicted)), abs=1e-9)


@pytest.mark.parametrize("name", BINARY_NAMES)
def test_binary_metric_matches_an_independent_computation(name: str) -> None:
    truth, predicted = _binary_data()
    evaluator = registry.get_evaluator(name)
    assert evaluator(truth, predicted) == pytest.approx(_reference(name, list(truth), list(predicted)), abs=1e-9)


def test_kinds_and_directions_are_declared() -> None:
    rating = {evaluator.name for evaluator in select_evaluators("rating")}
    binary = {evaluator.name for evaluator in select_evaluators("binary")}
    assert set(RATING_NAMES) | {"valid_share"} <= rating
    assert set(BINARY_NAMES) | {"valid_share"} <= binary
    assert not {"auc", "log_loss", "ece"} & rating and not {"rmse", "pearson", "qwk"} & binary
    assert not registry.get_evaluator("rmse").higher_is_better
    assert registry.get_evaluator("pearson").higher_is_better and registry.get_evaluator("auc").higher_is_better


@pytest.mark.parametrize("name", [*RATING_NAMES, "valid_share"])
def test_nan_predictions_are_failed_outputs_ignored_by_metrics(name: str) -> None:
    truth, predicted = _rating_data()
    with_failures = predicted.copy()
    with_failures[::5] = np.nan
    valid = np.isfinite(with_failures)
    evaluator = registry.get_evaluator(name)
    if name == "valid_share":
        assert evaluator(truth, with_failures) == pytest.approx(valid.mean())
    else:
        assert evaluator(truth, with_failures) == pytest.approx(evaluator(truth[valid], predicted[valid]))


def test_degenerate_inputs_give_nan_not_errors() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    assert math.isnan(registry.get_evaluator("pearson")(truth, np.full(4, 3.3)))
    assert math.isnan(registry.get_evaluator("r2")(np.full(4, 2.0), truth))
    assert math.isnan(registry.get_evaluator("rmse")(truth, np.full(4, np.nan)))
    assert registry.get_evaluator("valid_share")(truth, np.full(4, np.nan)) == 0.0
    assert math.isnan(registry.get_evaluator("auc")(np.ones(4), np.linspace(0, 1, 4)))


@pytest.mark.parametrize("name", [*RATING_NAMES, "valid_share"])
def test_weighted_form_equals_the_metric_on_the_resampled_rows(name: str) -> None:
    truth, predicted = _rating_data(n=120)
    predicted[::9] = np.nan
    evaluator = registry.get_evaluator(name)
    weights = np.random.default_rng(3).multinomial(120, np.full(120, 1 / 120), size=4).astype(float)
    vectorised = evaluator.weighted(truth, predicted, weights)
    for row, value in zip(weights, vectorised):
        index = np.repeat(np.arange(120), row.astype(int))
        assert value == pytest.approx(evaluator(truth[index], predicted[index]), abs=1e-9)


@pytest.mark.parametrize("name", BINARY_NAMES)
def test_weighted_binary_metrics_equal_the_resampled_rows(name: str) -> None:
    truth, predicted = _binary_data(n=100)
    evaluator = registry.get_evaluator(name)
    weights = np.random.default_rng(4).multinomial(100, np.full(100, 1 / 100), size=3).astype(float)
    for row, value in zip(weights, evaluator.weighted(truth, predicted, weights)):
        index = np.repeat(np.arange(100), row.astype(int))
        assert value == pytest.approx(evaluator(truth[index], predicted[index]), abs=1e-9)


def _users_frame(seed: int = 0, users: int = 40, per_user: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    user_ids = np.repeat(np.arange(1, users + 1), per_user)
    truth = rng.integers(1, 6, user_ids.size).astype(float)
    return pd.DataFrame(
        {
            "user_id": user_ids,
            "item_id": rng.integers(1, 60, user_ids.size),
            "rating": truth,
            "good": np.clip(truth + rng.normal(0, 0.5, truth.size), 1, 5),
            "bad": np.where(rng.random(truth.size) < 0.1, np.nan, rng.integers(1, 6, truth.size)),
        }
    )


def test_metric_table_has_pooled_values_and_seeded_bootstrap_intervals() -> None:
    frame = _users_frame()
    evaluators = [registry.get_evaluator(name) for name in ("rmse", "pearson", "valid_share")]
    table = metric_table(frame, ["good", "bad"], evaluators, reps=300, seed=7)
    again = metric_table(frame, ["good", "bad"], evaluators, reps=300, seed=7)
    pd.testing.assert_frame_equal(table, again)
    assert list(table.columns) == ["method", "subset", "metric", "value", "ci_low", "ci_high"]
    pooled = table[table["metric"] == "rmse"].set_index("method")
    valid = frame["bad"].notna()
    expected = math.sqrt(((frame["bad"] - frame["rating"])[valid] ** 2).mean())
    assert pooled.loc["bad", "value"] == pytest.approx(expected)
    assert (pooled["ci_low"] <= pooled["value"]).all() and (pooled["value"] <= pooled["ci_high"]).all()
    share = table[(table["method"] == "bad") & (table["metric"] == "valid_share")].iloc[0]
    assert share["value"] == pytest.approx(valid.mean())
    other_seed = metric_table(frame, ["good"], evaluators, reps=300, seed=8)
    assert not np.allclose(other_seed["ci_low"], table[table["method"] == "good"]["ci_low"])


def test_bootstrap_resamples_whole_users() -> None:
    counts = bootstrap_counts(50, 200, seed=0)
    assert counts.shape == (200, 50) and (counts.sum(axis=1) == 50).all()
    # 2 users whose rows are identical within user: every replicate's RMSE is one of the mixes
    frame = pd.DataFrame({"user_id": [1, 1, 2, 2], "rating": [3.0, 3.0, 3.0, 3.0], "m": [4.0, 4.0, 3.0, 3.0]})
    table = metric_table(frame, ["m"], [registry.get_evaluator("mae")], reps=200, seed=0, per_user=())
    row = table.iloc[0]
    assert row["value"] == 0.5 and row["ci_low"] == 0.0 and row["ci_high"] == 1.0


def test_per_user_metrics_match_a_groupby_and_their_mean_is_reported() -> None:
    frame = _users_frame()
    rmse = registry.get_evaluator("rmse")
    per_user = per_user_metrics(frame, "bad", "rating", [rmse])["rmse"]
    for user, rows in frame.groupby("user_id"):
        valid = rows["bad"].notna()
        assert per_user[user] == pytest.approx(math.sqrt(((rows["bad"] - rows["rating"])[valid] ** 2).mean()))
    table = metric_table(frame, ["bad"], [rmse], reps=50)
    reported = table.set_index("metric").loc["per_user_rmse", "value"]
    assert reported == pytest.approx(per_user.mean())


def test_cold_start_subsets_count_training_ratings() -> None:
    history = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [10, 11, 12, 10], "rating": [4, 3, 5, 2]})
    test = pd.DataFrame({"user_id": [1, 2, 3, 1], "item_id": [10, 11, 10, 99]})
    subsets = cold_start_subsets(test, history, user_below=2, item_below=2)
    assert subsets["all"].tolist() == [True] * 4
    assert subsets["cold_users<2"].tolist() == [False, True, True, False]
    assert subsets["cold_items<2"].tolist() == [False, True, False, True]
    assert subsets["unseen_items"].tolist() == [False, False, False, True]


def test_plugin_evaluators_appear_automatically_and_bootstrap_without_a_weighted_form() -> None:
    class MaxError:
        @hookimpl
        def register_evaluators(self, register):
            register(Evaluator("max_error", lambda y, p: float(np.nanmax(np.abs(p - y))), kinds=("rating",)))

    get_plugin_manager().register(MaxError(), name="max-error-plugin")
    registry.clear_registries()
    assert "max_error" in [evaluator.name for evaluator in select_evaluators("rating")]
    assert "max_error" not in [evaluator.name for evaluator in select_evaluators("binary")]
    frame = _users_frame()
    table = metric_table(frame, ["good"], [registry.get_evaluator("max_error")], reps=20, per_user=())
    row = table.iloc[0]
    assert row["value"] == pytest.approx((frame["good"] - frame["rating"]).abs().max())
    assert row["ci_low"] <= row["value"]
