"""``RecommenderVectorEnv``: N simulated users stepping together, their LLM calls sent as one batch.

Every ``step`` gathers the N users' feedback coroutines on the environment's event loop through one
shared call layer, so the N requests are in flight at the same time (up to ``backend.max_concurrency``)
instead of waiting for each other: a step costs about one LLM latency, not N.
"""

from __future__ import annotations

import asyncio
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lusifer.envs.core import Catalogue, RecommenderCore, Session, StepOutcome
from lusifer.envs.encoders import TextEncoder

#: Keys ``reset(options=...)`` of the vector environment accepts.
VECTOR_RESET_OPTIONS = frozenset({"user_ids"})


class RecommenderVectorEnv(VectorEnv):
    """``num_envs`` independent episodes of :class:`~lusifer.envs.recommender.RecommenderEnv`.

    Takes the keyword arguments of ``RecommenderEnv``, with ``overlap_refresh`` on by default, and
    ``prepare_users`` (default True): draw each sub-environment's next user when an episode starts and
    build their profile in the background, so autoresets do not wait for phase 1. Autoreset follows
    Gymnasium's ``NEXT_STEP`` mode: the step after an episode ends resets that sub-environment (its
    action is ignored; reward 0).
    ``reset(options={"user_ids": [...]})`` starts given users (None entries are drawn at random).
    Infos are dicts of arrays with ``_key`` masks; per-item dicts and lists are object arrays.
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (an instance attribute in VectorEnv)
        "render_modes": [],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self, num_envs: int = 1, max_episode_steps: int | None = None, prepare_users: bool = True, **kwargs: Any
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be positive, not {num_envs}")
        if max_episode_steps is not None:  # gymnasium.make_vec passes the id's limit
            kwargs.setdefault("max_steps", max_episode_steps)
        kwargs.setdefault("overlap_refresh", True)
        self.core = RecommenderCore(**kwargs)
        self.num_envs = num_envs
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._sessions: list[Session | None] = [None] * num_envs
        self._needs_reset = np.zeros(num_envs, dtype=np.bool_)
        self._next_users: list[str | None] = [None] * num_envs
        self.prepare_users = prepare_users

    @property
    def catalogue(self) -> Catalogue:
        """Item ids of the catalogue and of the candidate set (``candidate_ids[action[i, j]]``)."""
        return self.core.catalogue

    @property
    def encoder(self) -> TextEncoder:
        """The text encoder of the observations (e.g. to encode item texts the same way)."""
        return self.core.embed.encoder

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start N episodes, building the profiles of new users concurrently."""
        if seed is None and self._np_random is None:
            seed = self.core.seed
        super().reset(seed=seed)
        options = self.core.check_options(options, VECTOR_RESET_OPTIONS)
        wanted = list(options.get("user_ids") or [None] * self.num_envs)
        if len(wanted) != self.num_envs:
            raise ValueError(f"options['user_ids'] needs {self.num_envs} entries, not {len(wanted)}")
        users = [self.core.sample_user(self.np_random) if user is None else user for user in wanted]
        started = self.core.run(self._gather([self.core.start(user, self.np_random) for user in users]))
        infos: dict[str, Any] = {}
        for index, (session, info) in enumerate(started):
            self._sessions[index] = session
            _add_info(infos, info, index, self.num_envs)
        self._needs_reset[:] = False
        self._prepare(range(self.num_envs))
        return self._observations(), infos

    def _prepare(self, indices: Any) -> None:
        """Draw the next user of each sub-environment in ``indices`` now and build their profile while the
        current episodes run, so that an autoreset finds it ready."""
        if not self.prepare_users:
            return
        for index in indices:
            self._next_users[index] = self.core.sample_user(self.np_random)
            self.core.prepare(self._next_users[index])

    def _next_user(self, index: int) -> str:
        user = self._next_users[index]
        return self.core.sample_user(self.np_random) if user is None else user

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every sub-environment; all LLM calls of the step go out as one batch."""
        sessions = [session for session in self._sessions if session is not None]
        if len(sessions) != self.num_envs:
            raise gym.error.ResetNeeded("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape[0] != self.num_envs:
            raise ValueError(f"actions need a first dimension of {self.num_envs}, not shape {actions.shape}")
        resets = np.flatnonzero(self._needs_reset).tolist()
        users = {index: self._next_user(index) for index in resets}
        jobs = [
            self.core.start(users[index], self.np_random) if index in users else self.core.step(session, actions[index])
            for index, session in enumerate(sessions)
        ]
        results = self.core.run(self._gather(jobs))
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=np.bool_)
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        infos: dict[str, Any] = {}
        for index, result in enumerate(results):
            if index in users:
                self._sessions[index], info = result
            else:
                assert isinstance(result, StepOutcome)
                rewards[index], info = result.reward, result.info
                terminated[index], truncated[index] = result.terminated, result.truncated
            _add_info(infos, info, index, self.num_envs)
        self._needs_reset = terminated | truncated
        self._prepare(resets)
        return self._observations(), rewards, terminated, truncated, infos

    def restart(self, indices: list[int]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start new users in the sub-environments ``indices`` now (their phase 1 runs concurrently),
        instead of on the next step; for adapters that reset within the step, like Stable-Baselines3's."""
        users = [self._next_user(index) for index in indices]
        started = self.core.run(self._gather([self.core.start(user, self.np_random) for user in users]))
        infos: dict[str, Any] = {}
        for index, (session, info) in zip(indices, started):
            self._sessions[index] = session
            self._needs_reset[index] = False
            _add_info(infos, info, index, self.num_envs)
        self._prepare(indices)
        return self._observations(), infos

    def action_masks(self) -> np.ndarray:
        """Each sub-environment's :meth:`RecommenderEnv.action_masks`, stacked: ``(num_envs, mask size)``."""
        if any(session is None for session in self._sessions):
            raise gym.error.ResetNeeded("call reset() before action_masks()")
        return np.stack([self.core.action_masks(session) for session in self._sessions if session is not None])

    @staticmethod
    async def _gather(jobs: list[Any]) -> list[Any]:
        return list(await asyncio.gather(*jobs))

    def _observations(self) -> dict[str, np.ndarray]:
        singles = [self.core.observe(session) for session in self._sessions if session is not None]
        return {key: np.stack([single[key] for single in singles]) for key in self.core.observation_space.spaces}

    def close_extras(self, **kwargs: Any) -> None:
        """Close the call layer, the event loop and the run store."""
        self.core.close()


def _add_info(infos: dict[str, Any], info: dict[str, Any], index: int, size: int) -> None:
    """Gymnasium's dict-of-arrays infos with ``_key`` masks, without splitting per-item dicts by key."""
    for key, value in info.items():
        if key not in infos:
            numeric = isinstance(value, (bool, int, float, np.number))
            infos[key] = np.zeros(size, dtype=type(value)) if numeric else np.full(size, None, dtype=object)
            infos[f"_{key}"] = np.zeros(size, dtype=np.bool_)
        infos[key][index] = value
        infos[f"_{key}"][index] = True
