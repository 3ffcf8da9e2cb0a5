"""Train sb3-contrib's MaskablePPO on some users, evaluate it on users it never saw.

Needs the RL extra (``pip install torch`` first, then ``pip install 'lusifer[rl]'``). Offline, no key::

    python examples/train_maskable_ppo.py --data-dir ../shared/data/ml-100k --timesteps 30000

Training steps ``--envs`` users at once through :class:`~lusifer.envs.sb3.SB3VecEnv` (one batch of LLM
calls per step with an LLM backend); the action mask keeps consumed items out of the slates. Users are
split once (``user_split``): the agent trains on the ``train`` part and is evaluated, deterministically and
with masks, on ``--eval-episodes`` episodes of ``test`` users (episode ``e`` resets with seed ``1000 + e``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lusifer.envs.recommender import RecommenderEnv
from lusifer.envs.vector import RecommenderVectorEnv

EVAL_SEED = 1000
#: (observation, environment) -> action
Policy = Callable[[dict[str, np.ndarray], RecommenderEnv], Any]


def env_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The environment both training and evaluation use (only the user split's part differs)."""
    return {
        "backend": args.backend,
        "model": args.model,
        "base_url": args.base_url,
        "data_dir": args.data_dir,
        "candidates": args.candidates,
        "slate_size": args.slate_size,
        "max_steps": args.steps,
        "reward": "liked_count",
        "seed": args.seed,
    }


def split(part: str, seed: int) -> tuple[str, float, int]:
    return (part, 0.8, seed)


def evaluate(env: RecommenderEnv, policy: Policy, episodes: int) -> list[float]:
    """Episode returns of ``policy`` on ``env`` (episode ``e`` resets with seed ``EVAL_SEED + e``)."""
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs, env))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


def train_maskable_ppo(settings: dict[str, Any], envs: int, timesteps: int, seed: int, masked: bool = True) -> Any:
    """MaskablePPO (or plain PPO with ``masked=False``) trained on the ``train`` users; returns
    ``(model, learning curve)``, the curve being (timesteps, mean of the last 20 episode returns)."""
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    from lusifer.envs.sb3 import SB3VecEnv

    torch.set_num_threads(1)  # small networks: extra threads only contend for the cores
    venv = VecMonitor(SB3VecEnv(RecommenderVectorEnv(envs, user_split=split("train", seed), **settings)))
    algorithm = MaskablePPO if masked else PPO
    model = algorithm("MultiInputPolicy", venv, n_steps=128, batch_size=256, ent_coef=0.01, seed=seed, verbose=0)
    curve = LearningCurve()
    model.learn(timesteps, callback=curve.callback())
    venv.close()
    return model, curve.points


class LearningCurve:
    """Collects (timesteps, mean return of the last 20 finished training episodes) during ``learn``."""

    def __init__(self) -> None:
        self.points: list[tuple[int, float]] = []
        self._returns: list[float] = []

    def callback(self) -> Any:
        from stable_baselines3.common.callbacks import BaseCallback

        curve = self

        class Record(BaseCallback):
            def _on_step(self) -> bool:
                for info in self.locals["infos"]:
                    if "episode" in info:
                        curve._returns.append(float(info["episode"]["r"]))
                        curve.points.append((self.num_timesteps, float(np.mean(curve._returns[-20:]))))
                return True

        return Record()


def model_policy(model: Any, masked: bool) -> Policy:
    def act(obs: dict[str, np.ndarray], env: RecommenderEnv) -> Any:
        if masked:
            return model.predict(obs, action_masks=env.action_masks(), deterministic=True)[0]
        return model.predict(obs, deterministic=True)[0]

    return act


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="offline")
    parser.add_argument("--model", default=None)
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=None, help="unpacked ml-100k (default: download)")
    parser.add_argument("--timesteps", type=int, default=30_000)
    parser.add_argument("--envs", type=int, default=8, help="users stepped together")
    parser.add_argument("--steps", type=int, default=10, help="steps per episode")
    parser.add_argument("--slate-size", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, default=None, help="where to save the trained model (.zip)")
    args = parser.parse_args()

    settings = env_settings(args)
    began = time.perf_counter()
    model, curve = train_maskable_ppo(settings, args.envs, args.timesteps, args.seed)
    print(
        f"trained {args.timesteps} steps in {time.perf_counter() - began:.0f} s; last training mean {curve[-1][1]:.1f}"
    )
    if args.save:
        model.save(args.save)
    env = RecommenderEnv(user_split=split("test", args.seed), **settings)
    returns = evaluate(env, model_policy(model, masked=True), args.eval_episodes)
    env.close()
    print(f"held-out users, {args.eval_episodes} episodes: return {np.mean(returns):.1f} ± {np.std(returns):.1f}")


if __name__ == "__main__":
    main()
