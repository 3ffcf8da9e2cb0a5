"""The paper protocol through a faulty server: what one invocation of ``lusifer run`` loses, and what it costs.

For each vendor (the real ``openai`` and ``anthropic`` SDKs) a loopback fake server answers the paper
protocol (ML-100K fold u1, last 40 ratings in profile steps of 10, 10 test items with an overview) for
the first N users with a seeded mix of faults: malformed answers (prose instead of JSON), 5xx errors,
hangs longer than the client timeout, and a 429 for every request above ``--server-limit`` in flight
while the client sends up to ``--client-limit``. A clean run (no faults, no limit) through the same SDK
gives the reference number of calls. Reported per vendor:

- ratings lost after ONE invocation (goal 0) and ratings wrong (a value the fake model did not mean; goal 0);
- calls made (every HTTP request the server received, 429s included) relative to the clean run (goal <= 1.6x);
- wall time, 429s, and the error lines the run printed.

    python benchmarks/bench_faults.py [--users 40] [--vendors openai anthropic] [--malformed 0.3] [--errors 0.1]
        [--hangs 0.05] [--timeout 5] [--server-limit 2] [--client-limit 8] [--seed 0]

Needs MovieLens 100K and its TMDB overviews in ../shared/data (or --data-dir / --enrich-file).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands
from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, FakeReply, FakeServer

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}
SERVERS = {"openai": FakeOpenAIServer, "anthropic": FakeAnthropicServer}


def intended_rating(item_id: str) -> int:
    """The rating the fake model means for an item (what a correct run records)."""
    return int(item_id) * 7 % 5 + 1


def good_answer(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("response_format"):
        schema = request["response_format"]["json_schema"]["schema"]
    else:
        schema = (request.get("tools") or [{}])[0].get("input_schema") or {}
    ratings = schema.get("properties", {}).get("ratings")
    if ratings is not None:
        return {"ratings": {item_id: intended_rating(item_id) for item_id in ratings["required"]}}
    return {"profile": "Likes dramas and the occasional comedy.", "explanation": "Rated dramas highly."}


#: How a malformed answer looks: the first two are repaired by the parser, the last two are re-asked.
MALFORMED_KINDS = {
    "fenced": lambda text: f"```json\n{text}\n```",
    "prose around": lambda text: f"Sure! Here is the answer: {text} Hope this helps.",
    "cut": lambda text: text[: len(text) // 2],
    "no JSON": lambda text: "Happy to help! This viewer would probably enjoy most of these movies.",
}


class FaultyModel:
    """Good answers, except a seeded share of malformed answers (of ``kinds``), 5xx errors and hangs."""

    def __init__(self, malformed: float, errors: float, hangs: float, seed: int, kinds: list[str]) -> None:
        self.malformed, self.errors, self.hangs, self.kinds = malformed, errors, hangs, kinds
        self.random = random.Random(seed)
        self.lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> FakeReply:
        with self.lock:
            draw, kind = self.random.random(), self.random.choice(self.kinds)
        text = json.dumps(good_answer(request))
        if draw < self.hangs:
            return FakeReply(hang=True)  # until the client gives up (its timeout) and disconnects
        if draw < self.hangs + self.errors:
            return FakeReply(status=500)
        if draw < self.hangs + self.errors + self.malformed:
            return FakeReply(content=MALFORMED_KINDS[kind](text))
        return FakeReply(content=text)


def clean_model(request: dict[str, Any]) -> FakeReply:
    return FakeReply(content=json.dumps(good_answer(request)))


@dataclass
class Outcome:
    vendor: str
    scenario: str
    exit_code: int
    targets: int
    lost: int
    wrong: int
    requests: int
    rejected: int
    seconds: float
    errors: list[str]


def run_once(
    vendor: str, server: FakeServer, out: Path, options: argparse.Namespace, client_limit: int
) -> tuple[int, float, list[str]]:
    arguments = [
        "run", "--no-progress", "--protocol", "paper", "--data-dir", str(options.data_dir),
        "--enrich-file", str(options.enrich_file), "--users", str(options.users), "--out", str(out),
        "--backend", vendor, "--model", MODELS[vendor], "--base-url", server.base_url, "--key", "sk-bench-faults",
        "--max-concurrency", str(client_limit), "--no-cache",
    ]  # fmt: skip
    os.environ["LUSIFER_BACKEND__TIMEOUT"] = str(options.timeout)
    started = time.perf_counter()
    result = CliRunner().invoke(cli, arguments)
    seconds = time.perf_counter() - started
    errors = [line.strip() for line in result.output.splitlines()[1:] if line.strip()]
    return result.exit_code, seconds, errors


def measure(vendor: str, scenario: str, model: Any, limit: int | None, client_limit: int, options: argparse.Namespace,
            folder: Path) -> Outcome:  # fmt: skip
    out = folder / f"{vendor}-{scenario.replace(' ', '-')}"
    with SERVERS[vendor](model, latency=options.latency, max_concurrency=limit) as server:
        exit_code, seconds, errors = run_once(vendor, server, out, options, client_limit)
        requests, rejected = len(server.requests), server.rejected
    ratings = pd.read_csv(out / "ratings.csv", dtype={"item_id": str})
    rated = ratings.dropna(subset=["simulated_rating"])
    wrong = int((rated["simulated_rating"] != rated["item_id"].map(intended_rating)).sum())
    return Outcome(vendor, scenario, exit_code, len(ratings), len(ratings) - len(rated), wrong, requests, rejected,
                   seconds, errors)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--vendors", nargs="+", default=["openai", "anthropic"], choices=sorted(SERVERS))
    parser.add_argument("--malformed", type=float, default=0.30)
    parser.add_argument("--errors", type=float, default=0.10)
    parser.add_argument("--hangs", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=5.0, help="client timeout per call (s)")
    parser.add_argument("--server-limit", type=int, default=2, help="requests in flight before the server sends 429")
    parser.add_argument("--client-limit", type=int, default=8, help="--max-concurrency of the run")
    parser.add_argument("--latency", type=float, default=0.05, help="server latency per answer (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--malformed-kinds", nargs="+", default=list(MALFORMED_KINDS), choices=list(MALFORMED_KINDS),
        help="what malformed answers look like, drawn uniformly (default: all four)",
    )  # fmt: skip
    parser.add_argument("--data-dir", type=Path, default=SHARED / "ml-100k")
    parser.add_argument("--enrich-file", type=Path, default=SHARED / "tmdb" / "ml-100k-tmdb.csv")
    options = parser.parse_args()
    kinds = options.malformed_kinds
    load_plugin_commands()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        os.environ["LUSIFER_HOME"] = str(folder / "home")
        print(
            f"paper protocol, {options.users} users; faults: {options.malformed:.0%} malformed, {options.errors:.0%} "
            f"5xx, {options.hangs:.0%} hangs (until the client timeout, {options.timeout:g} s), 429 above "
            f"{options.server_limit} in flight; client --max-concurrency {options.client_limit}; "
            f"latency {options.latency:g} s; seed {options.seed}; malformed kinds: {', '.join(options.malformed_kinds)}"
        )
        print("| vendor | run | exit | ratings lost | ratings wrong | calls | calls vs clean | 429s | wall |")
        print("|---|---|---|---|---|---|---|---|---|")
        notes = []
        for vendor in options.vendors:
            clean = measure(vendor, "clean", clean_model, None, options.client_limit, options, folder)
            scenarios = [
                (name, FaultyModel(options.malformed, options.errors, options.hangs, options.seed, kinds), limit)
                for name, limit in (
                    ("faults", options.client_limit),
                    (f"faults, client limit {options.server_limit}", options.server_limit),
                )
            ]
            for outcome in [clean] + [
                measure(vendor, name, model, options.server_limit, limit, options, folder)
                for name, model, limit in scenarios
            ]:
                ratio = outcome.requests / clean.requests
                print(
                    f"| {vendor} | {outcome.scenario} | {outcome.exit_code} | {outcome.lost} of {outcome.targets} | "
                    f"{outcome.wrong} | {outcome.requests} | {ratio:.2f}x | {outcome.rejected} | "
                    f"{outcome.seconds:.1f} s |"
                )
                notes += [f"{vendor}, {outcome.scenario}: {line[:160]}" for line in outcome.errors[:3]]
        for note in notes:
            print(f"    {note}")


if __name__ == "__main__":
    main()
