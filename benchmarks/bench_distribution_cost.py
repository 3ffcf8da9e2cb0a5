"""Token cost of distribution mode vs value mode: ``lusifer estimate`` against a run through the real SDKs.

For OpenAI and Anthropic in value mode and in distribution mode (OpenAI: log-probabilities with
``top_logprobs``; Anthropic: the verbalised fallback), this estimates the paper protocol's first
``--users`` users with ``lusifer estimate``, then runs them with ``lusifer run`` against a loopback
fake server (:mod:`lusifer.testing.fake_servers`) that answers like a well-behaved model, and prints
prompt and completion tokens per rating (whole run, and feedback calls alone from the run store).

The fake servers count tokens as characters / 4, as the estimate does; real tokenizers differ (JSON
full of digits costs more tokens per character), so the ratios between modes are the finding::

    python benchmarks/bench_distribution_cost.py --data-dir ../ml-100k --enrich-file ml-100k-tmdb.csv
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, FakeReply

PROFILE = " ".join(["Enjoys character-driven dramas and dry comedies, dislikes loud action sequels."] * 8)
MODES = (("openai", "value"), ("openai", "distribution"), ("anthropic", "value"), ("anthropic", "distribution"))


def _schema(request: dict[str, Any]) -> dict[str, Any]:
    response_format = request.get("response_format") or {}
    if response_format:
        return (response_format.get("json_schema") or {}).get("schema") or response_format.get("schema") or {}
    tools = request.get("tools") or [{}]
    return tools[0].get("input_schema") or tools[0].get("function", {}).get("parameters") or {}


def _rating(item_id: str) -> int:
    return int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 5 + 1


def _distribution(rating: int) -> dict[int, float]:
    weights = {point: math.exp(-((point - rating) ** 2)) for point in range(1, 6)}
    total = sum(weights.values())
    rounded = {point: round(weight / total, 2) for point, weight in weights.items()}
    rounded[rating] = round(rounded[rating] + 1 - sum(rounded.values()), 2)
    return rounded


def _logprob_tokens(ratings: dict[str, int]) -> list[dict[str, Any]]:
    """The tokens of ``json.dumps({"ratings": ratings})``, each rating one token with its alternatives."""

    def token(text: str, top: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"token": text, "logprob": -0.01, "bytes": None, "top_logprobs": top or []}

    tokens = [token('{"ratings": {')]
    for position, (item_id, rating) in enumerate(ratings.items()):
        tokens.append(token(("" if position == 0 else ", ") + f'"{item_id}":'))
        top = [
            {"token": f" {p}", "logprob": math.log(max(q, 1e-4)), "bytes": None}
            for p, q in _distribution(rating).items()
        ]
        tokens.append(token(f" {rating}", top))
    tokens.append(token("}}"))
    return tokens


def responder(request: dict[str, Any]) -> FakeReply:
    """Profiles of about 100 words; ratings, with verbalised distributions or log-probabilities when asked."""
    properties = _schema(request).get("properties", {})
    if "ratings" not in properties:
        return FakeReply(content=json.dumps({"profile": PROFILE, "explanation": "Refined from the latest ratings."}))
    ratings = {item_id: _rating(item_id) for item_id in properties["ratings"]["required"]}
    answer: dict[str, Any] = {"ratings": ratings}
    if "distributions" in properties:
        answer["distributions"] = {
            item_id: {str(p): q for p, q in _distribution(r).items()} for item_id, r in ratings.items()
        }
    logprobs = _logprob_tokens(ratings) if request.get("logprobs") else None
    return FakeReply(content=json.dumps(answer), logprobs=logprobs)


def _lusifer(*arguments: str) -> str:
    done = subprocess.run([sys.executable, "-m", "lusifer", *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"lusifer {' '.join(arguments[:1])} failed: {done.stderr.strip()[-400:]}")
    return done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--enrich-file", type=Path, required=True)
    parser.add_argument("--users", type=int, default=100)
    arguments = parser.parse_args()
    data = ["--protocol", "paper", "--data-dir", str(arguments.data_dir), "--enrich-file", str(arguments.enrich_file)]
    print(
        "| backend | mode | estimate prompt / rating | estimate completion / rating | run prompt / rating | "
        "run completion / rating | run feedback prompt / rating | run feedback completion / rating | "
        "with a distribution |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for backend, mode in MODES:
        flags = [*data, "--backend", backend, "--users", str(arguments.users)]
        flags += ["--distribution"] if mode == "distribution" else []
        estimate = _lusifer("estimate", *flags)
        numbers = re.search(r"([\d,]+) ratings: about [\d,]+ calls, ([\d,]+) prompt \+ ([\d,]+) completion", estimate)
        assert numbers, estimate
        ratings, prompt, completion = (int(group.replace(",", "")) for group in numbers.groups())
        server_type = FakeOpenAIServer if backend == "openai" else FakeAnthropicServer
        with tempfile.TemporaryDirectory() as folder, server_type(responder) as server:
            out = Path(folder) / "run"
            _lusifer(
                "run",
                *flags,
                "--base-url",
                server.base_url,
                "--key",
                "sk-fake",
                "--no-progress",
                "--no-cache",
                "--out",
                str(out),
            )
            with sqlite3.connect(out / "run.sqlite") as db:
                query = "SELECT task, SUM(prompt_tokens), SUM(completion_tokens) FROM exchanges GROUP BY task"
                tokens = {task: (p, c) for task, p, c in db.execute(query)}
            summary = json.loads((out / "summary.json").read_text())
            ratings_csv = pd.read_csv(out / "ratings.csv")
            kept = int(ratings_csv["p_1"].notna().sum()) if "p_1" in ratings_csv else 0
        rated = summary["ratings"]
        feedback = tokens.get("feedback", (0, 0))
        print(
            f"| {backend} | {mode} | {prompt / ratings:.0f} | {completion / ratings:.1f} | "
            f"{summary['prompt_tokens'] / rated:.0f} | {summary['completion_tokens'] / rated:.1f} | "
            f"{feedback[0] / rated:.0f} | {feedback[1] / rated:.1f} | {kept} of {rated} |"
        )


if __name__ == "__main__":
    main()
