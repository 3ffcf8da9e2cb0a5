"""Per-candidate features in the observation and the ``scores`` action that ranks candidates by them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from lusifer.api.errors import ConfigError
from lusifer.envs.features import FEATURE_NAMES, top_scored
from lusifer.envs.recommender import RecommenderEnv


@pytest.fixture
def make_env(ml100k: Path):
    made: list[RecommenderEnv] = []

    def factory(**kwargs) -> RecommenderEnv:
        env = RecommenderEnv(**{"backend": "offline", "data_dir": ml100k, "candidates": 100, "seed": 7, **kwargs})
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()


def column(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_candidate_rows_describe_items_and_the_users_taste(make_env) -> None:
    env = make_env()
    obs, _ = env.reset(options={"user_id": "1"})
    rows = obs["candidates"]
    assert rows.shape == (100, len(FEATURE_NAMES)) and env.observation_space.contains(obs)
    assert rows[:, column("eligible")].tolist() == obs["eligible"].tolist()
    community = env.catalogue.community
    means = [community[item]["mean"] for item in env.catalogue.candidate_ids]
    level = rows[:, column("item_level")]
    assert np.corrcoef(level, means)[0, 1] > 0.95  # a shrunk community mean
    popularity = rows[:, column("popularity")]
    assert popularity.max() == pytest.approx(1.0) and (np.diff(popularity) <= 1e-6).all()  # most-rated first
    assert np.abs(rows[:, column("genre_affinity")]).max() > 0  # user 1 has rated these genres


def test_genre_affinity_follows_what_the_user_likes_in_the_episode(make_env) -> None:
    """Tallies updated step by step equal those of the whole history, and loving a genre raises it."""
    env = make_env(candidates=300)
    obs, _ = env.reset(options={"user_id": "1"})
    before = obs["candidates"][:, column("genre_affinity")].copy()
    for _ in range(3):
        obs, *_ = env.step(np.flatnonzero(obs["eligible"])[:5])
    features = env.core.features
    rebuilt = features.rows(features.taste(env.user.history), obs["eligible"])
    np.testing.assert_allclose(obs["candidates"], rebuilt, rtol=1e-5, atol=1e-6)
    assert not np.allclose(before, obs["candidates"][:, column("genre_affinity")])


def test_scores_action_shows_the_best_scored_unconsumed_candidates(make_env) -> None:
    env = make_env(actions="scores", slate_size=4, max_steps=3)
    assert env.action_space.shape == (len(FEATURE_NAMES),)
    obs, _ = env.reset(options={"user_id": "1"})
    weights = np.zeros(len(FEATURE_NAMES), np.float32)
    weights[column("item_level")] = 1.0
    eligible = np.flatnonzero(obs["eligible"])
    expected = eligible[np.argsort(-obs["candidates"][eligible, column("item_level")], kind="stable")][:4]
    _, _, _, _, info = env.step(weights)
    assert info["slate"] == [env.catalogue.candidate_ids[i] for i in expected]
    assert not info["already_consumed"] and not info["duplicates"]
    _, _, _, _, again = env.step(weights)  # the same weights: the next best, never a repeat
    assert not set(again["slate"]) & set(info["slate"]) and not again["already_consumed"]
    with pytest.raises(ValueError, match="feature weights"):
        env.step(np.array([np.nan, 0, 0, 0, 0], np.float32))


def test_top_scored_falls_back_to_consumed_items_only_when_too_few_remain() -> None:
    features = np.array([[3.0], [2.0], [1.0]])
    assert top_scored(features, np.array([1.0]), np.array([0, 1, 1]), 2).tolist() == [1, 2]
    assert top_scored(features, np.array([-1.0]), np.array([0, 1, 0]), 2).tolist() == [1, 2]


def test_scores_env_passes_the_checkers_and_features_can_be_turned_off(make_env) -> None:
    env = make_env(actions="scores", candidates=30, max_steps=3)
    check_env(env, skip_render_check=True)
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker", reason="the RL extra is not installed")
    sb3_checker.check_env(make_env(actions="scores", candidates=30, max_steps=3))
    plain = make_env(candidate_features=False, candidates=30)
    assert "candidates" not in plain.observation_space.spaces
    assert "candidates" not in plain.reset(seed=0)[0]
    with pytest.raises(ConfigError, match="candidate_features"):
        make_env(actions="scores", candidate_features=False)
