"""Record simulator episodes as a Minari dataset for offline RL (needs ``lusifer[rl]``).

:func:`record_dataset` runs a behaviour policy and writes the observations, actions, rewards and
termination flags of every step with ``minari.create_dataset_from_buffers`` (Minari's ``DataCollector``
needs jax, an 85 MB install, for what is a plain append here). The dataset loads with
``minari.load_dataset(dataset_id)`` and the loaders built on it, like any other. Datasets go to Minari's
folder (``MINARI_DATASETS_PATH``, default ``~/.minari/datasets``) in the Arrow format. Infos are not
recorded (they hold per-item dicts Minari cannot store).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from lusifer.api.errors import ConfigError

if TYPE_CHECKING:
    import gymnasium as gym

    from lusifer.envs.recommender import RecommenderEnv

#: A behaviour policy: (observation, the environment) -> action.
Policy = Callable[[dict[str, np.ndarray], "gym.Env"], Any]


def masked_random_policy(rng: np.random.Generator) -> Policy:
    """Uniformly random among the candidates the user has not consumed (distinct within a slate)."""

    def act(observation: dict[str, np.ndarray], env: gym.Env) -> Any:
        eligible = np.flatnonzero(observation["eligible"])
        core = cast("RecommenderEnv", env.unwrapped).core  # the policy drives Lusifer's environments only
        size = core.slate_size
        picked = rng.choice(eligible, size=size, replace=len(eligible) < size)
        return int(picked[0]) if core.actions == "item" else picked.astype(np.int64)

    return act


def record_dataset(
    env: gym.Env,
    dataset_id: str,
    episodes: int,
    policy: Policy | None = None,
    seed: int = 0,
    description: str | None = None,
) -> Any:
    """Run ``episodes`` episodes of ``policy`` (default: masked random) and save them as ``dataset_id``
    (``namespace/name-v0``); returns the ``MinariDataset``. Episode ``e`` resets with seed ``seed + e``."""
    try:
        import minari
        from minari.data_collector import EpisodeBuffer
    except ImportError:
        raise ConfigError("recording Minari datasets needs minari: pip install 'lusifer[rl]'") from None
    if episodes < 1:
        raise ConfigError(f"episodes must be positive, not {episodes}")
    policy = policy or masked_random_policy(np.random.default_rng(seed))
    buffers = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        observations = {key: [value] for key, value in observation.items()}
        actions, rewards, terminations, truncations = [], [], [], []
        done = False
        while not done:
            action = policy(observation, env)
            observation, reward, terminated, truncated, _ = env.step(action)
            for key, value in observation.items():
                observations[key].append(value)
            actions.append(action)
            rewards.append(float(reward))
            terminations.append(terminated)
            truncations.append(truncated)
            done = terminated or truncated
        buffers.append(
            EpisodeBuffer(
                id=episode,
                seed=seed + episode,
                observations={key: np.stack(values) for key, values in observations.items()},
                actions=np.stack([np.asarray(action) for action in actions]),
                rewards=rewards,
                terminations=terminations,
                truncations=truncations,
            )
        )
    return minari.create_dataset_from_buffers(
        dataset_id=dataset_id,
        buffer=buffers,
        observation_space=env.observation_space,
        action_space=env.action_space,
        algorithm_name=getattr(policy, "__qualname__", "policy"),
        description=description or "Episodes of Lusifer's simulated users (see docs/rl-environment.md).",
        data_format="arrow",
    )
