"""A run's cost as users grow (offline backend, synthetic ML-1M-shaped data), and ``lusifer estimate`` vs actual.

Default: for each N of ``--users``, write a synthetic dataset of N users shaped like ML-1M (3,706 movies,
at least 20 ratings per user and about 150 on average (ML-1M: 165), popular movies rated more, ML-1M's
mix of rating values, ``::`` files), then time ``lusifer run --dataset ml-1m --data-dir DIR --history 40
--test-items 10 --no-cache`` in a child process, and a ``--users 1`` run on the same data (the fixed
cost: loading and splitting the data). Reported per N: seconds per user (whole command), the marginal
seconds per user ((T(N) - T(1)) / (N - 1)), the same two figures in CPU time (the child's user + system
time, which stays meaningful on a shared machine), the child's peak RSS, store bytes per user and per call
(``run.sqlite`` after ``VACUUM INTO``), and the 1-minute load average when the run started and ended.

``--estimate``: ``lusifer estimate`` (uncalibrated, and calibrated on a ``--pilot``-user pilot run) against
the actual run, for the paper protocol (ML-100K + TMDB from ``../shared``) and synthetic ML-1M (6,040
users): calls, prompt and completion tokens and $ at gpt-4o-mini's prices, through the real ``openai``
SDK against the fake server answering as ``bench_throughput.fake_model`` (no response cache).

    python benchmarks/bench_offline_scale.py [--users 1000 6000 20000 60000]
    python benchmarks/bench_offline_scale.py --estimate [--pilot 20]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

MOVIES = 3706
RATING_MIX = [0.056, 0.108, 0.261, 0.349, 0.226]


def write_synthetic(folder: Path, users: int, seed: int = 0) -> int:
    """ML-1M-shaped ``::`` files for ``users`` users; returns the number of ratings written."""
    rng = np.random.default_rng(seed)
    counts = 20 + np.minimum(rng.geometric(1 / 170, size=users), 2000)
    owners = np.repeat(np.arange(1, users + 1), counts)
    popularity = 1.0 / np.arange(1, MOVIES + 1) ** 0.8
    movies = rng.choice(np.arange(1, MOVIES + 1), size=len(owners), p=popularity / popularity.sum())
    pairs = np.unique(owners.astype(np.int64) * (MOVIES + 1) + movies)
    ratings = pd.DataFrame(
        {
            "user": pairs // (MOVIES + 1),
            "movie": pairs % (MOVIES + 1),
            "rating": rng.choice(np.arange(1, 6), size=len(pairs), p=RATING_MIX),
            "timestamp": rng.integers(956_703_932, 1_046_454_590, size=len(pairs)),
        }
    ).sort_values(["user", "timestamp"], kind="stable")
    (folder / "ratings.dat").write_bytes(
        ratings.to_csv(sep="\t", header=False, index=False).replace("\t", "::").encode()
    )
    ages, occupations = np.array([1, 18, 25, 35, 45, 50, 56]), np.arange(21)
    lines = [
        f"{user}::{'MF'[user % 2]}::{rng.choice(ages)}::{rng.choice(occupations)}::{10000 + user}"
        for user in range(1, users + 1)
    ]
    (folder / "users.dat").write_text("\n".join(lines) + "\n", encoding="latin-1")
    genres = ["Action", "Comedy", "Drama", "Thriller", "Romance", "Sci-Fi"]
    titles = [f"{m}::Movie {m} ({1919 + m % 82})::{genres[m % 6]}|{genres[(m * 7) % 6]}" for m in range(1, MOVIES + 1)]
    (folder / "movies.dat").write_text("\n".join(titles) + "\n", encoding="latin-1")
    return len(pairs)


def timed_run(data: Path, out: Path, *extra: str) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS bytes, load average at its start and end) of one ``lusifer run`` child.

    CPU seconds are the child's user plus system time (``wait4``'s rusage): unlike wall time they hardly
    change when other work shares the cores.
    """
    load = f"{os.getloadavg()[0]:.1f}"
    command = [sys.executable, "-m", "lusifer", "run", "--no-progress", "--no-cache", "--dataset", "ml-1m"]
    command += ["--data-dir", str(data), "--history", "40", "--test-items", "10", "--out", str(out), *extra]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed ({status})")
    load += f"-{os.getloadavg()[0]:.1f}"
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, load


def store_bytes(out: Path) -> tuple[int, int, int]:
    """(bytes of the store compacted, users, exchanges)."""
    compacted = out.parent / f"{out.name}.vacuumed"
    database = sqlite3.connect(out / "run.sqlite")
    database.execute("VACUUM INTO ?", (str(compacted),))
    users = database.execute("SELECT COUNT(*) FROM users").fetchone()[0]
    exchanges = database.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
    database.close()
    size = compacted.stat().st_size
    compacted.unlink()
    return size, users, exchanges


def scale(sizes: list[int]) -> None:
    print("| users | ratings | s per user (whole run) | marginal s per user | CPU per user (whole run) | ", end="")
    print("marginal CPU per user | fixed (--users 1) | fixed CPU | peak RSS | store bytes per user | per call | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / "data").mkdir()
            ratings = write_synthetic(root / "data", size)
            fixed, fixed_cpu, _, _ = timed_run(root / "data", root / "one", "--users", "1")
            elapsed, cpu, rss, load = timed_run(root / "data", root / "all")
            stored, users, exchanges = store_bytes(root / "all")
            print(
                f"| {users:,} | {ratings:,} | {elapsed / users * 1000:.2f} ms | "
                f"{(elapsed - fixed) / max(users - 1, 1) * 1000:.2f} ms | {cpu / users * 1000:.2f} ms | "
                f"{(cpu - fixed_cpu) / max(users - 1, 1) * 1000:.2f} ms | {fixed:.1f} s | {fixed_cpu:.1f} s | "
                f"{rss / 2**20:,.0f} MiB | "
                f"{stored / users:,.0f} | {stored / exchanges:,.0f} | {load} |",
                flush=True,
            )


def compare_estimates(pilot_users: int) -> None:
    from bench_throughput import fake_model, paper_config

    from lusifer.kernel.settings import load_config
    from lusifer.runs.estimate import estimate_run
    from lusifer.runs.estimate_calibration import calibration_from_store
    from lusifer.runs.runner import run_simulation
    from lusifer.runs.session import plan_run
    from lusifer.runs.store import RunStore
    from lusifer.testing.fake_servers import FakeOpenAIServer

    print("| data | estimate | calls | prompt tokens | completion tokens | $ | load |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder, FakeOpenAIServer(fake_model([]), latency=0.02) as server:
        root = Path(folder)
        (root / "ml-1m").mkdir()
        write_synthetic(root / "ml-1m", 6040)

        def paper(out: str, users: int | None) -> Any:
            config = paper_config(server.base_url, 64, root / out, root / "cache.sqlite", users or 10**6)
            return _model(config.model_copy(update={"cache": config.cache.model_copy(update={"enabled": False})}))

        def ml_1m(out: str, users: int | None) -> Any:
            settings = {
                "dataset": "ml-1m",
                "data": {"path": root / "ml-1m", "history": 40, "test_items": 10},
                "backend": {"name": "openai", "base_url": server.base_url, "max_concurrency": 64, "timeout": 30.0},
                "run": {"out": root / out, "users": users, "concurrency": 256},
                "cache": {"enabled": False},
            }
            return _model(load_config(None, settings, environ={}))

        for name, configured in (("paper protocol", paper), ("synthetic ML-1M", ml_1m)):
            load = f"{os.getloadavg()[0]:.1f}"
            run_simulation(configured(f"{name}-pilot", pilot_users))
            full = configured(name, None)
            run_simulation(full)
            actual = RunStore(root / name).exchange_totals()
            plan = plan_run(full)
            calibration = calibration_from_store(root / f"{name}-pilot", full.backend.model)
            estimates = {
                "uncalibrated": estimate_run(full, plan),
                f"calibrated on {pilot_users} users": estimate_run(full, plan, calibration),
            }
            print(
                f"| {name} | actual | {actual['exchanges']:,} | {actual['prompt_tokens']:,} | "
                f"{actual['completion_tokens']:,} | {actual['cost_usd']:.4f} | {load} |"
            )
            for label, estimate in estimates.items():
                figures = [
                    (estimate.calls, actual["exchanges"]),
                    (estimate.prompt_tokens, actual["prompt_tokens"]),
                    (estimate.completion_tokens, actual["completion_tokens"]),
                ]
                cells = [f"{value:,} ({_off(value, truth)})" for value, truth in figures]
                cells.append(f"{estimate.cost_usd:.4f} ({_off(estimate.cost_usd, actual['cost_usd'])})")
                print(f"| {name} | {label} | {' | '.join(cells)} | |", flush=True)


def _model(config: Any) -> Any:
    """``config`` asking for gpt-4o-mini (priced), which the fake server answers like any model."""
    return config.model_copy(update={"backend": config.backend.model_copy(update={"model": "gpt-4o-mini"})})


def _off(estimated: float, actual: float) -> str:
    return f"{100 * (estimated / actual - 1):+.1f} %" if actual else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1000, 6000, 20000, 60000])
    parser.add_argument("--estimate", action="store_true", help="compare lusifer estimate with actual runs")
    parser.add_argument("--pilot", type=int, default=20, help="users of the calibrating pilot run")
    arguments = parser.parse_args()
    if arguments.estimate:
        compare_estimates(arguments.pilot)
    else:
        scale(arguments.users)


if __name__ == "__main__":
    main()
