"""Train Stable-Baselines3's PPO to score candidates: the action is a weight per candidate feature.

Needs the RL extra (``pip install torch`` first, then ``pip install 'lusifer[rl]'``). Offline, no key::

    python examples/train_ppo_scores.py --data-dir ../shared/data/ml-100k --timesteps 24000

With ``actions="scores"`` the agent does not pick item indices: it outputs one weight per column of the
observation's ``candidates`` features (item level, popularity, the user's genre and keyword affinity,
eligibility), and the environment shows the K eligible candidates with the highest weighted sum. The
policy is SB3's standard ``MultiInputPolicy`` (a Gaussian over the weights, conditioned on the whole
observation); what it learns is a scoring function shared by all candidates, and since the slate is
ranked among eligible candidates it never repeats an item. ``gamma=0``: a slate's reward does not depend
on later slates much, and a one-step return has a far smaller variance than a ten-step one (users differ
a lot in how readily they give 5 stars). Users are split once: training on ``train``, evaluation,
deterministic, on ``--eval-episodes`` episodes of ``test`` users (episode ``e`` resets with seed ``1000 + e``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from train_maskable_ppo import LearningCurve, Policy, evaluate, split

from lusifer.envs.recommender import RecommenderEnv
from lusifer.envs.vector import RecommenderVectorEnv

#: PPO's settings for the scoring action (see the module docstring).
PPO_SETTINGS: dict[str, Any] = {
    "n_steps": 64,
    "batch_size": 256,
    "gamma": 0.0,
    "gae_lambda": 0.9,
    "learning_rate": 1e-3,
    "ent_coef": 0.0,
    "policy_kwargs": {"log_std_init": -1.0},
}


def train_scoring_ppo(settings: dict[str, Any], envs: int, timesteps: int, seed: int) -> Any:
    """PPO with ``actions="scores"`` trained on the ``train`` users; returns ``(model, learning curve)``."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    from lusifer.envs.sb3 import SB3VecEnv

    torch.set_num_threads(1)  # small networks: extra threads only contend for the cores
    scoring = {**settings, "actions": "scores"}
    venv = VecMonitor(SB3VecEnv(RecommenderVectorEnv(envs, user_split=split("train", seed), **scoring)))
    model = PPO("MultiInputPolicy", venv, seed=seed, verbose=0, **PPO_SETTINGS)
    curve = LearningCurve()
    model.learn(timesteps, callback=curve.callback())
    venv.close()
    return model, curve.points


def scoring_policy(model: Any) -> Policy:
    def act(obs: dict[str, np.ndarray], env: RecommenderEnv) -> Any:
        return model.predict(obs, deterministic=True)[0]

    return act


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="offline")
    parser.add_argument("--model", default=None)
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=None, help="unpacked ml-100k (default: download)")
    parser.add_argument("--timesteps", type=int, default=24_000)
    parser.add_argument("--envs", type=int, default=8, help="users stepped together")
    parser.add_argument("--steps", type=int, default=10, help="steps per episode")
    parser.add_argument("--slate-size", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--threshold", type=int, default=5, help="lowest rating that counts as liked")
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, default=None, help="where to save the trained model (.zip)")
    args = parser.parse_args()

    settings = {
        "backend": args.backend,
        "model": args.model,
        "base_url": args.base_url,
        "data_dir": args.data_dir,
        "candidates": args.candidates,
        "slate_size": args.slate_size,
        "max_steps": args.steps,
        "reward": "liked_count",
        "threshold": args.threshold,
        "seed": args.seed,
    }
    began = time.perf_counter()
    model, curve = train_scoring_ppo(settings, args.envs, args.timesteps, args.seed)
    print(f"trained {args.timesteps} steps in {time.perf_counter() - began:.0f} s")
    if args.save:
        model.save(args.save)
    env = RecommenderEnv(user_split=split("test", args.seed), actions="scores", **settings)
    returns = evaluate(env, scoring_policy(model), args.eval_episodes)
    env.close()
    print(f"held-out users, {args.eval_episodes} episodes: return {np.mean(returns):.1f} ± {np.std(returns):.1f}")


if __name__ == "__main__":
    main()
