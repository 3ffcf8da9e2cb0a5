"""Agents against simulated users, evaluated on users they never trained on.

Run ``python benchmarks/bench_rl.py`` (needs the RL extra; about 15 CPU minutes with the default budgets,
``--quick`` for a smoke run; ``--agents baselines,linucb,scores`` runs a subset). Prints a markdown table and
writes a learning-curve plot (``--plot``).

Setting: ``lusifer/MovieLens-v0`` with the offline backend on the shared ML-100K, the 300 most-rated
candidates, K=5, ``liked_count`` with ``threshold=5`` (loved items), 10 steps per episode. (With the
default threshold 4 there is no headroom: top-community-mean and the oracle both score 50 of 50.) Users are
split once, ``user_split=(part, 0.8, seed)`` (``--seed``, default 0): learning agents train on the ``train``
part; every agent is evaluated on the same 50 episodes of ``test`` users (episode ``e`` resets with seed ``1000 + e``).

- random: K distinct random unconsumed candidates; popularity: the K most-rated unconsumed ones;
  top-community-mean: the K unconsumed ones with the highest training-slice mean (no learning);
- per-user oracle: asks the simulated user to rate every unconsumed candidate before each step and shows
  the K best (greedy; an upper bound for a non-anticipating recommender);
- LinUCB (``examples/train_bandit.py``): trained on ``train`` users, keeps learning while evaluated;
- LinUCB on candidate features (``--agents features``): one linear model over the ``candidates`` columns,
  fitted on every rated item, trained on ``train`` users, evaluated with exploration off;
- hand-set feature weights: the ``scores`` action with fixed weights (1, 0, 0.6, 0.25, 0) over the
  ``candidates`` columns (no learning: what the features allow);
- PPO scoring (``examples/train_ppo_scores.py``): SB3's PPO with ``actions="scores"``, learning those weights;
- MaskablePPO / PPO (``examples/train_maskable_ppo.py``) and DQN with one item per step
  (``examples/train_dqn.py``; its rows have their own K=1 baselines).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "examples"))

from train_bandit import LinUCBAgent  # noqa: E402
from train_dqn import item_settings, train_dqn  # noqa: E402
from train_maskable_ppo import EVAL_SEED, evaluate, model_policy, split, train_maskable_ppo  # noqa: E402
from train_ppo_scores import scoring_policy, train_scoring_ppo  # noqa: E402

from lusifer.envs.features import FEATURE_NAMES, top_scored  # noqa: E402
from lusifer.envs.recommender import RecommenderEnv  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "ml-100k"
SETTINGS = {
    "backend": "offline",
    "data_dir": DATA,
    "candidates": 300,
    "slate_size": 5,
    "max_steps": 10,
    "reward": "liked_count",
    "threshold": 5,
    "seed": 0,
}
#: The agent groups ``--agents`` may name.
AGENTS = ("baselines", "linucb", "features", "scores", "maskable", "dqn")
#: Fixed weights over the ``candidates`` columns: item level, popularity, genre and keyword affinity, eligible.
HAND_WEIGHTS = np.array([1.0, 0.0, 0.6, 0.25, 0.0])


def weighted_policy(weights: np.ndarray) -> Any:
    """The K eligible candidates with the highest weighted feature sum (for a slate-action environment)."""

    def act(obs: dict[str, np.ndarray], env: RecommenderEnv) -> Any:
        return top_scored(obs["candidates"], weights, obs["eligible"], env.core.slate_size)

    return act


def ranked_policy(scores: np.ndarray) -> Any:
    """The K eligible candidates with the highest ``scores``."""
    order = np.argsort(-scores, kind="stable")

    def act(obs: dict[str, np.ndarray], env: RecommenderEnv) -> Any:
        picked = order[obs["eligible"][order] == 1][: env.core.slate_size]
        return int(picked[0]) if env.core.actions == "item" else picked

    return act


def random_policy(seed: int) -> Any:
    rng = np.random.default_rng(seed)

    def act(obs: dict[str, np.ndarray], env: RecommenderEnv) -> Any:
        picked = rng.choice(np.flatnonzero(obs["eligible"]), env.core.slate_size, replace=False)
        return int(picked[0]) if env.core.actions == "item" else picked

    return act


def oracle_policy(obs: dict[str, np.ndarray], env: RecommenderEnv) -> Any:
    """Rate every eligible candidate with the user's current state; recommend the K best."""
    core, user = env.core, env.user
    eligible = np.flatnonzero(obs["eligible"])
    ids = [core.catalogue.candidate_ids[index] for index in eligible]
    ratings = core.run(core.simulator.rate(user, ids)).ratings
    community = core.catalogue.community
    order = sorted(range(len(ids)), key=lambda j: (-ratings.get(ids[j], -1), -community[ids[j]]["mean"]))
    picked = eligible[order[: core.slate_size]]
    return int(picked[0]) if core.actions == "item" else picked


def linucb(train: RecommenderEnv, test: RecommenderEnv, episodes: int) -> tuple[list[float], float]:
    """LinUCB trained for ``episodes`` episodes on ``train`` users, then evaluated (still learning)."""
    catalogue, encoder = train.catalogue, train.encoder
    texts = [f"{catalogue.texts[i].title}. {catalogue.texts[i].item_info}" for i in catalogue.item_ids]
    vectors = encoder.encode(texts)
    counts = np.array([catalogue.community[i]["count"] for i in catalogue.candidate_ids], dtype=float)
    means = np.array([catalogue.community[i]["mean"] for i in catalogue.candidate_ids], dtype=float)
    stats = np.column_stack([np.ones_like(counts), np.log1p(counts) / np.log1p(counts.max()), (means - 3) / 2])
    agent = LinUCBAgent(vectors[catalogue.candidate_index], stats, 0.5, len(catalogue.item_ids), vectors)
    index = {item: position for position, item in enumerate(catalogue.candidate_ids)}

    def act(obs: dict[str, np.ndarray], env: RecommenderEnv) -> Any:
        return agent.act(obs, obs["eligible"].astype(bool), env.core.slate_size)

    def learning(env: RecommenderEnv, count: int, seed: int) -> list[float]:
        returns = []
        for episode in range(count):
            obs, _ = env.reset(seed=seed + episode)
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, info = env.step(act(obs, env))
                agent.learn(info, index)
                total, done = total + float(reward), terminated or truncated
            returns.append(total)
        return returns

    began = time.perf_counter()
    learning(train, episodes, 0)
    return learning(test, 50, EVAL_SEED), time.perf_counter() - began


def feature_bandit(
    train: RecommenderEnv, test: RecommenderEnv, episodes: int, alpha: float = 0.5
) -> tuple[list[float], float]:
    """LinUCB over the ``candidates`` features: one linear model of "this item is liked" shared by all
    users (the features are personal), fitted on every rated item of a slate; trained for ``episodes``
    episodes on ``train`` users, then evaluated on ``test`` users with exploration off (still learning)."""
    columns = [FEATURE_NAMES.index(name) for name in FEATURE_NAMES if name != "eligible"]
    dimension = len(columns) + 1
    gram, target = np.eye(dimension), np.zeros(dimension)
    threshold = train.core.threshold
    position = {item: index for index, item in enumerate(train.catalogue.candidate_ids)}

    def design(obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.column_stack([np.ones(len(obs["eligible"])), obs["candidates"][:, columns]])

    def act(obs: dict[str, np.ndarray], env: RecommenderEnv, explore: float) -> np.ndarray:
        rows, inverse = design(obs), np.linalg.inv(gram)
        bonus = np.sqrt(np.einsum("ij,jk,ik->i", rows, inverse, rows))
        scores = rows @ (inverse @ target) + explore * bonus
        return top_scored(scores[:, None], np.ones(1), obs["eligible"], env.core.slate_size)

    def run(env: RecommenderEnv, count: int, seed: int, explore: float) -> list[float]:
        nonlocal gram, target
        returns = []
        for episode in range(count):
            obs, _ = env.reset(seed=seed + episode)
            total, done = 0.0, False
            while not done:
                rows = design(obs)
                obs, reward, terminated, truncated, info = env.step(act(obs, env, explore))
                for item, rating in info["feedback"].items():
                    features = rows[position[item]]
                    gram = gram + np.outer(features, features)
                    target = target + float(rating >= threshold) * features
                total, done = total + float(reward), terminated or truncated
            returns.append(total)
        return returns

    began = time.perf_counter()
    run(train, episodes, 0, alpha)
    return run(test, 50, EVAL_SEED, 0.0), time.perf_counter() - began


def row(name: str, returns: list[float], budget: str, seconds: float) -> str:
    return f"| {name} | {np.mean(returns):.1f} ± {np.std(returns):.1f} | {budget} | {seconds:.0f} |"


def plot(curves: dict[str, list[tuple[int, float]]], lines: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for name, points in curves.items():
        if points:
            steps, values = zip(*points)
            axes.plot(steps, values, label=f"{name} (training users, last 20 episodes)")
    for (name, value), style in zip(lines.items(), (":", "--", "-.", ":")):
        axes.axhline(value, linestyle=style, color="grey", label=f"{name} (held-out users)")
        axes.annotate(name, (0, value), fontsize=7, va="bottom")
    axes.set_xlabel("training steps")
    axes.set_ylabel("episode return (5-star items, max 50)")
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ppo-steps", type=int, default=30_000)
    parser.add_argument("--scores-steps", type=int, default=24_000, help="PPO steps with the scores action")
    parser.add_argument(
        "--agents",
        default=",".join(AGENTS),
        help=f"comma-separated subset of {', '.join(AGENTS)} (the non-learning baselines always run)",
    )
    parser.add_argument("--dqn-steps", type=int, default=20_000)
    parser.add_argument("--linucb-episodes", type=int, default=300)
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="user split and training seed (another: other test users)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny budgets (a smoke run)")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "images" / "rl-learning-curve.png")
    args = parser.parse_args()
    if args.quick:
        args.ppo_steps, args.dqn_steps, args.linucb_episodes, args.scores_steps = 1024, 600, 10, 1024
    agents = set(args.agents.split(","))
    if agents - set(AGENTS):
        parser.error(f"--agents: unknown {', '.join(sorted(agents - set(AGENTS)))}")

    test = RecommenderEnv(user_split=split("test", args.seed), **SETTINGS)
    train = RecommenderEnv(user_split=split("train", args.seed), **SETTINGS)
    catalogue = test.catalogue
    counts = np.array([catalogue.community[i]["count"] for i in catalogue.candidate_ids], dtype=float)
    means = np.array([catalogue.community[i]["mean"] for i in catalogue.candidate_ids], dtype=float)
    rows, results, curves = [], {}, {}

    def timed(name: str, policy: Any, env: RecommenderEnv = test) -> None:
        began = time.perf_counter()
        results[name] = evaluate(env, policy, 50)
        rows.append(row(name, results[name], "—", time.perf_counter() - began))

    timed("random", random_policy(0))
    timed("popularity", ranked_policy(counts))
    timed("top-community-mean", ranked_policy(means + 1e-6 * counts / counts.max()))
    timed("per-user oracle", oracle_policy)
    if "linucb" in agents:
        returns, seconds = linucb(train, test, args.linucb_episodes)
        results["LinUCB"] = returns
        rows.append(row("LinUCB", returns, f"{args.linucb_episodes} training episodes", seconds))
    if "features" in agents:
        returns, seconds = feature_bandit(train, test, args.linucb_episodes)
        results["LinUCB on candidate features"] = returns
        budget = f"{args.linucb_episodes} training episodes"
        rows.append(row("LinUCB on candidate features", returns, budget, seconds))
    if "scores" in agents:
        timed("hand-set feature weights (no learning)", weighted_policy(HAND_WEIGHTS))
        began = time.perf_counter()
        model, curves["PPO scoring"] = train_scoring_ppo(SETTINGS, args.envs, args.scores_steps, args.seed)
        scoring_test = RecommenderEnv(user_split=split("test", args.seed), actions="scores", **SETTINGS)
        results["PPO scoring"] = evaluate(scoring_test, scoring_policy(model), 50)
        scoring_test.close()
        budget = f"{args.scores_steps:,} steps, {args.envs} envs"
        rows.append(
            row('PPO scoring (`actions="scores"`)', results["PPO scoring"], budget, time.perf_counter() - began)
        )
    for name, masked in (("MaskablePPO", True), ("PPO (no mask)", False)) if "maskable" in agents else ():
        began = time.perf_counter()
        model, curves[name] = train_maskable_ppo(SETTINGS, args.envs, args.ppo_steps, args.seed, masked=masked)
        results[name] = evaluate(test, model_policy(model, masked), 50)
        rows.append(
            row(name, results[name], f"{args.ppo_steps:,} steps, {args.envs} envs", time.perf_counter() - began)
        )
    train.close()
    test.close()
    report(rows, results, curves, args.plot)
    if "dqn" in agents:
        report(*dqn_rows(args, means, counts), args.plot.with_name(args.plot.stem + "-dqn.png"))


def dqn_rows(
    args: argparse.Namespace, means: np.ndarray, counts: np.ndarray
) -> tuple[list[str], dict[str, list[float]], dict[str, Any]]:
    """The K=1 rows: their own baselines and DQN with one item per step."""
    rows: list[str] = []
    results: dict[str, list[float]] = {}

    def timed(name: str, policy: Any, env: RecommenderEnv) -> None:
        began = time.perf_counter()
        results[name] = evaluate(env, policy, 50)
        rows.append(row(name, results[name], "—", time.perf_counter() - began))

    single = item_settings(DATA, 300, 10, 0, threshold=SETTINGS["threshold"])
    single_test = RecommenderEnv(user_split=split("test", args.seed), **single)
    timed("K=1: random", random_policy(0), single_test)
    timed("K=1: top-community-mean", ranked_policy(means + 1e-6 * counts / counts.max()), single_test)
    timed("K=1: per-user oracle", oracle_policy, single_test)
    began = time.perf_counter()
    model, curve = train_dqn(single, args.dqn_steps, args.seed)
    results["K=1: DQN"] = evaluate(single_test, lambda obs, _env: int(model.predict(obs, deterministic=True)[0]), 50)
    rows.append(row("K=1: DQN", results["K=1: DQN"], f"{args.dqn_steps:,} steps", time.perf_counter() - began))
    single_test.close()
    return rows, results, {"DQN (K=1)": curve}


def report(rows: list[str], results: dict[str, list[float]], curves: dict[str, Any], path: Path) -> None:
    """Print the table and each learner's share of the top-community-mean → oracle gap; plot the curves."""
    print("| agent | return on held-out users (mean ± std, 50 episodes) | training budget | wall s |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    top, best = (np.mean(results.get(key, [np.nan])) for key in ("top-community-mean", "per-user oracle"))
    for name in results:
        if name in ("LinUCB", "MaskablePPO", "PPO (no mask)", "PPO scoring") or "hand-set" in name:
            share = (np.mean(results[name]) - top) / (best - top) if best > top else float("nan")
            print(f"{name}: closes {share:.0%} of the gap between top-community-mean and the oracle")
    if any(curves.values()):
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [key for key in ("random", "top-community-mean", "per-user oracle") if key in results]
        plot(curves, {key: float(np.mean(results[key])) for key in lines}, path)
        print(f"learning curves: {path}")


if __name__ == "__main__":
    main()
