"""Stable-Baselines3 adapter: :class:`RecommenderVectorEnv` as an SB3 ``VecEnv`` (needs ``lusifer[rl]``).

SB3 steps every sub-environment together (one batched LLM step for N users, as the vector environment
does) and expects the *same-step* autoreset of its own vector environments: when an episode ends, the
returned observation is already the next user's, the last observation is in
``info["terminal_observation"]`` and ``info["TimeLimit.truncated"]`` tells truncation from termination.
``env_method("action_masks")`` serves sb3-contrib's ``MaskablePPO``::

    from sb3_contrib import MaskablePPO
    from lusifer.envs.sb3 import SB3VecEnv
    from lusifer.envs.vector import RecommenderVectorEnv

    venv = SB3VecEnv(RecommenderVectorEnv(8, backend="offline", candidates=300))
    MaskablePPO("MultiInputPolicy", venv).learn(10_000)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lusifer.api.errors import ConfigError
from lusifer.envs.vector import RecommenderVectorEnv

try:
    from stable_baselines3.common.vec_env import VecEnv
except ImportError:  # pragma: no cover - depends on the installed extras
    raise ConfigError("the Stable-Baselines3 adapter needs stable-baselines3: pip install 'lusifer[rl]'") from None


class SB3VecEnv(VecEnv):
    """An SB3 ``VecEnv`` over a :class:`RecommenderVectorEnv` (which it closes on ``close()``)."""

    def __init__(self, venv: RecommenderVectorEnv) -> None:
        self.venv = venv
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    def reset(self) -> dict[str, np.ndarray]:
        """Start N users; the first seed given with ``seed()`` seeds the vector environment."""
        seed = self._seeds[0] if self._seeds else None
        observations, infos = self.venv.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [_single(infos, index) for index in range(self.num_envs)]
        return observations

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._actions is None:
            raise RuntimeError("step_async() must come before step_wait()")
        actions = self._actions.reshape(self.num_envs, -1)
        observations, rewards, terminated, truncated, infos = self.venv.step(actions)
        self._actions = None
        dones = terminated | truncated
        singles = [_single(infos, index) for index in range(self.num_envs)]
        ended = np.flatnonzero(dones).tolist()
        for index in ended:
            singles[index]["terminal_observation"] = {key: value[index] for key, value in observations.items()}
            singles[index]["TimeLimit.truncated"] = bool(truncated[index] and not terminated[index])
        if ended:
            observations, reset_infos = self.venv.restart(ended)
            for index in ended:
                self.reset_infos[index] = _single(reset_infos, index)
        return observations, rewards.astype(np.float32), dones, singles

    def action_masks(self) -> np.ndarray:
        """``(num_envs, mask size)``: each sub-environment's valid actions."""
        return self.venv.action_masks()

    def env_method(
        self, method_name: str, *method_args: Any, indices: None | int | Sequence[int] = None, **method_kwargs: Any
    ) -> list[Any]:
        """``action_masks`` per sub-environment; other methods are called on the vector environment."""
        targets = self._get_indices(indices)
        if method_name == "action_masks":
            masks = self.venv.action_masks()
            return [masks[index] for index in targets]
        method = getattr(self.venv, method_name)
        return [method(*method_args, **method_kwargs) for _ in targets]

    def get_attr(self, attr_name: str, indices: None | int | Sequence[int] = None) -> list[Any]:
        return [getattr(self.venv, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: None | int | Sequence[int] = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_is_wrapped(self, wrapper_class: type, indices: None | int | Sequence[int] = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def close(self) -> None:
        self.venv.close()


def _single(infos: dict[str, Any], index: int) -> dict[str, Any]:
    """Sub-environment ``index``'s info out of Gymnasium's dict of arrays with ``_key`` masks."""
    return {
        key: value[index].item() if isinstance(value[index], np.generic) else value[index]
        for key, value in infos.items()
        if not key.startswith("_") and infos[f"_{key}"][index]
    }
