"""A paper-protocol run against a server that answers one request at a time, at concurrency 1 and 4.

The fake OpenAI server (real SDK, real HTTP on loopback) generates one answer at a time for
``--generation`` seconds and goes on generating answers whose client has given up, as a single
llama.cpp process does (:class:`lusifer.testing.fake_behaviours.SerialModel`). The client timeout is
``--timeout`` (the default ratio, 0.7 s to 0.2 s, is the one observed with SmolLM2-135M: 60 s to 17 s).
Each row reports requests sent per answer, generations thrown away, users failed and wall time.

A second table: a server that answers 429 (``Retry-After: 0.05``) above 2 requests in flight, 100 ms
per answer, while the client allows 8 (``backend.max_concurrency = 8``): requests sent, refusals,
users failed.

    python benchmarks/bench_serial.py [--users 10] [--generation 0.2] [--timeout 0.7] [--rate-limited-users 40]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from lusifer.domains.movies.protocol import PAPER_DATA
from lusifer.kernel.settings import load_config
from lusifer.runs.runner import run_simulation
from lusifer.runs.store import RunStore
from lusifer.testing.fake_behaviours import SerialModel, is_profile_request
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply, example_for_schema

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ML_100K, TMDB = SHARED / "ml-100k", SHARED / "tmdb" / "ml-100k-tmdb.csv"
PROFILE = (
    "Enjoys character-driven dramas and witty comedies from the nineties, dislikes horror and slow "
    "thrillers, and rates generously when a film has heart."
)


def answer(request: Any) -> FakeReply:
    """A valid answer: a fixed profile, or mid-scale ratings for the ids the schema asks for."""
    if is_profile_request(request):
        return FakeReply(content=json.dumps({"profile": PROFILE, "explanation": "New ratings confirmed it."}))
    schema = ((request or {}).get("response_format") or {}).get("json_schema", {}).get("schema")
    return FakeReply(content=json.dumps(example_for_schema(schema)))


def run_against(server: FakeOpenAIServer, users: int, concurrency: int, timeout: float, out: Path) -> Any:
    """A paper-protocol run of ``users`` through ``server``; returns (summary, seconds, answers)."""
    config = load_config(
        None,
        {
            "data": {**PAPER_DATA, "path": ML_100K, "enrich_file": TMDB},
            "backend": {
                "name": "openai",
                "base_url": server.base_url,
                "max_concurrency": concurrency,
                "timeout": timeout,
            },
            "run": {"out": out, "users": users, "concurrency": 2 * concurrency},
            "cache": {"enabled": False},
        },
        environ={},
    )
    started = time.perf_counter()
    _, summary = run_simulation(config, api_key="sk-bench")
    seconds = time.perf_counter() - started
    store = RunStore(out)
    answers = sum(1 for exchange in store.exchanges() if not exchange["error"])
    store.close()
    return summary, seconds, answers


def measure_serial(users: int, concurrency: int, generation: float, timeout: float, folder: Path) -> str:
    """One row of the serial-server table."""
    model = SerialModel(answer, generation)
    with FakeOpenAIServer(model) as server:
        summary, seconds, answers = run_against(server, users, concurrency, timeout, folder / f"serial-{concurrency}")
        time.sleep(generation * (model.waiting + 1))  # let abandoned generations finish before counting them
        sent, generated = len(server.requests), model.generated
    return (
        f"| {concurrency} | {answers} | {sent} | {sent / max(answers, 1):.2f} | {generated - answers} | "
        f"{summary.users_failed} | {seconds:.1f} |"
    )


def measure_rate_limited(users: int, folder: Path) -> str:
    """The row of a server that answers 429 above 2 requests in flight while the client allows 8."""
    with FakeOpenAIServer(answer, latency=0.1, jitter=0.02, max_concurrency=2) as server:
        summary, seconds, answers = run_against(server, users, 8, 30.0, folder / "rate-limited")
        sent, refused = len(server.requests), server.rejected
    return f"| {users} | {answers} | {sent} | {refused} | {summary.users_failed} | {seconds:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--generation", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=0.7)
    parser.add_argument("--rate-limited-users", type=int, default=40)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print("| max_concurrency | answers | requests sent | sent per answer | generations thrown away |", end="")
        print(" users failed | wall s |\n|---|---|---|---|---|---|---|")
        for concurrency in (1, 4):
            print(measure_serial(options.users, concurrency, options.generation, options.timeout, Path(folder)))
        print(
            "\n| users | answers | requests sent | refused (429) | users failed | wall s |\n|---|---|---|---|---|---|"
        )
        print(measure_rate_limited(options.rate_limited_users, Path(folder)))


if __name__ == "__main__":
    main()
