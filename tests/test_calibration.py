"""Calibrators: they improve a distorted simulator and never use the labels they are judged on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lusifer.api.errors import DataError, NotFoundError
from lusifer.engine.baselines import predict_baselines
from lusifer.engine.calibration import (
    CALIBRATED,
    CrossFitMap,
    Hybrid,
    UserMoments,
    load_calibrator,
    user_folds,
)


def _world(seed: int = 0, users: int = 120, items: int = 150) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History (40 per user) and test rows (10 per user); ``simulated_rating = 0.4 * truth + 2.5 + noise``."""
    rng = np.random.default_rng(seed)
    user_bias = rng.normal(0, 0.6, users)
    item_bias = rng.normal(0, 0.5, items)
    rows = []
    for user in range(users):
        chosen = rng.choice(items, 50, replace=False)
        truth = np.clip(np.round(3.5 + user_bias[user] + item_bias[chosen] + rng.normal(0, 0.7, 50)), 1, 5)
        rows += [
            (user + 1, int(item) + 1, float(value), index) for index, (item, value) in enumerate(zip(chosen, truth))
        ]
    table = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    history = table[table["timestamp"] < 40].reset_index(drop=True)
    test = table[table["timestamp"] >= 40].drop(columns="timestamp").reset_index(drop=True)
    test["simulated_rating"] = np.clip(0.4 * test["rating"] + 2.5 + rng.normal(0, 0.5, len(test)), 1, 5)
    return test, history


def _rmse(frame: pd.DataFrame, values: np.ndarray) -> float:
    return float(np.sqrt(np.mean((values - frame["rating"].to_numpy()) ** 2)))


CALIBRATORS = {
    "user_moments": lambda: UserMoments(),
    "user_shift": lambda: UserMoments(match_spread=False),
    "isotonic": lambda: CrossFitMap(method="isotonic"),
    "linear": lambda: CrossFitMap(method="linear"),
    "hybrid": lambda: Hybrid(),
}


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    test, history = _world()
    return test.join(predict_baselines(history, test, ["UserItemBias", "KNNBaseline", "SVD"])), history


@pytest.mark.parametrize("name", list(CALIBRATORS))
def test_every_calibrator_improves_an_offset_compressed_simulator(world, name: str) -> None:
    test, history = world
    calibrated = CALIBRATORS[name]().cross_fit_predict(test, history, folds=5, seed=0)
    raw = _rmse(test, test["simulated_rating"].to_numpy())
    assert _rmse(test, calibrated) < raw - 0.05, name
    assert calibrated.min() >= 1 and calibrated.max() <= 5


def test_label_free_calibrator_never_reads_test_labels(world) -> None:
    test, history = world
    calibrator = UserMoments()
    reference = calibrator.fit(test, history).apply(test, history)[CALIBRATED]
    shuffled = test.assign(rating=np.random.default_rng(1).permutation(test["rating"].to_numpy()))
    assert np.array_equal(UserMoments().fit(shuffled, history).apply(shuffled, history)[CALIBRATED], reference)
    unlabeled = test.drop(columns="rating")
    assert np.array_equal(UserMoments().fit(unlabeled, history).apply(unlabeled, history)[CALIBRATED], reference)
    assert np.array_equal(UserMoments().cross_fit_predict(shuffled, history), reference)


@pytest.mark.parametrize("name", ["isotonic", "linear", "hybrid"])
def test_cross_fitted_maps_ignore_a_users_own_labels(world, name: str) -> None:
    test, history = world
    reference = CALIBRATORS[name]().cross_fit_predict(test, history, folds=5, seed=0)
    for user in (1, 57, 120):
        own = test["user_id"] == user
        changed = test.copy()
        changed.loc[own, "rating"] = 6 - changed.loc[own, "rating"]  # flip only this user's labels
        calibrated = CALIBRATORS[name]().cross_fit_predict(changed, history, folds=5, seed=0)
        assert np.array_equal(calibrated[own.to_numpy()], reference[own.to_numpy()]), (name, user)
    flipped_everyone = test.assign(rating=6 - test["rating"])
    assert not np.allclose(CALIBRATORS[name]().cross_fit_predict(flipped_everyone, history), reference)


def test_user_folds_keep_users_together_and_are_seeded() -> None:
    users = pd.Series([3, 1, 2, 3, 1, 2, 4, 4])
    folds = user_folds(users, 2, seed=0)
    for user in users.unique():
        assert len(set(folds[(users == user).to_numpy()])) == 1
    assert np.array_equal(folds, user_folds(users, 2, seed=0))
    assert sorted(np.bincount(folds)) == [4, 4]


@pytest.mark.parametrize("name", list(CALIBRATORS))
def test_fitted_calibrators_round_trip_through_json(world, tmp_path, name: str) -> None:
    test, history = world
    calibrator = CALIBRATORS[name]().fit(test, history)
    path = calibrator.save(tmp_path / f"{name}.json")
    assert json.loads(path.read_text())["type"] == calibrator.kind
    loaded = load_calibrator(path)
    frame = test[["user_id", "item_id", "simulated_rating", "UserItemBias", "KNNBaseline", "SVD"]]
    expected = calibrator.apply(frame, history)[CALIBRATED]
    pd.testing.assert_series_equal(loaded.apply(frame, history)[CALIBRATED], expected)


def test_hybrid_computes_missing_baselines_from_the_history(world) -> None:
    test, history = world
    hybrid = Hybrid().fit(test, history)
    bare = test[["user_id", "item_id", "simulated_rating"]]
    with_columns = hybrid.apply(test, history)[CALIBRATED]
    pd.testing.assert_series_equal(hybrid.apply(bare, history)[CALIBRATED], with_columns)
    with pytest.raises(DataError, match="history"):
        hybrid.apply(bare)


def test_failed_outputs_stay_missing_and_misuse_is_reported(world, tmp_path) -> None:
    test, history = world
    broken = test.copy()
    broken.loc[::4, "simulated_rating"] = np.nan
    for name, make in CALIBRATORS.items():
        calibrated = make().fit(broken, history).apply(broken, history)[CALIBRATED]
        assert calibrated.isna().tolist() == broken["simulated_rating"].isna().tolist(), name
    with pytest.raises(DataError, match="not fitted"):
        CrossFitMap().apply(test)
    with pytest.raises(DataError, match="history"):
        UserMoments().fit(test)
    with pytest.raises(NotFoundError):
        CrossFitMap(method="spline")
    with pytest.raises(DataError, match="not found"):
        load_calibrator(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_calibrator(tmp_path / "bad.json")
    (tmp_path / "odd.json").write_text(json.dumps({"type": "magic"}))
    with pytest.raises(NotFoundError, match="magic"):
        load_calibrator(tmp_path / "odd.json")


def test_isotonic_map_is_monotone_and_matches_group_means_when_already_monotone() -> None:
    frame = pd.DataFrame(
        {
            "user_id": range(8),
            "simulated_rating": [1, 1, 2, 2, 3, 3, 4, 4],
            "rating": [1, 2, 2, 3, 2, 2, 5, 5],
        }
    )
    state = CrossFitMap().fit(frame).state
    assert state["knots"] == [1, 2, 3, 4]
    assert state["values"] == [1.5, 2.25, 2.25, 5.0]  # 2.5 and 2.0 pooled into 2.25
