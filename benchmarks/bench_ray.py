"""Calls per second at high concurrency: one process against Ray workers (``--executor ray``'s call path).

The fake OpenAI server of ``bench_scale.py`` runs in its own process (``--latency`` ± ``--latency / 6``
seconds per answer, 429 above C requests in flight). For each C of ``--caps``:

- **one process**: one call layer with ``max_concurrency = C`` (the lean pooled client) sends
  ``--seconds`` x C / latency feedback calls at once through the real ``openai`` SDK;
- **ray N workers**: ``--workers`` Ray actors on a local Ray instance, each with its own call layer and
  backend holding its even share of C (as ``--executor ray`` splits ``max_concurrency``), send their
  share of the same calls. The clock runs from the driver starting them (actors already up) to the last
  answer; Ray's start-up is reported once, apart. Both send C calls first, unmeasured (imports, connections).

Share of C/L is calls/s over the ideal C / latency. ``load`` is the 1-minute load average (``uptime``) when
the row was measured: the machine's other work takes cores from client and server alike.

``--runs``: whole paper-protocol runs instead (ML-100K + TMDB from ``../shared``, 459 users, 1,980 calls, no
response cache) against the fake server answering as ``bench_throughput.fake_model`` does, in one process
and with ``--executor ray --workers N`` (joining the Ray instance started once), and whether the Ray run's
exports are byte-identical to the single process's.

    python benchmarks/bench_ray.py [--caps 16 64 256 1024] [--workers 2] [--latency 0.3] [--seconds 3]
    python benchmarks/bench_ray.py --runs [--caps 64 256] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import REQUEST  # noqa: E402

from lusifer.runs.ray_executor import share  # noqa: E402


def config_for(base_url: str, cap: int, latency: float, folder: str) -> Any:
    from lusifer.api.settings import LusiferConfig

    return LusiferConfig.model_validate(
        {
            "backend": {"name": "openai", "base_url": base_url, "max_concurrency": cap, "timeout": 20 * latency},
            "cache": {"enabled": False, "path": str(Path(folder) / "cache.sqlite")},
        }
    )


async def drive(config: Any, requests: int) -> tuple[float, int]:
    """Send ``requests`` feedback calls at once through one call layer; (seconds, 429s)."""
    from lusifer.engine.backends.openai_backend import OpenAIBackend
    from lusifer.engine.calls import CallLayer
    from lusifer.engine.validation import FeedbackValidator
    from lusifer.runs.session import call_settings

    calls = CallLayer(OpenAIBackend(config.backend), call_settings(config))
    try:
        started = time.perf_counter()
        results = await asyncio.gather(*(calls.call(REQUEST, (FeedbackValidator(),)) for _ in range(requests)))
        elapsed = time.perf_counter() - started
    finally:
        await calls.aclose()
    assert all(result.validation is not None and result.validation.ok for result in results)
    return elapsed, calls.stats.rate_limited


class CallWorker:
    """A Ray actor with its own call layer, as an ``--executor ray`` worker has."""

    def ready(self) -> bool:
        return True

    async def drive(self, config: Any, requests: int) -> tuple[float, int]:
        return await drive(config, requests)


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def serve(cap: int, latency: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("bench_scale.py")),
            "--serve",
            str(cap),
            "--latency",
            str(latency),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def serve_model(cap: int, latency: float) -> None:
    """The server process of ``--runs``: answers like ``bench_throughput.fake_model``; serves until stdin closes."""
    from bench_throughput import fake_model

    from lusifer.testing.fake_servers import FakeOpenAIServer

    with FakeOpenAIServer(fake_model([]), latency=latency, jitter=latency / 6, max_concurrency=cap) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


EXPORTS = ("ratings.csv", "profiles.jsonl", "history.csv", "failures.csv", "ratings.parquet", "profiles.parquet")


def whole_runs(caps: list[int], workers: int, latency: float) -> None:
    """One process against ``--executor ray`` on whole paper-protocol runs."""
    from bench_throughput import paper_config

    from lusifer.runs.runner import run_simulation

    print("| C | executor | calls | seconds | calls/s | share of C/L | exports as one process | load |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for cap in caps:
            server = subprocess.Popen(
                [sys.executable, __file__, "--serve-model", str(cap), "--latency", str(latency)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert server.stdout is not None
                base_url = server.stdout.readline().strip()
                for executor in ("local", "ray"):
                    out = root / f"{executor}-{cap}"
                    config = paper_config(base_url, cap, out, root / "cache.sqlite", 10**6)
                    config.cache.enabled = False
                    config.run.executor, config.run.workers = executor, workers
                    before, clock = load(), time.perf_counter()
                    _, summary = run_simulation(config)
                    elapsed = time.perf_counter() - clock
                    same = all(
                        (out / name).read_bytes() == (root / f"local-{cap}" / name).read_bytes() for name in EXPORTS
                    )
                    rate = summary.calls / elapsed
                    label = "one process" if executor == "local" else f"ray, {workers} workers"
                    print(
                        f"| {cap} | {label} | {summary.calls} | {elapsed:.1f} | {rate:.1f} | "
                        f"{100 * rate * latency / cap:.1f} % | {'yes' if same else 'NO'} | {before} |",
                        flush=True,
                    )
            finally:
                server.communicate("")


def row(cap: int, client: str, requests: int, elapsed: float, limited: int, latency: float, started_load: str) -> str:
    rate, ideal = requests / elapsed, cap / latency
    return f"| {cap} | {client} | {requests} | {rate:.1f} | {100 * rate / ideal:.1f} % | {limited} | {started_load} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--caps", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--seconds", type=float, default=3.0, help="ideal duration of each measurement")
    parser.add_argument("--runs", action="store_true", help="whole paper-protocol runs, one process and Ray")
    parser.add_argument("--serve-model", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve_model:
        serve_model(arguments.serve_model, arguments.latency)
        return
    import ray

    os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")])
    started = time.perf_counter()
    ray.init(include_dashboard=False, logging_level="WARNING")
    count = arguments.workers
    actors = [ray.remote(CallWorker).options(num_cpus=0).remote() for _ in range(count)]
    ray.get([actor.ready.remote() for actor in actors])
    print(f"Ray start-up and {count} actors ready: {time.perf_counter() - started:.1f} s (load {load()})\n")
    if arguments.runs:
        whole_runs(arguments.caps, count, arguments.latency)
        ray.shutdown()
        return
    print("| C | client | calls | calls/s | share of C/L | 429s | load |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for cap in arguments.caps:
            requests = max(int(arguments.seconds * cap / arguments.latency), 2 * cap)
            server = serve(cap, arguments.latency)
            try:
                assert server.stdout is not None
                base_url = server.stdout.readline().strip()
                config = config_for(base_url, cap, arguments.latency, folder)
                asyncio.run(drive(config, cap))  # warm-up: imports, first connections (not measured)
                before = load()
                elapsed, limited = asyncio.run(drive(config, requests))
                print(row(cap, "one process", requests, elapsed, limited, arguments.latency, before), flush=True)
                warm_up = [
                    actor.drive.remote(config_for(base_url, share(cap, index, count), arguments.latency, folder), cap)
                    for index, actor in enumerate(actors)
                ]
                ray.get(warm_up)
                before = load()
                clock = time.perf_counter()
                parts = [
                    actor.drive.remote(
                        config_for(base_url, share(cap, index, count), arguments.latency, folder),
                        share(requests, index, count),
                    )
                    for index, actor in enumerate(actors)
                ]
                results = ray.get(parts)
                elapsed = time.perf_counter() - clock
                limited = sum(result[1] for result in results)
                print(
                    row(cap, f"ray {count} workers", requests, elapsed, limited, arguments.latency, before), flush=True
                )
            finally:
                server.communicate("")
    ray.shutdown()


if __name__ == "__main__":
    main()
