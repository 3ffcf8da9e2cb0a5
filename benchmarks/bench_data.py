"""Time the data layer: ML-100K (shared copy) and a synthetic ML-1M-shaped dataset.

Run ``python benchmarks/bench_data.py``; prints a markdown table. The ML-100K rows need
``../shared/data/ml-100k`` beside the repository (skipped otherwise); the ML-1M rows generate 6,040
users, 3,706 movies and 1,000,209 ratings in the official ``::`` format into a temporary folder.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from lusifer.api.settings import DataConfig
from lusifer.domains.movies.domain import MoviesDomain
from lusifer.domains.movies.loading import clear_cache
from lusifer.engine import selection

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ML_1M_SHAPE = (6040, 3706, 1_000_209)
REPEATS = 5
T = TypeVar("T")


def timed(label: str, work: Callable[[], object], rows: list[tuple[str, float]], cold: bool = False) -> object:
    """Run ``work`` REPEATS times (clearing the load cache first when ``cold``); record the median."""
    seconds = []
    for _ in range(REPEATS):
        if cold:
            clear_cache()
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    rows.append((label, statistics.median(seconds)))
    return result


def bench_100k(rows: list[tuple[str, float]]) -> None:
    folder, enrich = SHARED / "ml-100k", SHARED / "tmdb" / "ml-100k-tmdb.csv"
    if not (folder / "u.data").is_file():
        print(f"(ML-100K rows skipped: {folder} not found)", file=sys.stderr)
        return
    domain = MoviesDomain()
    config = DataConfig(path=folder, enrich_file=enrich if enrich.is_file() else None, require_text=True)
    data = timed("ML-100K load (+ TMDB text), cold", lambda: domain.load("ml-100k", config), rows, cold=True)
    timed("ML-100K load, cached", lambda: domain.load("ml-100k", config), rows)
    split = timed("ML-100K split u1 (official files)", lambda: domain.split(data, "u1", 0), rows)
    timed("ML-100K last-40 history of u1.base", lambda: selection.last_n(split.train, 40), rows)
    timed(
        "ML-100K protocol slices (40 / 10 / text)",
        lambda: selection.protocol_slices(split, data.items, config),
        rows,
    )


def write_synthetic_1m(folder: Path, seed: int = 0) -> None:
    """A dataset shaped like ML-1M in its ``::`` files: unique (user, movie) pairs, real code values."""
    users, movies, count = ML_1M_SHAPE
    rng = np.random.default_rng(seed)
    pairs = rng.choice(users * movies, size=count, replace=False)
    ratings = pd.DataFrame(
        {
            "user": pairs // movies + 1,
            "movie": pairs % movies + 1,
            "rating": rng.choice(np.arange(1, 6), size=count, p=[0.056, 0.108, 0.261, 0.349, 0.226]),
            "timestamp": rng.integers(956_703_932, 1_046_454_590, size=count),
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
    lines = [f"{m}::Movie {m} ({1919 + m % 82})::{genres[m % 6]}|{genres[(m * 7) % 6]}" for m in range(1, movies + 1)]
    (folder / "movies.dat").write_text("\n".join(lines) + "\n", encoding="latin-1")


def bench_1m(rows: list[tuple[str, float]]) -> None:
    domain = MoviesDomain()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        start = time.perf_counter()
        write_synthetic_1m(folder)
        rows.append(("synthetic ML-1M: generate + write files (once)", time.perf_counter() - start))
        config = DataConfig(path=folder)
        data = timed("synthetic ML-1M load, cold", lambda: domain.load("ml-1m", config), rows, cold=True)
        shape = (len(data.users), len(data.items), len(data.ratings))
        assert shape == ML_1M_SHAPE, shape
        split = timed("synthetic ML-1M seeded 5-fold split (fold 1)", lambda: domain.split(data, "1", 0), rows)
        timed("synthetic ML-1M last-40 history", lambda: selection.last_n(split.train, 40), rows)
        timed(
            "synthetic ML-1M protocol slices (40 / 10)",
            lambda: selection.protocol_slices(split, data.items, config),
            rows,
        )


def main() -> None:
    rows: list[tuple[str, float]] = []
    bench_100k(rows)
    bench_1m(rows)
    print(f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}, {platform.machine()}")
    print(f"median of {REPEATS} runs (the generate row: one run)\n")
    print("| step | ms |\n| --- | ---: |")
    for label, seconds in rows:
        print(f"| {label} | {seconds * 1000:,.1f} |")


if __name__ == "__main__":
    main()
