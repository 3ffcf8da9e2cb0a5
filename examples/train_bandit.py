"""Train a LinUCB contextual bandit against simulated users; compare it with random and popularity.

Offline (no key, no network beyond the dataset download; about 15 seconds)::

    python examples/train_bandit.py --data-dir ../shared/data/ml-100k

The same experiment against an LLM: change the backend (and keep the episode count small; every step
is one or two LLM calls)::

    python examples/train_bandit.py --data-dir ../shared/data/ml-100k --backend openai --model gpt-4o-mini \
        --episodes 20

Every agent sees the same users in the same order (episode ``e`` resets with seed ``seed + e``) and
never recommends an item its user already consumed. The script prints a summary table and saves a
plot of the episode returns (moving average) to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # LinUCB's small matrices run fastest on one thread

import gymnasium as gym
import numpy as np

import lusifer.envs  # noqa: F401  (registers lusifer/MovieLens-v0)


class Agent(ABC):
    """Recommends ``k`` candidate indices among those not masked out; may learn from the feedback."""

    name = "agent"

    @abstractmethod
    def act(self, obs: dict[str, np.ndarray], allowed: np.ndarray, k: int) -> np.ndarray:
        """Indices of the ``k`` candidates to recommend, among the ``allowed`` ones."""

    def learn(self, info: dict[str, Any], candidate_index: dict[str, int]) -> None:
        """Update from one step's per-item feedback (``info["feedback"]``: item id -> rating)."""


class RandomAgent(Agent):
    name = "random"

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def act(self, obs: dict[str, np.ndarray], allowed: np.ndarray, k: int) -> np.ndarray:
        return self.rng.choice(np.flatnonzero(allowed), size=k, replace=False)


class PopularityAgent(Agent):
    """The most-rated candidates of the training slice, the same for every user."""

    name = "popularity"

    def __init__(self, counts: np.ndarray) -> None:
        self.order = np.argsort(-counts, kind="stable")

    def act(self, obs: dict[str, np.ndarray], allowed: np.ndarray, k: int) -> np.ndarray:
        return self.order[allowed[self.order]][:k]


class LinUCBAgent(Agent):
    """LinUCB with one linear model shared by all items (Li et al., 2010), on features of the pair
    (user's observation, item): profile x item text, user x item text, recent taste x item text, and
    the item's popularity and community mean. Ranks by upper confidence bound."""

    name = "linucb"

    def __init__(
        self, item_vectors: np.ndarray, item_stats: np.ndarray, alpha: float, pad: int, catalogue_vectors: np.ndarray
    ) -> None:
        self.items = item_vectors
        self.stats = item_stats
        self.catalogue = catalogue_vectors
        self.pad = pad
        self.alpha = alpha
        dim = 3 * item_vectors.shape[1] + item_stats.shape[1]
        self.inverse = np.eye(dim)
        self.weighted = np.zeros(dim)
        self._features: np.ndarray | None = None

    def _taste(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        real = obs["recent_items"] != self.pad
        if not real.any():
            return np.zeros(self.catalogue.shape[1])
        ratings = obs["recent_ratings"][real]
        return (ratings - ratings.mean()) @ self.catalogue[obs["recent_items"][real]]

    def act(self, obs: dict[str, np.ndarray], allowed: np.ndarray, k: int) -> np.ndarray:
        self._features = np.hstack(
            [self.items * obs["profile"], self.items * obs["user"], self.items * self._taste(obs), self.stats]
        )
        theta = self.inverse @ self.weighted
        spread = np.sqrt(np.maximum(((self._features @ self.inverse) * self._features).sum(axis=1), 0.0))
        scores = np.where(allowed, self._features @ theta + self.alpha * spread, -np.inf)
        return np.argsort(-scores, kind="stable")[:k]

    def learn(self, info: dict[str, Any], candidate_index: dict[str, int]) -> None:
        assert self._features is not None
        for item_id, rating in info["feedback"].items():
            x = self._features[candidate_index[item_id]]
            shared = self.inverse @ x  # Sherman-Morrison update of (A + x x^T)^-1
            self.inverse -= np.outer(shared, shared) / (1.0 + x @ shared)
            self.weighted += rating * x


def run_agent(env: gym.Env, agent: Agent, episodes: int, seed: int) -> tuple[list[float], dict[str, float]]:
    """Episode returns of ``agent`` (episode ``e`` starts with ``reset(seed=seed + e)``) and the LLM
    calls, tokens and cost they took."""
    recommender = env.unwrapped
    candidates = recommender.catalogue.candidate_ids
    candidate_index = {item_id: position for position, item_id in enumerate(candidates)}
    k = recommender.action_space.shape[0]
    returns = []
    usage = dict.fromkeys(("calls", "prompt_tokens", "completion_tokens", "cost_usd"), 0.0)
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        for key in usage:
            usage[key] += info[key]
        consumed = {entry.item_id for entry in recommender.user.history}
        allowed = np.array([item_id not in consumed for item_id in candidates])
        total, done = 0.0, False
        while not done:
            slate = agent.act(obs, allowed, k)
            obs, reward, terminated, truncated, info = env.step(slate)
            agent.learn(info, candidate_index)
            allowed[slate] = False
            total += float(reward)
            done = terminated or truncated
            for key in usage:
                usage[key] += info[key]
        returns.append(total)
    return returns, usage


def moving_average(values: list[float], window: int) -> np.ndarray:
    """Mean of the last ``window`` values at every position (fewer at the start)."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="offline", help="offline (default), openai, anthropic, ...")
    parser.add_argument("--model", default=None)
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=None, help="unpacked ml-100k (default: download)")
    parser.add_argument("--enrich-file", type=Path, default=None, help="TMDB text CSV (optional)")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--steps", type=int, default=10, help="steps per episode")
    parser.add_argument("--slate-size", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=300, help="the M most-rated items (0: all)")
    parser.add_argument("--reward", default="liked_count", choices=["liked_count", "mean_rating"])
    parser.add_argument("--alpha", type=float, default=0.5, help="LinUCB exploration weight")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bandit.png"))
    args = parser.parse_args()

    env = gym.make(
        "lusifer/MovieLens-v0",
        backend=args.backend,
        model=args.model,
        base_url=args.base_url,
        data_dir=args.data_dir,
        enrich_file=args.enrich_file,
        candidates=args.candidates or None,
        slate_size=args.slate_size,
        max_steps=args.steps,
        reward=args.reward,
        seed=args.seed,
    )
    catalogue = env.unwrapped.catalogue
    encoder = env.unwrapped.encoder
    texts = [f"{catalogue.texts[i].title}. {catalogue.texts[i].item_info}" for i in catalogue.item_ids]
    catalogue_vectors = encoder.encode(texts)
    unseen = {"count": 0, "mean": 3.0}
    community = [catalogue.community.get(item_id, unseen) for item_id in catalogue.candidate_ids]
    counts = np.array([item["count"] for item in community], dtype=float)
    means = np.array([item["mean"] for item in community], dtype=float)
    item_stats = np.column_stack([np.ones_like(counts), np.log1p(counts) / np.log1p(counts.max()), (means - 3) / 2])
    agents: list[Agent] = [
        RandomAgent(np.random.default_rng(args.seed)),
        PopularityAgent(counts),
        LinUCBAgent(
            catalogue_vectors[catalogue.candidate_index],
            item_stats,
            args.alpha,
            len(catalogue.item_ids),
            catalogue_vectors,
        ),
    ]
    results: dict[str, list[float]] = {}
    usages: dict[str, dict[str, float]] = {}
    for agent in agents:
        start = time.perf_counter()
        results[agent.name], usages[agent.name] = run_agent(env, agent, args.episodes, args.seed)
        print(f"{agent.name}: {args.episodes} episodes in {time.perf_counter() - start:.1f} s")
    env.close()

    tail = max(1, args.episodes // 4)
    print(f"\n| agent | mean return (all {args.episodes}) | mean return (last {tail}) | LLM calls | tokens | cost $ |")
    print("|---|---|---|---|---|---|")
    for name, returns in results.items():
        usage = usages[name]
        tokens = usage["prompt_tokens"] + usage["completion_tokens"]
        print(
            f"| {name} | {np.mean(returns):.2f} | {np.mean(returns[-tail:]):.2f} | {usage['calls']:.0f} "
            f"| {tokens:,.0f} | {usage['cost_usd']:.4f} |"
        )
    save_plot(results, args, min(20, args.episodes))
    print(f"\nplot: {args.out}")


def save_plot(results: dict[str, list[float]], args: argparse.Namespace, window: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for name, returns in results.items():
        axis.plot(np.arange(1, len(returns) + 1), moving_average(returns, window), label=name)
    axis.set_xlabel("episode")
    axis.set_ylabel(f"return ({args.reward}, moving average of {window})")
    axis.set_title(f"Slate recommendation against simulated users ({args.backend} backend)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.out, dpi=120)


if __name__ == "__main__":
    main()
