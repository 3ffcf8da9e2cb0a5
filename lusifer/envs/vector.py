"""``RecommenderVectorEnv``: N simulated users stepping together, their LLM calls sent as one batch.

Every ``step`` gathers the N users' feedback coroutines on the environment's event loop through one
shared call layer, so the N requests are in flight at the same time (up to ``backend.max_concurrency``)
instead of waiting for each other: a step costs about one LLM latency, not N.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lusifer.api.errors import ConfigError
from lusifer.envs.core import Catalogue, RecommenderCore, StepOutcome
from lusifer.envs.encoders import TextEncoder
from lusifer.envs.workers import Group, Start, Worker, shares

#: Keys ``reset(options=...)`` of the vector environment accepts.
VECTOR_RESET_OPTIONS = frozenset({"user_ids"})


class RecommenderVectorEnv(VectorEnv):
    """``num_envs`` independent episodes of :class:`~lusifer.envs.recommender.RecommenderEnv`.

    Takes the keyword arguments of ``RecommenderEnv``, with ``overlap_refresh`` on by default, and
    ``prepare_users`` (default True): draw each sub-environment's next user when an episode starts and
    build their profile in the background, so autoresets do not wait for phase 1. Autoreset follows
    Gymnasium's ``NEXT_STEP`` mode: the step after an episode ends resets that sub-environment (its
    action is ignored; reward 0).
    ``workers`` (default 1: this process): spread the sub-environments over that many worker processes,
    each with its own event loop and HTTP client; ``max_concurrency`` and the rate limits are split
    between them, rollouts are the same as in one process. Needs picklable arguments and no ``run_dir``.
    ``reset(options={"user_ids": [...]})`` starts given users (None entries are drawn at random).
    Infos are dicts of arrays with ``_key`` masks; per-item dicts and lists are object arrays.
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (an instance attribute in VectorEnv)
        "render_modes": [],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        prepare_users: bool = True,
        workers: int = 1,
        **kwargs: Any,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be positive, not {num_envs}")
        if workers < 1:
            raise ConfigError(f"workers must be positive, not {workers}")
        if workers > 1 and kwargs.get("run_dir") is not None:
            raise ConfigError("run_dir needs workers=1 (one process writes the run directory)")
        if max_episode_steps is not None:  # gymnasium.make_vec passes the id's limit
            kwargs.setdefault("max_steps", max_episode_steps)
        kwargs.setdefault("overlap_refresh", True)
        self.core = RecommenderCore(**kwargs)
        self.num_envs = num_envs
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._started = np.zeros(num_envs, dtype=np.bool_)
        self._needs_reset = np.zeros(num_envs, dtype=np.bool_)
        self._next_users: list[str | None] = [None] * num_envs
        self._observed: list[dict[str, np.ndarray] | None] = [None] * num_envs
        self.prepare_users = prepare_users
        self._groups: list[Group | Worker] = (
            [Group(self.core)] if workers == 1 else self._spawn(min(workers, num_envs), kwargs)
        )
        self._owner = np.arange(num_envs) * len(self._groups) // num_envs  # contiguous blocks per group

    def _spawn(self, count: int, kwargs: dict[str, Any]) -> list[Group | Worker]:
        """``count`` worker processes sharing this process's resolved configuration and limits."""
        backend = self.core.config.backend
        started: list[Group | Worker] = []
        try:
            for share in shares(backend.max_concurrency, count):
                limits = {
                    "max_concurrency": share,
                    "requests_per_minute": backend.requests_per_minute and backend.requests_per_minute / count,
                    "tokens_per_minute": backend.tokens_per_minute and backend.tokens_per_minute / count,
                }
                config = self.core.config.model_copy(update={"backend": backend.model_copy(update=limits)})
                started.append(Worker({**kwargs, "config": config, "max_concurrency": share}))
            for worker in started:
                assert isinstance(worker, Worker)
                worker.ready()
        except BaseException:
            for worker in started:
                assert isinstance(worker, Worker)
                worker.close()
            self.core.close()
            raise
        return started

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
        users = {
            index: self.core.sample_user(self.np_random) if user is None else str(user)
            for index, user in enumerate(wanted)
        }
        results = self._batch(users, {})
        self._needs_reset[:] = False
        return self._observations(), self._infos(results)[-1]

    def _batch(self, users: dict[int, str], actions: dict[int, Any]) -> dict[int, Any]:
        """One concurrent batch over the groups: start ``users`` (index → user), step ``actions``; then draw
        the next users of the started sub-environments and begin building their profiles (``prepare_users``),
        so that an autoreset finds them ready. Draws from ``np_random`` happen here, in index order."""
        starts = [(index, user, int(self.np_random.integers(2**63))) for index, user in sorted(users.items())]
        prepare: list[list[str]] = [[] for _ in self._groups]
        if self.prepare_users:
            for index in sorted(users):
                user = self._next_users[index] = self.core.sample_user(self.np_random)
                prepare[self._owner[index]].append(user)
        else:
            for index in users:
                self._next_users[index] = None
        jobs: list[tuple[list[Start], dict[int, Any]]] = [([], {}) for _ in self._groups]
        for start in starts:
            jobs[self._owner[start[0]]][0].append(start)
        for index, action in actions.items():
            jobs[self._owner[index]][1][index] = action
        for number, group in enumerate(self._groups):  # workers first: they run while this process waits
            if isinstance(group, Worker):
                group.send(*jobs[number], prepare[number])
        results: dict[int, Any] = {}
        errors: list[Exception] = []
        for number, group in enumerate(self._groups):
            try:  # every worker's reply is read, so that none is left in its pipe for the next batch
                outcomes, observations = (
                    group.batch(*jobs[number], prepare[number]) if isinstance(group, Group) else group.receive()
                )
            except Exception as error:
                errors.append(error)
                continue
            results.update(outcomes)
            for index, observation in observations.items():
                self._observed[index] = observation
        if errors:
            raise errors[0]
        for index in users:
            self._started[index] = True
        return results

    def _next_user(self, index: int) -> str:
        user = self._next_users[index]
        return self.core.sample_user(self.np_random) if user is None else user

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every sub-environment; all LLM calls of the step go out as one batch."""
        if not self._started.all():
            raise gym.error.ResetNeeded("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape[0] != self.num_envs:
            raise ValueError(f"actions need a first dimension of {self.num_envs}, not shape {actions.shape}")
        resets = np.flatnonzero(self._needs_reset).tolist()
        users = {index: self._next_user(index) for index in resets}
        results = self._batch(users, {index: actions[index] for index in range(self.num_envs) if index not in users})
        rewards, terminated, truncated, infos = self._infos(results)
        self._needs_reset = terminated | truncated
        return self._observations(), rewards, terminated, truncated, infos

    def restart(self, indices: list[int]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start new users in the sub-environments ``indices`` now (their phase 1 runs concurrently),
        instead of on the next step; for adapters that reset within the step, like Stable-Baselines3's."""
        results = self._batch({index: self._next_user(index) for index in indices}, {})
        self._needs_reset[indices] = False
        return self._observations(), self._infos(results)[-1]

    def _infos(self, results: dict[int, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Rewards, terminations, truncations and infos (dict of arrays) of one batch's results."""
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=np.bool_)
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        infos: dict[str, Any] = {}
        for index in sorted(results):
            result = results[index]
            if isinstance(result, StepOutcome):
                rewards[index], info = result.reward, result.info
                terminated[index], truncated[index] = result.terminated, result.truncated
            else:
                info = result
            _add_info(infos, info, index, self.num_envs)
        return rewards, terminated, truncated, infos

    def action_masks(self) -> np.ndarray:
        """Each sub-environment's :meth:`RecommenderEnv.action_masks`, stacked: ``(num_envs, mask size)``."""
        if not self._started.all():
            raise gym.error.ResetNeeded("call reset() before action_masks()")
        observed = [observation for observation in self._observed if observation is not None]
        return np.stack([self.core.masks(observation["eligible"]) for observation in observed])

    def _observations(self) -> dict[str, np.ndarray]:
        singles = [observation for observation in self._observed if observation is not None]
        return {key: np.stack([single[key] for single in singles]) for key in self.core.observation_space.spaces}

    def close_extras(self, **kwargs: Any) -> None:
        """Stop the workers; close the call layer, the event loop and the run store."""
        for group in self._groups:
            if isinstance(group, Worker):
                group.close()
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
