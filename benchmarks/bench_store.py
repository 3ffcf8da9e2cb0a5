"""Cost of storing feedback as a run grows: ``RunStore.add_feedback`` for N users of 10 items each.

Each user's feedback is one transaction numbered by a sequence (the export order of a resumed run).
The time per user should stay flat as the store grows.

    python benchmarks/bench_store.py [--users 1000 5000 10000] [--items 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lusifer.runs.store import RunStore


def measure(users: int, items: int, folder: Path) -> tuple[float, float]:
    """Seconds for all users, and ms per user over the last 10 % of them."""
    store = RunStore(folder)
    tail_from = int(users * 0.9)
    started = time.perf_counter()
    tail_started = started
    for user in range(users):
        if user == tail_from:
            tail_started = time.perf_counter()
        ratings = {f"{user}-{item}": item % 5 + 1 for item in range(items)}
        store.add_feedback(str(user), ratings, {}, dict.fromkeys(ratings, 3.0))
    finished = time.perf_counter()
    store.close()
    return finished - started, 1000 * (finished - tail_started) / max(users - tail_from, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--items", type=int, default=10)
    options = parser.parse_args()
    print("| users | add_feedback total | ms per user (last 10 %) |")
    print("|---|---|---|")
    for users in options.users:
        with tempfile.TemporaryDirectory() as folder:
            total, per_user = measure(users, options.items, Path(folder))
        print(f"| {users:,} | {total:.2f} s | {per_user:.3f} ms |")


if __name__ == "__main__":
    main()
