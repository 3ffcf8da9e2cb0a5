"""The environment as a training ground: users that cannot be gamed, masks, reward and dynamics options,
populations, Gymnasium hygiene. (Stable-Baselines3 itself: ``test_envs_sb3.py``.)"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lusifer.envs  # noqa: F401  (registers the ids)
from lusifer.api.errors import ConfigError
from lusifer.envs.dynamics import Retention, population
from lusifer.envs.recommender import RecommenderEnv
from lusifer.envs.vector import RecommenderVectorEnv


@pytest.fixture
def make_env(ml100k: Path):
    """RecommenderEnv on the shared ML-100K with the offline backend; closed after the test."""
    made: list[RecommenderEnv] = []

    def factory(**kwargs) -> RecommenderEnv:
        env = RecommenderEnv(**{"backend": "offline", "data_dir": ml100k, "candidates": 100, "seed": 7, **kwargs})
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()


def fresh(env: RecommenderEnv) -> list[int]:
    consumed = {entry.item_id for entry in env.user.history}
    return [index for index, item in enumerate(env.catalogue.candidate_ids) if item not in consumed]


# users that cannot be gamed ---------------------------------------------------------------------------


def test_offline_rating_of_an_item_ignores_its_slate_mates(make_env) -> None:
    """The same (user, item) beside low-rated and beside high-rated slate-mates gets the same rating."""
    env = make_env(candidates=300)
    community = env.catalogue.community
    by_mean = sorted(env.catalogue.candidate_ids, key=lambda item: community[item]["mean"])
    low_mates, high_mates = by_mean[:4], by_mean[-4:]
    core, compared = env.core, 0
    for user_id in ("1", "2", "5", "13", "42"):
        env.reset(options={"user_id": user_id})
        for item in by_mean[100:300:20]:
            beside_low = core.run(core.simulator.rate(env.user, [item, *low_mates])).ratings[item]
            beside_high = core.run(core.simulator.rate(env.user, [*high_mates, item])).ratings[item]
            assert beside_low == beside_high, (user_id, item)
            compared += 1
    assert compared == 50
    assert np.mean([community[i]["mean"] for i in high_mates]) - np.mean([community[i]["mean"] for i in low_mates]) > 2


# masks and the eligible key ---------------------------------------------------------------------------


def test_action_masks_and_eligible_follow_what_was_consumed(make_env) -> None:
    env = make_env(slate_size=3)
    obs, _ = env.reset(options={"user_id": "1"})
    consumed = {entry.item_id for entry in env.user.history}
    expected = [int(item not in consumed) for item in env.catalogue.candidate_ids]
    assert obs["eligible"].tolist() == expected and 0 in expected
    masks = env.action_masks()
    assert masks.shape == (3 * 100,) and masks.dtype == np.bool_
    assert masks.reshape(3, 100).tolist() == [[bool(flag) for flag in expected]] * 3
    slate = fresh(env)[:3]
    obs, *_ = env.step(np.array(slate))
    assert obs["eligible"][slate].tolist() == [0, 0, 0] and obs["eligible"].sum() == sum(expected) - 3
    assert env.observation_space.contains(obs)


def test_single_item_variant_is_discrete_with_a_mask(make_env) -> None:
    env = make_env(actions="item", reward="liked_count")
    assert env.action_space == gym.spaces.Discrete(100)
    env.reset(options={"user_id": "2"})
    assert env.action_masks().shape == (100,)
    choice = fresh(env)[0]
    _, _, _, _, info = env.step(choice)
    assert info["slate"] == [env.catalogue.candidate_ids[choice]] and not env.action_masks()[choice]
    check_env(make_env(actions="item"))
    with pytest.raises(ConfigError, match="actions must be"):
        make_env(actions="pairs")


# rewards and dynamics -------------------------------------------------------------------------------------


def test_repeat_penalty_and_reward_relative_to_the_user_mean(make_env) -> None:
    env = make_env(repeat_penalty=0.5, reward_baseline="user_mean")
    env.reset(options={"user_id": "1"})
    mean = env.user.stats()["mean"]
    seen = next(index for index in range(100) if index not in fresh(env))
    a, b = fresh(env)[:2]
    _, reward, _, _, info = env.step(np.array([a, a, seen, b, b]))
    ratings = list(info["feedback"].values())
    assert len(ratings) == 2 and len(info["duplicates"]) + len(info["already_consumed"]) == 3
    assert reward == pytest.approx(np.mean(ratings) - mean - 3 * 0.5)
    with pytest.raises(ConfigError, match="rating units"):
        make_env(reward="liked_count", reward_baseline="user_mean")
    with pytest.raises(ConfigError, match="reward_baseline"):
        make_env(reward_baseline="median")


def test_stochastic_users_are_seeded(make_env) -> None:
    def ratings(env: RecommenderEnv, seed: int) -> list[int]:
        env.reset(seed=seed, options={"user_id": "3"})
        slate = fresh(env)[:40]
        values = []
        for start in range(0, 40, 5):
            values += list(env.step(np.array(slate[start : start + 5]))[4]["feedback"].values())
        return values

    exact, noisy, twin = make_env(), make_env(rating_noise=1.0), make_env(rating_noise=1.0)
    base = ratings(exact, 0)
    first, again, other = ratings(noisy, 0), ratings(twin, 0), ratings(twin, 1)
    assert first == again and first != other  # same seed, same user: same draws
    assert first != base and all(1 <= value <= 5 for value in first)
    assert np.mean(np.abs(np.subtract(first, base))) < 1.5


def test_users_leave_after_patience_and_return_in_multi_session_episodes(make_env) -> None:
    env = make_env(threshold=6, patience=2, max_steps=None)  # nothing is good enough: every step a miss
    env.reset(options={"user_id": "4"})
    flags = [env.step(np.array(fresh(env)[:5]))[2] for _ in range(2)]
    assert flags == [False, True]
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.arange(5))
    returning = make_env(threshold=6, patience=2, sessions=2, return_gap=7, max_steps=None)
    returning.reset(options={"user_id": "4"})
    infos = []
    for _ in range(4):
        *_, terminated, _, info = returning.step(np.array(fresh(returning)[:5]))
        infos.append((terminated, info["session"], info["left"], info.get("return_gap")))
    assert infos == [(False, 0, False, None), (False, 0, True, 8), (False, 1, False, None), (True, 1, True, None)]
    assert Retention(3, 2, 10).return_gap(liked=3, shown=3) == 1
    assert Retention(3, 2, 10).return_gap(liked=1, shown=4) == 8


def test_choose_mode_keeps_leaving_at_once_unless_patient(make_env) -> None:
    quick, patient = make_env(feedback="choose", threshold=6), make_env(feedback="choose", threshold=6, patience=3)
    for env, expected in ((quick, [True]), (patient, [False, False, True])):
        env.reset(options={"user_id": "2"})
        assert [env.step(np.arange(5))[2] for _ in expected] == expected


# populations ----------------------------------------------------------------------------------------------


def test_user_split_separates_training_and_evaluation_users(make_env) -> None:
    train, test = make_env(user_split=("train", 0.8, 3)), make_env(user_split=("test", 0.8, 3))
    everyone = make_env()
    assert set(train.core.users).isdisjoint(test.core.users)
    assert sorted(train.core.users + test.core.users) == sorted(everyone.core.users)
    assert len(train.core.users) == round(0.8 * len(everyone.core.users))
    drawn = {test.reset(seed=seed)[1]["user_id"] for seed in range(20)}
    assert drawn <= set(test.core.users)
    chosen = make_env(users=[1, "2"])
    assert {chosen.reset(seed=seed)[1]["user_id"] for seed in range(10)} == {"1", "2"}
    for bad in ({"users": ["1"], "user_split": ("train", 0.5, 0)}, {"users": ["nobody"]}):
        with pytest.raises(ConfigError):
            make_env(**bad)
    with pytest.raises(ConfigError, match="user_split"):
        population(["1", "2"], None, ("validation", 0.5, 0))
    with pytest.raises(ConfigError, match="user_split"):
        population(["1", "2"], None, ("train", 1.5, 0))


def test_unknown_reset_options_are_refused(make_env, ml100k: Path) -> None:
    env = make_env()
    with pytest.raises(ConfigError, match="'userid'"):
        env.reset(options={"userid": "1"})
    envs = RecommenderVectorEnv(2, backend="offline", data_dir=ml100k, candidates=20)
    try:
        with pytest.raises(ConfigError, match="'user_id'"):
            envs.reset(options={"user_id": "1"})
        envs.reset(seed=0)
        assert envs.action_masks().shape == (2, 5 * 20)
    finally:
        envs.close()


# Gymnasium hygiene ------------------------------------------------------------------------------------------


def test_spec_limit_rendering_and_stepping_after_the_end(ml100k: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = gym.make("lusifer/MovieLens-v0", backend="offline", data_dir=ml100k, candidates=30, render_mode="ansi")
    try:
        assert env.spec.max_episode_steps == 20
        env.reset(seed=0, options={"user_id": "1"})
        assert env.render().startswith("user 1 · step 0")
        _, _, _, _, info = env.step(np.arange(5))
        text = env.render()
        title = env.unwrapped.catalogue.texts[info["slate"][0]].title
        assert title in text and "reward" in text and "profile:" in text
    finally:
        env.close()
    human = RecommenderEnv(backend="offline", data_dir=ml100k, candidates=30, render_mode="human", max_steps=1)
    try:
        human.reset(seed=0)
        *_, truncated, _ = human.step(np.arange(5))
        assert truncated and "reward" in capsys.readouterr().out
        with pytest.raises(gym.error.ResetNeeded, match="ended"):
            human.step(np.arange(5))
    finally:
        human.close()
    with pytest.raises(ConfigError, match="render_mode"):
        RecommenderEnv(render_mode="rgb_array")


def test_max_concurrency_keyword_reaches_the_call_layer(make_env) -> None:
    assert make_env(max_concurrency=32).core.config.backend.max_concurrency == 32


# the vector environment: refreshes that do not stall, prepared autoresets ------------------------------------


def test_profile_refreshes_overlap_with_the_next_steps_feedback(ml100k: Path) -> None:
    """With ``overlap_refresh`` a due refresh is in flight together with the next step's rating requests."""
    from lusifer.api.settings import LusiferConfig
    from lusifer.testing.fake_servers import FakeOpenAIServer

    users = ["1", "2", "3"]
    # a latency long enough that the refreshes are still in flight when the next step starts on a busy machine
    with FakeOpenAIServer(latency=0.5) as server:
        envs = RecommenderVectorEnv(
            len(users),
            backend="openai",
            model="fake-model",
            base_url=server.base_url,
            data_dir=ml100k,
            candidates=50,
            refresh_every=5,
            max_concurrency=16,
            prepare_users=False,
            config=LusiferConfig.model_validate({"cache": {"enabled": False}}),
        )
        try:
            obs, _ = envs.reset(options={"user_ids": users})
            unseen = [np.flatnonzero(eligible)[:10] for eligible in obs["eligible"]]
            _, _, _, _, first = envs.step(np.stack([items[:5] for items in unseen]))  # refreshes are due
            server.max_in_flight = 0
            _, _, _, _, second = envs.step(np.stack([items[5:] for items in unseen]))
        finally:
            envs.close()
    assert not first["profile_refreshed"].any() and first["calls"].tolist() == [1, 1, 1]
    assert second["profile_refreshed"].all() and second["calls"].tolist() == [2, 2, 2]  # refresh + rating
    assert server.max_in_flight == 2 * len(users)  # the refreshes did not wait for their own step


def test_overlapped_refresh_keeps_episodes_reproducible(make_env) -> None:
    """A refresh lands one step later with ``overlap_refresh``, identically in every run."""
    runs = {}
    for overlap in (True, True, False):
        env = make_env(refresh_every=5, overlap_refresh=overlap)
        obs, _ = env.reset(seed=3, options={"user_id": "5"})
        unseen = np.flatnonzero(obs["eligible"])[:20]
        steps = [env.step(unseen[5 * step : 5 * step + 5]) for step in range(4)]
        if overlap in runs:
            assert gym.utils.env_checker.data_equivalence(runs[overlap], steps, exact=True)
        runs[overlap] = steps
    assert [step[4]["profile_refreshed"] for step in runs[False]] == [True] * 4
    assert [step[4]["profile_refreshed"] for step in runs[True]] == [False, True, True, True]
    assert runs[True][1][4]["profile_explanation"] == runs[False][0][4]["profile_explanation"]


def test_vector_env_prepares_the_next_users_before_autoreset(ml100k: Path) -> None:
    calls = {}
    for prepare in (True, False):
        envs = RecommenderVectorEnv(
            3, backend="offline", data_dir=ml100k, candidates=40, max_steps=2, prepare_users=prepare
        )
        try:
            envs.reset(seed=1)
            for step in range(3):
                _, _, _, _, infos = envs.step(np.tile(np.arange(5 * step, 5 * step + 5), (3, 1)))
            assert "history_length" in infos  # the third step reset every sub-environment
            calls[prepare] = infos["calls"].tolist()
        finally:
            envs.close()
    assert calls[True] == [0, 0, 0] and min(calls[False]) > 0  # phase 1 had run in the background
