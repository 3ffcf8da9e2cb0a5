"""Time the RL environment: its own per-step overhead, and one batched vector step against a slow LLM.

Run ``python benchmarks/bench_env.py``; prints markdown tables.

1. Offline backend on an ML-1M-sized catalogue (synthetic, generated in the official ``::`` format into a
   temporary folder: 6,040 users, 3,706 movies, 1,000,209 ratings, with a skewed number of ratings per
   user so that some users have more than 400 training ratings). Per step: the total; the time inside the
   backend's ``acomplete`` (the offline model's own compute); the overhead, total minus backend, split into
   simulator & call layer (prompt rendering, validation, retry machinery) and the environment itself
   (event loop, slate checks, observation, profile re-encoding); and one observation build alone — for
   histories of N=40 and N=400 (the most active user, who has more than 400).
2. ``RecommenderVectorEnv`` with N=8 users against the fake OpenAI server answering after a fixed 300 ms:
   wall time per step, in latencies, against the time the same calls would take one after another.
3. Scaling (``--scaling`` runs only this; ``--users=32`` one size, overlapped only): N = 1, 8, 32 users with
   refreshes and autoresets, user-steps per second against the ideal N / latency, with refreshes overlapped
   and next users prepared, and without; the calls per step and the client's CPU time per call (this
   process and its workers). ``--workers=W`` (repeatable) adds rows with the sub-environments spread over
   W worker processes. ``--profile=FILE`` writes the ``cProfile`` statistics of this process during each row's
   timed steps to ``FILE-n<N>-w<W>`` (read them with ``pstats``; workers are not profiled). ``--gc-freeze``
   calls ``gc.freeze()`` in this process once the environment is built, as a training script that builds
   its environment once may (worker processes always do): the garbage collector's full passes then skip
   the data and libraries loaded so far.

The shared data folder is ``../shared`` beside the repository, or ``$LUSIFER_SHARED_DIR`` as for the tests.
"""

from __future__ import annotations

import contextlib
import cProfile
import gc
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lusifer.engine.backends.offline import OfflineBackend
from lusifer.engine.simulator import Simulator
from lusifer.envs.recommender import RecommenderEnv

ML_1M_SHAPE = (6040, 3706, 1_000_209)
GENRES = ("Action", "Adventure", "Comedy", "Drama", "Romance", "Sci-Fi", "Thriller", "Horror", "Crime", "War")
STEPS = 300  # in three timed blocks; the median block is reported
LATENCY = 0.3
VECTOR_USERS = 8
VECTOR_STEPS = 6


def write_synthetic_1m(folder: Path, seed: int = 0) -> None:
    """ML-1M's shape and file format; ratings per user follow a skewed (log-normal) law, min 20."""
    users, movies, count = ML_1M_SHAPE
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.1, users)
    per_user = np.minimum(20 + np.floor(activity / activity.sum() * (count - 20 * users)), movies).astype(int)
    for user in np.argsort(-activity):  # hand out the rounding remainder to the most active users
        if per_user.sum() == count:
            break
        per_user[user] += min(count - per_user.sum(), movies - per_user[user])
    popularity = 1.0 / (np.arange(movies) + 10.0) ** 0.8
    popularity /= popularity.sum()
    lines = []
    for user in range(users):
        items = rng.choice(movies, size=per_user[user], replace=False, p=popularity) + 1
        stars = np.clip(np.rint(rng.normal(3.6, 1.1, per_user[user])), 1, 5).astype(int)
        stamps = np.sort(rng.integers(956_703_932, 1_046_454_590, per_user[user]))
        lines.extend(f"{user + 1}::{i}::{r}::{t}" for i, r, t in zip(items, stars, stamps))
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n", encoding="latin-1")
    ages, occupations = (1, 18, 25, 35, 45, 50, 56), range(21)
    (folder / "users.dat").write_text(
        "".join(
            f"{u}::{'MF'[u % 2]}::{ages[u % 7]}::{occupations[u % 21]}::{10000 + u}\n" for u in range(1, users + 1)
        ),
        encoding="latin-1",
    )
    (folder / "movies.dat").write_text(
        "".join(
            f"{m}::Movie {m} ({1919 + m % 82})::{GENRES[m % 10]}|{GENRES[(m * 7) % 10]}\n" for m in range(1, movies + 1)
        ),
        encoding="latin-1",
    )


class Clock:
    """Accumulates the wall time spent inside some async methods (patched on their classes)."""

    def __init__(self, *methods: tuple[type, str]) -> None:
        self.seconds = 0.0
        self._originals = [(owner, name, getattr(owner, name)) for owner, name in methods]
        for owner, name, original in self._originals:
            setattr(owner, name, self._timed(original))

    def _timed(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed

    def restore(self) -> None:
        for owner, name, original in self._originals:
            setattr(owner, name, original)


def bench_offline(folder: Path, history: int) -> str:
    """One table row: the most active user's episode, ``STEPS`` random slates over the whole catalogue."""
    backend = Clock((OfflineBackend, "acomplete"))
    simulator = Clock((Simulator, "rate"), (Simulator, "observe"))
    env = RecommenderEnv(backend="offline", dataset="ml-1m", data_dir=folder, history=history, max_steps=None)
    try:
        core = env.core
        user = max(core.users, key=lambda name: (len(core.histories[name]), name))
        env.reset(seed=0, options={"user_id": user})
        start_length = len(env.user.history)
        rng = np.random.default_rng(0)
        actions = rng.integers(0, len(core.catalogue.candidate_ids), size=(STEPS + 20, core.slate_size))
        for action in actions[:20]:  # warm-up
            env.step(action)
        blocks = []
        for block in np.split(actions[20:], 3):
            backend.seconds = simulator.seconds = 0.0
            began = time.perf_counter()
            for action in block:
                env.step(action)
            elapsed = time.perf_counter() - began
            blocks.append(np.array([elapsed, backend.seconds, simulator.seconds]) / len(block))
        total, inside, simulated = sorted(blocks, key=lambda row: row[0])[1]  # the median block
        session = env._session
        assert session is not None
        observation = min(timeit.repeat(lambda: core.observe(session), number=1000, repeat=5)) / 1000
    finally:
        env.close()
        backend.restore()
        simulator.restore()
    return (
        f"| {history} | {start_length} | {total * 1e3:.3f} | {inside * 1e3:.3f} | {(total - inside) * 1e3:.3f} "
        f"| {(simulated - inside) * 1e3:.3f} | {(total - simulated) * 1e3:.3f} | {observation * 1e6:.1f} |"
    )


def bench_vector(data_dir: Path, refresh_every: int) -> str:
    """One table row: ``VECTOR_USERS`` users stepping together against the slow fake OpenAI server."""
    from lusifer.envs.vector import RecommenderVectorEnv
    from lusifer.kernel.settings import load_config
    from lusifer.testing.fake_servers import FakeOpenAIServer

    config = load_config(
        overrides={
            "cache": {"enabled": False},
            "backend": {"max_concurrency": VECTOR_USERS},
            "prices": {"fake-model": {"input": 0.0, "output": 0.0}},
        }
    )
    with FakeOpenAIServer(latency=LATENCY) as server:
        envs = RecommenderVectorEnv(
            VECTOR_USERS,
            backend="openai",
            model="fake-model",
            base_url=server.base_url,
            data_dir=data_dir,
            candidates=200,
            max_steps=None,
            refresh_every=refresh_every,
            config=config,
        )
        try:
            envs.reset(seed=0)
            envs.action_space.seed(0)
            server.max_in_flight, sent = 0, len(server.requests)
            began = time.perf_counter()
            for _ in range(VECTOR_STEPS):
                envs.step(envs.action_space.sample())
            step = (time.perf_counter() - began) / VECTOR_STEPS
        finally:
            envs.close()
        calls = (len(server.requests) - sent) / VECTOR_STEPS / VECTOR_USERS
        in_flight = server.max_in_flight
    return (
        f"| {refresh_every} | {VECTOR_USERS} | {LATENCY * 1e3:.0f} | {calls:.1f} | {step * 1e3:.0f} "
        f"| {step / LATENCY:.2f} | {calls * VECTOR_USERS * LATENCY * 1e3:.0f} | {in_flight} |"
    )


#: The fake server of the scaling rows runs in its own process, like a real LLM server: in this process its
#: threads would compete with the environment for the interpreter lock.
SERVE = """
import sys
from lusifer.testing.fake_servers import FakeOpenAIServer
with FakeOpenAIServer(latency=float(sys.argv[1])) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def server_process(latency: float) -> Iterator[str]:
    """A fake OpenAI server answering after ``latency`` seconds in a child process; yields its base URL."""
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(latency)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


SCALING_USERS = (1, 8, 32)
SCALING_STEPS = 20
SCALING_MAX_STEPS = 10


def bench_scaling(
    data_dir: Path, users: int, overlap: bool, workers: int = 1, profile: str | None = None, freeze: bool = False
) -> str:
    """One row: ``users`` users for ``SCALING_STEPS`` steps against the 300 ms fake server, with profile
    refreshes (every 10 interactions: every other step at K=5) and autoresets (episodes of 10 steps);
    ``profile``: where to write this process's ``cProfile`` statistics of the timed steps; ``freeze``:
    ``gc.freeze()`` once the environment is built."""
    from lusifer.envs.vector import RecommenderVectorEnv
    from lusifer.envs.workers import Worker
    from lusifer.kernel.settings import load_config

    config = load_config(
        overrides={"cache": {"enabled": False}, "prices": {"fake-model": {"input": 0.0, "output": 0.0}}}
    )
    with server_process(LATENCY) as base_url:
        envs = RecommenderVectorEnv(
            users,
            backend="openai",
            model="fake-model",
            base_url=base_url,
            data_dir=data_dir,
            candidates=300,
            max_steps=SCALING_MAX_STEPS,
            refresh_every=10,
            max_concurrency=max(32, 4 * users),
            overlap_refresh=overlap,
            prepare_users=overlap,
            workers=workers,
            config=config,
        )
        try:
            if freeze:
                gc.collect()
                gc.freeze()
            obs, _ = envs.reset(seed=0)
            rng = np.random.default_rng(0)
            pids = [group.process.pid for group in envs._groups if isinstance(group, Worker)]
            profiler = cProfile.Profile() if profile else None
            began, cpu, calls = time.perf_counter(), _cpu(pids), 0
            if profiler is not None:
                profiler.enable()
            for _ in range(SCALING_STEPS):
                actions = np.stack([rng.choice(np.flatnonzero(row), 5, replace=False) for row in obs["eligible"]])
                obs, *_, infos = envs.step(actions)
                calls += int(infos["calls"].sum()) if "calls" in infos else 0
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(f"{profile}-n{users}-w{workers}")
            wall, cpu = time.perf_counter() - began, _cpu(pids) - cpu
        finally:
            envs.close()
    rate, ideal = users * SCALING_STEPS / wall, users / LATENCY
    mode = ("overlapped + prepared" if overlap else "sequential (before)") + (", gc.freeze()" if freeze else "")
    return (
        f"| {users} | {mode} | {workers} | {wall / SCALING_STEPS * 1e3:.0f} | {rate:.1f} | {ideal:.1f} "
        f"| {rate / ideal:.0%} "
        f"| {calls / SCALING_STEPS:.0f} | {cpu / max(calls, 1) * 1e3:.1f} |"
    )


def print_scaling(data_dir: Path) -> None:
    print(f"\nVector env scaling: fake OpenAI server, {LATENCY * 1e3:.0f} ms per call, {SCALING_STEPS} steps, K=5,")
    print(f"refresh every 10 interactions, episodes of {SCALING_MAX_STEPS} steps (autoresets included),")
    print("max_concurrency max(32, 4N); user-steps/s against the ideal N / latency\n")
    print("client CPU: CPU time of this process and its workers per LLM call (prompts, SDK, HTTP, validation,")
    print("environment); processes: the sub-environments' worker processes (workers=; 1 = this process)\n")
    print(
        "| users N | refreshes and autoresets | processes | wall ms/step | user-steps/s | ideal | share of ideal "
        "| calls/step | client CPU ms/call |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    only = [int(arg.split("=")[1]) for arg in sys.argv[1:] if arg.startswith("--users=")]
    workers = [int(arg.split("=")[1]) for arg in sys.argv[1:] if arg.startswith("--workers=")] or [1]
    profile = next((arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--profile=")), None)
    for users in only or SCALING_USERS:
        for overlap in (False, True) if not only else (True,):
            for count in workers if overlap else [1]:
                print(bench_scaling(data_dir, users, overlap, min(count, users), profile, "--gc-freeze" in sys.argv))


def _cpu(pids: list[int]) -> float:
    """CPU seconds of this process and of the processes ``pids`` (the workers; read from ``/proc``)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> None:
    shared_dir = os.environ.get("LUSIFER_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared"
    shared = Path(shared_dir) / "data" / "ml-100k"
    if "--scaling" in sys.argv[1:]:
        print_scaling(shared)
        return
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}\n")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        began = time.perf_counter()
        write_synthetic_1m(folder)
        print(
            "synthetic ML-1M (6,040 users, 3,706 items, 1,000,209 ratings) "
            f"written in {time.perf_counter() - began:.1f} s\n"
        )
        print("Offline backend, actions over the whole catalogue (3,706 items), K=5, refresh every 10: mean per")
        print(f"step over {STEPS // 3} random slates (median of 3 blocks); observation: best of 5 x 1000 builds.")
        print("overhead = total - backend = simulator & call layer (prompts, validation, retries) + environment\n")
        print(
            "| history N | user's history at reset | total ms/step | backend ms | overhead ms "
            "| simulator & call layer ms | environment ms | observation µs |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for history in (40, 400):
            print(bench_offline(folder, history))
    if not (shared / "u.data").is_file():
        print(f"\n(vector rows skipped: {shared} not found)", file=sys.stderr)
        return
    print(f"\nVector env against the fake OpenAI server (fixed latency), mean of {VECTOR_STEPS} steps, K=5;")
    print("'one by one' is what the same calls would take sent one after another\n")
    print(
        "| refresh every | users N | latency ms | calls/user/step | wall ms/step | latencies/step "
        "| one by one ms | max in flight |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for refresh_every in (1000, 10):
        print(bench_vector(shared, refresh_every))
    print_scaling(shared)


if __name__ == "__main__":
    main()
