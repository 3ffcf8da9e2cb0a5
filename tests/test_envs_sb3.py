"""Stable-Baselines3 and sb3-contrib against the environments: checkers, the VecEnv adapter, short
training runs (a few hundred steps: they show the pieces fit, not that agents learn; see bench_rl.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

sb3 = pytest.importorskip("stable_baselines3", reason="the RL extra is not installed (pip install 'lusifer[rl]')")
sb3_contrib = pytest.importorskip("sb3_contrib", reason="the RL extra is not installed (pip install 'lusifer[rl]')")

from sb3_contrib import MaskablePPO  # noqa: E402
from sb3_contrib.common.maskable.utils import get_action_masks  # noqa: E402
from stable_baselines3 import DQN, PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.vec_env import VecCheckNan, VecMonitor  # noqa: E402

from lusifer.envs.recommender import RecommenderEnv  # noqa: E402
from lusifer.envs.sb3 import SB3VecEnv  # noqa: E402
from lusifer.envs.vector import RecommenderVectorEnv  # noqa: E402

SMALL = {"backend": "offline", "candidates": 40, "encoder": "hashing:16", "refresh_every": 20}


@pytest.fixture
def settings(ml100k: Path) -> dict:
    return {**SMALL, "data_dir": ml100k}


def test_sb3_check_env_passes_for_slates_and_single_items(settings: dict) -> None:
    for actions in ("slate", "item"):
        env = RecommenderEnv(actions=actions, **settings)
        try:
            check_env(env, warn=True)
        finally:
            env.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_vec_env_adapter_autoresets_within_the_step(settings: dict, workers: int) -> None:
    venv = SB3VecEnv(RecommenderVectorEnv(3, max_steps=2, workers=workers, **settings))
    checked = VecCheckNan(VecMonitor(venv), raise_exception=True)
    try:
        venv.seed(4)
        obs = checked.reset()
        assert set(obs) == set(venv.observation_space.spaces) and obs["profile"].shape == (3, 16)
        assert all(info["user_id"] for info in venv.reset_infos)
        obs, rewards, dones, infos = checked.step(np.stack([venv.action_space.sample() for _ in range(3)]))
        assert rewards.dtype == np.float32 and not dones.any() and "feedback" in infos[0]
        obs, rewards, dones, infos = checked.step(np.stack([venv.action_space.sample() for _ in range(3)]))
        assert dones.all() and all(info["TimeLimit.truncated"] for info in infos)
        assert all("episode" in info for info in infos)  # VecMonitor saw the episodes end
        terminal = infos[0]["terminal_observation"]
        assert venv.observation_space.contains(terminal)
        assert all(venv.observation_space.contains({key: value[i] for key, value in obs.items()}) for i in range(3))
        masks = get_action_masks(venv)
        assert masks.shape == (3, 5 * 40) and masks.dtype == np.bool_
        assert venv.env_method("action_masks", indices=[1])[0].shape == (5 * 40,)
        assert venv.get_attr("num_envs") == [3, 3, 3] and venv.env_is_wrapped(VecMonitor) == [False] * 3
    finally:
        checked.close()


def test_terminal_observation_is_the_last_one_of_the_episode(settings: dict) -> None:
    venv = SB3VecEnv(RecommenderVectorEnv(1, max_steps=1, **settings))
    try:
        venv.seed(0)
        obs = venv.reset()
        eligible_before = obs["eligible"][0].sum()
        slate = np.flatnonzero(obs["eligible"][0])[:5]
        obs, _, dones, infos = venv.step(slate[None, :])
        assert dones[0] and infos[0]["terminal_observation"]["eligible"].sum() == eligible_before - 5
        assert infos[0]["user_id"] and venv.reset_infos[0]["history_length"] > 0
    finally:
        venv.close()


def test_maskable_ppo_ppo_and_dqn_run_a_few_hundred_steps(settings: dict) -> None:
    venv = SB3VecEnv(RecommenderVectorEnv(4, max_steps=10, reward="liked_count", **settings))
    try:
        model = MaskablePPO("MultiInputPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0)
        model.learn(256)
        obs = venv.reset()
        action, _ = model.predict(obs, action_masks=get_action_masks(venv), deterministic=True)
        masks = get_action_masks(venv).reshape(4, 5, 40)
        assert all(masks[env, slot, action[env, slot]] for env in range(4) for slot in range(5))
        PPO("MultiInputPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0).learn(256)
    finally:
        venv.close()
    single = RecommenderEnv(actions="item", max_steps=10, reward="liked_count", **settings)
    try:
        DQN("MultiInputPolicy", single, learning_starts=50, buffer_size=500, seed=0).learn(200)
    finally:
        single.close()


def test_ppo_learns_feature_weights_with_the_scores_action(settings: dict) -> None:
    """A short smoke run: PPO outputs weights, the slates it causes are distinct unconsumed candidates."""
    venv = SB3VecEnv(RecommenderVectorEnv(4, max_steps=10, reward="liked_count", actions="scores", **settings))
    try:
        model = PPO("MultiInputPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, gamma=0.0, seed=0)
        model.learn(256)
        obs = venv.reset()
        eligible = obs["eligible"].copy()
        weights, _ = model.predict(obs, deterministic=True)
        assert weights.shape == (4, 5) and np.isfinite(weights).all()
        _, _, _, infos = venv.step(weights)
    finally:
        venv.close()
    for env, info in enumerate(infos):
        slots = [venv.venv.catalogue.candidate_ids.index(item) for item in info["slate"]]
        assert len(set(slots)) == 5 and eligible[env, slots].all() and not info["already_consumed"]


def test_episodes_record_to_a_minari_dataset(settings: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    minari = pytest.importorskip("minari", reason="the RL extra is not installed (pip install 'lusifer[rl]')")
    from lusifer.envs.offline_data import record_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    env = RecommenderEnv(max_steps=4, **settings)
    try:
        record_dataset(env, "lusifer/movielens-test-v0", episodes=3, seed=5)
    finally:
        env.close()
    dataset = minari.load_dataset("lusifer/movielens-test-v0")
    assert dataset.total_episodes == 3 and dataset.total_steps == 12
    episode = next(dataset.iterate_episodes())
    assert episode.actions.shape == (4, 5) and episode.observations["eligible"].shape == (5, 40)
    assert episode.truncations[-1] and not episode.terminations.any()
    assert all(episode.observations["eligible"][0][action].all() for action in episode.actions[:1])
