"""The Gymnasium environments: API conformance, determinism, feedback modes, persistence, batching."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import types
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from lusifer.api.errors import ConfigError, NotFoundError
from lusifer.envs import env_id, register_envs
from lusifer.envs.encoders import HashingEncoder, SentenceTransformerEncoder, make_encoder
from lusifer.envs.recommender import RecommenderEnv
from lusifer.envs.rewards import check_reward, choose, default_threshold
from lusifer.envs.vector import RecommenderVectorEnv
from lusifer.runs.store import RunStore

REPO = Path(__file__).resolve().parents[1]
ML_100K = REPO.parent / "shared" / "data" / "ml-100k"


@pytest.fixture
def make_env(ml100k: Path):
    """RecommenderEnv on the shared ML-100K with the offline backend; closed after the test."""
    made: list[RecommenderEnv] = []

    def factory(**kwargs) -> RecommenderEnv:
        settings = {"backend": "offline", "data_dir": ml100k, "candidates": 100, "seed": 7, **kwargs}
        env = RecommenderEnv(**settings)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()


def fresh(env: RecommenderEnv) -> list[int]:
    """Candidate indices of the items the current user has not consumed."""
    consumed = {entry.item_id for entry in env.user.history}
    return [index for index, item in enumerate(env.catalogue.candidate_ids) if item not in consumed]


# registration ---------------------------------------------------------------------------------------


def test_registered_ids_and_make(ml100k: Path) -> None:
    assert "lusifer/MovieLens-v0" in register_envs()
    env = gym.make("lusifer/MovieLens-v0", backend="offline", data_dir=ml100k, candidates=50, seed=1)
    try:
        assert isinstance(env.unwrapped, RecommenderEnv)
        obs, info = env.reset()
        assert env.observation_space.contains(obs) and info["user_id"]
        check_env(env.unwrapped)
    finally:
        env.close()


def test_plugin_domains_get_their_own_id() -> None:
    assert env_id(types.SimpleNamespace(name="movies")) == "lusifer/MovieLens-v0"
    assert env_id(types.SimpleNamespace(name="news")) == "lusifer/News-v0"
    assert env_id(types.SimpleNamespace(name="music", env_name="LastFM")) == "lusifer/LastFM-v0"


def run_python(script: str) -> str:
    environment = {**os.environ, "LUSIFER_LOAD_PLUGINS": ""}
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_registration_is_light() -> None:
    output = run_python(
        "import sys, lusifer.envs, gymnasium\n"
        "print('pandas' in sys.modules, 'lusifer/MovieLens-v0' in gymnasium.registry)"
    )
    assert output.split() == ["False", "True"]


def test_make_without_importing_lusifer(ml100k: Path) -> None:
    """Gymnasium 1.x loads no plugin entry points; the ``module:id`` form imports lusifer.envs for us."""
    output = run_python(
        "import gymnasium\n"
        f"env = gymnasium.make('lusifer.envs:lusifer/MovieLens-v0', backend='offline', data_dir={str(ml100k)!r},"
        " candidates=20)\n"
        "obs, info = env.reset(seed=0)\n"
        "print(sorted(obs))\n"
        "env.close()\n"
    )
    assert "profile" in output


# the single environment -------------------------------------------------------------------------------


def test_seeded_episodes_reproduce_exactly(make_env) -> None:
    first, second = make_env(refresh_every=5), make_env(refresh_every=5)
    actions = [first.action_space.sample() for _ in range(6)]
    for _episode in range(2):
        runs = []
        for env in (first, second):
            obs, info = env.reset(seed=11)
            trace = [(obs, info)]
            for action in actions:
                trace.append(env.step(action))
            runs.append(trace)
        assert gym.utils.env_checker.data_equivalence(runs[0], runs[1], exact=True)
    assert any(step[4]["profile_refreshed"] for step in runs[0][1:])


def test_reset_picks_given_user_and_reuses_built_profiles(make_env) -> None:
    env = make_env()
    obs, info = env.reset(options={"user_id": "1"})
    assert info["user_id"] == "1" and info["calls"] == 4 and info["history_length"] == 40
    assert env.user.profile and len(env.user.profiles) == 4
    again, info = env.reset(options={"user_id": 1})
    assert info["calls"] == 0  # phase 1 is cached per user within the env
    assert np.array_equal(obs["profile"], again["profile"])
    recent = env.user.history[-10:][::-1]
    assert obs["recent_items"].tolist() == [env.catalogue.index[entry.item_id] for entry in recent]
    assert obs["recent_ratings"].tolist() == [entry.rating for entry in recent]


def test_duplicates_and_already_consumed_items(make_env) -> None:
    env = make_env(candidates=None, reward="liked_count", threshold=1)
    env.reset(options={"user_id": "1"})
    seen = env.user.history[-1].item_id
    a, b = fresh(env)[:2]
    slate = np.array([a, a, env.catalogue.candidate_ids.index(seen), b, a])
    a, b = env.catalogue.candidate_ids[a], env.catalogue.candidate_ids[b]
    _, reward, _, _, info = env.step(slate)
    assert set(info["feedback"]) == {a, b}
    assert info["duplicates"] == [a, a] and info["already_consumed"] == [seen]
    assert reward == 2.0  # threshold 1: both new items are liked; the rest counts 0
    _, reward, _, _, info = env.step(slate)  # now both are consumed too
    assert info["feedback"] == {} and reward == 0.0
    assert info["already_consumed"] == [a, seen, b]


def test_choose_mode_consumes_one_item_or_terminates(make_env) -> None:
    env = make_env(feedback="choose", threshold=1)
    env.reset(options={"user_id": "2"})
    length, slate = len(env.user.history), np.array(fresh(env)[:5])
    _, reward, terminated, _, info = env.step(slate)
    assert not terminated and info["chosen"] == choose(list(info["feedback"].items()), 1)
    assert reward == info["feedback"][info["chosen"]] and len(env.user.history) == length + 1
    _, _, _, _, info = env.step(slate)  # only the chosen item was consumed: the others are rated again
    assert len(info["already_consumed"]) == 1 and len(info["feedback"]) == 4
    leaving = make_env(feedback="choose", threshold=6)  # nothing on a 1-5 scale is good enough
    leaving.reset(options={"user_id": "2"})
    _, reward, terminated, truncated, info = leaving.step(np.arange(5))
    assert terminated and not truncated and reward == 0.0 and info["chosen"] is None


def test_choice_model_and_reward_validation() -> None:
    assert choose([("a", 4), ("b", 5), ("c", 5)], 4) == "b"  # best rating, earliest position among ties
    assert choose([("a", 3), ("b", 2)], 4) is None
    assert default_threshold(types.SimpleNamespace(low=1, high=5)) == 4
    assert default_threshold(types.SimpleNamespace(low=0, high=1)) == 1
    assert check_reward("choose", None) == "chosen_rating" and check_reward("rate", None) == "mean_rating"
    with pytest.raises(ConfigError, match="does not fit"):
        check_reward("rate", "chosen_rating")
    with pytest.raises(ConfigError, match="unknown reward"):
        check_reward("rate", "clicks")


def test_truncation_after_max_steps(make_env) -> None:
    env = make_env(max_steps=3)
    env.reset(seed=0)
    flags = [env.step(env.action_space.sample())[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_invalid_actions_are_rejected(make_env) -> None:
    env = make_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="candidate indices"):
        env.step(np.array([0, 1, 2, 3, 100]))
    with pytest.raises(ValueError, match="candidate indices"):
        env.step(np.array([0, 1]))


def test_profile_refresh_every_m_is_explained_and_stored(make_env, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lusifer.cli import cli, load_plugin_commands

    env = make_env(refresh_every=5, slate_size=5, run_dir=tmp_path / "run")
    explanations = []
    for _episode in range(2):
        env.reset(options={"user_id": "3"})
        built, new = len(env.user.profiles), fresh(env)
        for step in range(2):
            _, _, _, _, info = env.step(np.array(new[5 * step : 5 * step + 5]))
            assert info["profile_refreshed"] and info["profile_step"] == built + step
            explanations.append(info["profile_explanation"])
    env.close()
    store = RunStore(tmp_path / "run")
    states = store.profiles("3")
    store.close()
    assert [state.source for state in states] == ["history"] * built + ["online"] * 4
    assert [state.step for state in states] == list(range(built + 4))  # both episodes are kept
    assert [state.explanation for state in states[built:]] == explanations
    with pytest.raises(ConfigError, match="different configuration"):
        make_env(refresh_every=7, run_dir=tmp_path / "run")
    load_plugin_commands()
    shown = CliRunner().invoke(cli, ["show", "user", "3", "--run", str(tmp_path / "run")])
    assert shown.exit_code == 0 and "(online;" in shown.output and explanations[0] in shown.output


def test_step_inside_a_running_event_loop(make_env) -> None:
    env = make_env()

    async def notebook_cell() -> float:
        env.reset(seed=0)
        return float(env.step(np.arange(5))[1])

    assert asyncio.run(notebook_cell()) > 0


# the vector environment --------------------------------------------------------------------------------


def test_vector_env_batches_and_autoresets(ml100k: Path) -> None:
    envs = gym.make_vec(
        "lusifer/MovieLens-v0",
        num_envs=3,
        vectorization_mode="vector_entry_point",
        backend="offline",
        data_dir=ml100k,
        candidates=40,
        max_steps=2,
    )
    try:
        assert isinstance(envs, RecommenderVectorEnv)
        obs, infos = envs.reset(seed=5, options={"user_ids": ["1", None, "1"]})
        assert obs["profile"].shape == (3, 64) and obs["recent_items"].shape == (3, 10)
        assert infos["user_id"][0] == infos["user_id"][2] == "1"
        assert envs.observation_space.contains(obs)
        for expected in ([False] * 3, [True] * 3, [False] * 3):
            obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
            assert rewards.shape == (3,) and truncated.tolist() == expected and not terminated.any()
            assert envs.observation_space.contains(obs)
            if expected[0]:
                assert infos["feedback"].dtype == object and isinstance(infos["feedback"][0], dict)
                assert infos["_feedback"].all()
        # the step after the truncation reset every sub-environment (next-step autoreset): reset infos
        assert "history_length" in infos and "feedback" not in infos and not rewards.any()
    finally:
        envs.close()


# encoders -------------------------------------------------------------------------------------------------


def test_hashing_encoder_is_normalised_and_stable_across_processes() -> None:
    encoder = HashingEncoder(dim=16)
    vectors = encoder.encode(["Likes: comedy, drama. Loves Toy Story!", ""])
    assert vectors.shape == (2, 16) and vectors.dtype == np.float32
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0) and not vectors[1].any()
    script = (
        "from lusifer.envs.encoders import HashingEncoder\n"
        "print(HashingEncoder(16).encode(['Likes: comedy, drama. Loves Toy Story!'])[0].tolist())"
    )
    for salt in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": salt}
        done = subprocess.run(
            [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=environment
        )
        assert done.stdout.strip() == str(vectors[0].tolist())


def test_sentence_transformer_encoder_wiring(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in ``sentence_transformers`` module: the real package would download a model."""

    class FakeModel:
        def __init__(self, name: str) -> None:
            self.name = name

        def get_sentence_embedding_dimension(self) -> int:
            return 3

        def encode(self, texts: list[str], normalize_embeddings: bool, convert_to_numpy: bool) -> np.ndarray:
            assert normalize_embeddings and convert_to_numpy
            return np.ones((len(texts), 3)) / np.sqrt(3)

    monkeypatch.setitem(sys.modules, "sentence_transformers", types.SimpleNamespace(SentenceTransformer=FakeModel))
    encoder = make_encoder("sentence-transformers:tiny-model")
    assert isinstance(encoder, SentenceTransformerEncoder) and encoder.model.name == "tiny-model"
    assert encoder.dim == 3 and encoder.encode(["a", "b"]).shape == (2, 3)
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # not installed
    with pytest.raises(ConfigError, match="pip install sentence-transformers"):
        make_encoder("sentence-transformers")


def test_custom_encoder_object(make_env) -> None:
    class Lengths:
        dim = 2

        def encode(self, texts: list[str]) -> np.ndarray:
            return np.array([[len(text), text.count(" ")] for text in texts], dtype=np.float32)

    env = make_env(encoder=Lengths())
    obs, _ = env.reset(seed=0)
    assert obs["profile"].shape == (2,) and obs["profile"][0] == len(env.user.profile)
    assert env.observation_space["profile"].high[0] == np.inf
    with pytest.raises(ConfigError, match="encoder"):
        make_encoder("word2vec")


def test_vector_env_sends_the_users_calls_as_one_concurrent_batch(ml100k: Path) -> None:
    """Against a slow fake OpenAI server, the N users' feedback requests are in flight together."""
    from lusifer.api.settings import LusiferConfig
    from lusifer.testing.fake_servers import FakeOpenAIServer

    users = ["1", "2", "3", "4"]
    with FakeOpenAIServer(latency=0.2) as server:
        envs = RecommenderVectorEnv(
            len(users),
            backend="openai",
            model="fake-model",
            base_url=server.base_url,
            data_dir=ml100k,
            candidates=50,
            config=LusiferConfig.model_validate({"cache": {"enabled": False}}),
            prepare_users=False,  # no background phase 1 of the next users: only this step's calls
        )
        try:
            envs.reset(options={"user_ids": users})
            assert server.max_in_flight == len(users)  # phase 1 of the four users ran concurrently too
            sent, server.max_in_flight = len(server.requests), 0
            _, rewards, _, _, infos = envs.step(np.tile(np.arange(5), (len(users), 1)))
        finally:
            envs.close()
    assert len(server.requests) - sent == len(users)  # one feedback call per user ...
    assert server.max_in_flight == len(users)  # ... all in flight at once: one batch, not N in turn
    assert infos["calls"].tolist() == [1] * len(users) and rewards.shape == (len(users),)


def test_vector_env_workers_give_the_rollouts_of_one_process(ml100k: Path) -> None:
    """workers=2 spreads 4 sub-environments over 2 processes: same seed, same episodes (autoresets too)."""
    settings = {"backend": "offline", "data_dir": ml100k, "candidates": 40, "max_steps": 2, "rating_noise": 0.5}
    runs = []
    for workers in (1, 2):
        envs = RecommenderVectorEnv(4, workers=workers, **settings)
        try:
            envs.action_space.seed(11)
            steps = [envs.reset(seed=3)]
            for _ in range(4):
                steps.append(envs.step(envs.action_space.sample()))
                assert envs.observation_space.contains(steps[-1][0])
            steps.append(envs.restart([1, 2]))
            steps.append((envs.action_masks(),))
        finally:
            envs.close()
        runs.append(steps)
    one, spread = runs
    for left, right in zip(one, spread, strict=True):
        for a, b in zip(left, right, strict=True):
            if isinstance(a, dict):
                assert a.keys() == b.keys()
                for key in a:
                    assert a[key].tolist() == b[key].tolist()
            else:
                assert np.array_equal(a, b)
    assert one[3][4]["_history_length"].all() and one[2][3].all()  # step 2 truncated, step 3 reset every user


def test_vector_env_worker_options(ml100k: Path, tmp_path: Path) -> None:
    from lusifer.envs.workers import shares

    assert shares(8, 3) == [3, 3, 2] and shares(2, 4) == [1, 1, 1, 1]
    with pytest.raises(ConfigError, match="workers"):
        RecommenderVectorEnv(2, workers=0, backend="offline", data_dir=ml100k)
    with pytest.raises(ConfigError, match="run_dir"):
        RecommenderVectorEnv(2, workers=2, backend="offline", data_dir=ml100k, run_dir=tmp_path / "run")
    with pytest.raises(NotFoundError):  # an error in a worker reaches the caller
        envs = RecommenderVectorEnv(2, workers=2, backend="offline", data_dir=ml100k, candidates=40)
        try:
            envs.reset(seed=0, options={"user_ids": ["1", "no-such-user"]})
        finally:
            envs.close()
