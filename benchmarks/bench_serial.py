"""A paper-protocol run against a server that answers one request at a time, at concurrency 1 and 4.

The fake OpenAI server (real SDK, real HTTP on loopback) generates one answer at a time for
``--generation`` seconds and goes on generating answers whose client has given up, as a single
llama.cpp process does (:class:`lusifer.testing.fake_behaviours.SerialModel`). The client timeout is
``--timeout`` (the default ratio, 0.7 s to 0.2 s, is the one observed with SmolLM2-135M: 60 s to 17 s).
Each row reports requests sent per answer, generations thrown away, users failed and wall time.

    python benchmarks/bench_serial.py [--users 10] [--generation 0.2] [--timeout 0.7]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from lusifer.cli.run import PAPER_PROTOCOL
from lusifer.config import load_config
from lusifer.simulation.runner import run_simulation
from lusifer.store import RunStore
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


def measure(users: int, concurrency: int, generation: float, timeout: float, folder: Path) -> dict[str, Any]:
    model = SerialModel(answer, generation)
    with FakeOpenAIServer(model) as server:
        config = load_config(
            None,
            {
                "data": {**PAPER_PROTOCOL, "path": ML_100K, "enrich_file": TMDB},
                "backend": {
                    "name": "openai",
                    "base_url": server.base_url,
                    "max_concurrency": concurrency,
                    "timeout": timeout,
                },
                "run": {"out": folder / f"run-{concurrency}", "users": users, "concurrency": 2 * concurrency},
                "cache": {"enabled": False},
            },
            environ={},
        )
        started = time.perf_counter()
        _, summary = run_simulation(config, api_key="sk-bench")
        seconds = time.perf_counter() - started
        time.sleep(generation * (model.waiting + 1))  # let abandoned generations finish before counting them
        sent, generated = len(server.requests), model.generated
    store = RunStore(folder / f"run-{concurrency}")
    answers = sum(1 for exchange in store.exchanges() if not exchange["error"])
    store.close()
    return {
        "max_concurrency": concurrency,
        "answers": answers,
        "sent": sent,
        "per_answer": sent / max(answers, 1),
        "discarded": generated - answers,
        "users_failed": summary.users_failed,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--generation", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=0.7)
    options = parser.parse_args()
    columns = ["max_concurrency", "answers", "requests sent", "sent per answer", "generations thrown away"]
    columns += ["users failed", "wall s"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    with tempfile.TemporaryDirectory() as folder:
        for concurrency in (1, 4):
            row = measure(options.users, concurrency, options.generation, options.timeout, Path(folder))
            print(
                f"| {row['max_concurrency']} | {row['answers']} | {row['sent']} | {row['per_answer']:.2f} | "
                f"{row['discarded']} | {row['users_failed']} | {row['seconds']:.1f} |"
            )


if __name__ == "__main__":
    main()
