"""Train Stable-Baselines3's DQN to recommend one item per step (``actions="item"``), on held-out users.

Needs the RL extra (``pip install torch`` first, then ``pip install 'lusifer[rl]'``). Offline, no key::

    python examples/train_dqn.py --data-dir ../shared/data/ml-100k --timesteps 20000

DQN cannot take action masks, so already-consumed items cost ``repeat_penalty`` (1) instead of being
masked out; it sees which candidates are still eligible in the observation's ``eligible`` key.
Evaluation: ``--eval-episodes`` episodes of users outside the training split, greedy actions.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from train_maskable_ppo import LearningCurve, evaluate, split

from lusifer.envs.recommender import RecommenderEnv


def item_settings(
    data_dir: Path | None, candidates: int, steps: int, seed: int, threshold: float | None = None
) -> dict[str, Any]:
    return {
        "threshold": threshold,
        "backend": "offline",
        "data_dir": data_dir,
        "candidates": candidates,
        "actions": "item",
        "max_steps": steps,
        "reward": "liked_count",
        "repeat_penalty": 1.0,
        "seed": seed,
    }


def train_dqn(settings: dict[str, Any], timesteps: int, seed: int) -> tuple[Any, list[tuple[int, float]]]:
    """DQN trained on the ``train`` users; returns the model and its learning curve."""
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.monitor import Monitor

    torch.set_num_threads(1)
    env = Monitor(RecommenderEnv(user_split=split("train", seed), **settings))
    model = DQN(
        "MultiInputPolicy",
        env,
        learning_starts=500,
        buffer_size=20_000,
        exploration_fraction=0.3,
        train_freq=4,
        target_update_interval=1000,
        seed=seed,
    )
    curve = LearningCurve()
    model.learn(timesteps, callback=curve.callback())
    env.close()
    return model, curve.points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="unpacked ml-100k (default: download)")
    parser.add_argument("--timesteps", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=10, help="steps per episode")
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    settings = item_settings(args.data_dir, args.candidates, args.steps, args.seed)
    began = time.perf_counter()
    model, _ = train_dqn(settings, args.timesteps, args.seed)
    print(f"trained {args.timesteps} steps in {time.perf_counter() - began:.0f} s")
    env = RecommenderEnv(user_split=split("test", args.seed), **settings)
    returns = evaluate(env, lambda obs, _env: int(model.predict(obs, deterministic=True)[0]), args.eval_episodes)
    env.close()
    print(f"held-out users, {args.eval_episodes} episodes: return {np.mean(returns):.1f} ± {np.std(returns):.1f}")


if __name__ == "__main__":
    main()
