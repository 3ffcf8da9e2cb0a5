"""A real local GGUF model on the paper protocol: through llama-cpp-python's server, and in-process.

Each run is ``lusifer run --protocol paper --users N`` in a fresh process with a fresh user dir (no
cached answers):

- **server**: ``python -m llama_cpp.server`` on loopback (one server per run), ``--backend openai
  --base-url ...`` with ``structured_output = "auto"`` (it settles on ``json_object`` + ``schema``);
- **in-process**: ``--backend llamacpp --model PATH.gguf`` (lusifer-plugin-llamacpp);
- **server-killed**: the server path, ``kill -9`` once ``--kill-after`` exchanges are stored, then the
  same command again to the end (reports the completed calls it asked again: should be none).

``--concurrency 1 4`` runs the server path once per value (``run.concurrency`` and
``backend.max_concurrency`` both set to it; the other paths run one request at a time), ``--repeat``
runs the whole round again (so 1, 4, 1, 4: interleaved under the same load), and ``--together``
starts every run of a round at the same time (each with its own server), so that runs compared with
each other share the machine's load instead of following it in turn.

Reported per run: the load average at start and end, wall time, model calls (one per request, however
often it was sent), attempts (requests sent, retries included) per answer received, generations the
server ran (from its log) and thrown away, seconds per call, the share of first answers that were
valid as given, re-asks (calls that repeat a request after an unusable answer), profile answers
refused by the substance check (by reason), stored profiles and how many pass that check, users
failed (with the reasons), ratings obtained, and RMSE / MAE / Pearson from ``lusifer evaluate``
beside the CF baselines trained on the same training slice. With a 135M model this is an integration
check, not a fidelity result.

    python benchmarks/bench_local_models.py --gguf SmolLM2-135M-Instruct.Q4_1.gguf \\
        --data-dir ../shared/data/ml-100k --enrich-file ../shared/data/tmdb/ml-100k-tmdb.csv [--users 10] \\
        [--paths server in-process server-killed] [--concurrency 1 4] [--repeat 2] [--together] [--timeout 60] \\
        [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lusifer.api.backend import LLMRequest
from lusifer.api.settings import PROFILE_MIN_WORDS
from lusifer.engine.validation import text_problem
from lusifer.runs.store import RunStore
from lusifer.testing.local_model import llama_cpp_server, run_environment, run_kill_resume

REASK = "Your previous answer"
#: What llama.cpp prints once per generation (``verbose`` is the server's default), before ``total time``.
GENERATION_LINE = "llama_perf_context_print:"
#: The first words of the substance check's reasons, for counting refused profiles by kind.
PROFILE_REASONS = {
    "placeholder": "placeholder",
    "markup": "markup",
    "item title": "title of one rated item",
    "copy of the question": "repeats text",
    "too short": "too short",
    "missing": "missing or empty",
}


@dataclass
class Run:
    """One configured run: which path, how many requests at once, and where it writes."""

    path: str
    concurrency: int
    folder: Path
    backend: list[str] = field(default_factory=list)
    server_log: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.path}-c{self.concurrency}"

    @property
    def run_dir(self) -> Path:
        return self.folder / "run"


def load_average() -> float:
    """The one-minute load average (what ``uptime`` shows first)."""
    return os.getloadavg()[0]


def command_of(run: Run, args: argparse.Namespace) -> list[str]:
    arguments = ["--no-progress", "--protocol", "paper", "--data-dir", str(args.data_dir)]
    arguments += ["--enrich-file", str(args.enrich_file), "--users", str(args.users)]
    arguments += ["--concurrency", str(run.concurrency), "--max-concurrency", str(run.concurrency), *run.backend]
    return arguments


def environment_of(run: Run, args: argparse.Namespace) -> dict[str, str]:
    environment = run_environment(run.folder / "home")
    environment["LUSIFER_BACKEND__MAX_TOKENS"] = str(args.max_tokens)
    environment["LUSIFER_BACKEND__TIMEOUT"] = str(args.timeout)
    return environment


def execute(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``lusifer run`` for ``run`` to its end (the killed path: killed, then resumed) and measure it."""
    load_before, started = load_average(), time.monotonic()
    arguments, environment = command_of(run, args), environment_of(run, args)
    outcome = None
    if run.path == "server-killed":
        outcome = run_kill_resume(arguments, run.run_dir, environment, kill_after=args.kill_after, timeout=7200)
        finished = outcome.resumed
    else:
        command = [sys.executable, "-m", "lusifer", "run", *arguments, "--out", str(run.run_dir)]
        finished = subprocess.run(command, capture_output=True, text=True, env=environment)
    if finished.returncode not in (0, 1):  # 1: some items failed, which is measured below
        raise RuntimeError(f"{run.name}: lusifer run failed: {finished.stderr[-2000:]}")
    wall = time.monotonic() - started
    result: dict[str, Any] = {"run": run.name, "load": (load_before, load_average()), "wall_s": wall}
    result.update(measure_exchanges(run.run_dir))
    result["s_per_call"] = wall / max(result["calls"], 1)
    if run.server_log is not None:
        lines = run.server_log.read_text(errors="replace").splitlines()
        generations = sum(1 for line in lines if line.startswith(GENERATION_LINE) and "total time" in line)
        result["generations"], result["thrown_away"] = generations, generations - result["answers"]
    if outcome is not None:
        result["repeated_completed_calls"] = len(outcome.repeated_completed_calls())
        result["killed_after"] = len(outcome.before_kill)
    summary = json.loads((run.run_dir / "summary.json").read_text())
    result["users_failed"], result["failures"] = summary["users_failed"], summary["failures"]
    ratings = pd.read_csv(run.run_dir / "ratings.csv")
    result["ratings"], result["rows"] = int(ratings["simulated_rating"].notna().sum()), len(ratings)
    result["metrics"] = evaluate(run.run_dir, args) if result["ratings"] else None
    return result


def measure_exchanges(run_dir: Path) -> dict[str, Any]:
    """Calls, attempts, answers, first-answer validity, re-asks and the profile check, from the run's store."""
    store = RunStore(run_dir)
    exchanges = [exchange for exchange in store.exchanges() if not exchange["cache_hit"]]
    profiles = [state.profile for state in store.profiles()]
    store.close()
    answered = [exchange for exchange in exchanges if not exchange["error"]]
    first = [exchange for exchange in exchanges if REASK not in exchange["messages"][-1]["content"]]
    valid_first = [exchange for exchange in first if not exchange["problems"] and not exchange["error"]]
    profile_answers = [exchange for exchange in answered if exchange["task"].startswith("profile")]
    refused: Counter[str] = Counter()
    for exchange in profile_answers:
        problem = (exchange["problems"] or {}).get("profile") or (exchange["problems"] or {}).get("*")
        if problem:
            kind = next((kind for kind, text in PROFILE_REASONS.items() if text in problem), "not JSON / other")
            refused[kind] += 1
    minimal = LLMRequest("profile", ())
    passing = [text for text in profiles if text_problem(text, minimal, PROFILE_MIN_WORDS) is None]
    return {
        "calls": len(exchanges),
        "attempts": sum(exchange["attempts"] for exchange in exchanges),
        "answers": len(answered),
        "valid_first": len(valid_first) / max(len(first), 1),
        "reasks": len(exchanges) - len(first),
        "profile_answers": len(profile_answers),
        "profiles_refused": dict(refused),
        "profiles_stored": len(profiles),
        "profiles_passing": len(passing),
        "profile_words": sorted(len(text.split()) for text in profiles),
    }


def evaluate(run_dir: Path, args: argparse.Namespace) -> pd.DataFrame:
    """RMSE, MAE and Pearson of the run and of the baselines on the same rows (``lusifer evaluate``)."""
    out = run_dir / "evaluation"
    command = [sys.executable, "-m", "lusifer", "evaluate", str(run_dir), "--protocol", "paper"]
    command += ["--data-dir", str(args.data_dir), "--enrich-file", str(args.enrich_file)]
    command += ["--no-calibrate", "--bootstrap", "0", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return pd.read_csv(out / "metrics.csv")


def report(result: dict[str, Any]) -> None:
    attempts_per_answer = result["attempts"] / max(result["answers"], 1)
    line = (
        f"{result['run']}: load {result['load'][0]:.1f}->{result['load'][1]:.1f}, wall {result['wall_s']:.0f} s, "
        f"{result['calls']} calls, {result['attempts']} attempts for {result['answers']} answers "
        f"({attempts_per_answer:.2f} per answer), {result['s_per_call']:.1f} s/call, "
        f"valid first answers {result['valid_first']:.0%}, {result['reasks']} re-asks, "
        f"ratings {result['ratings']}/{result['rows']}, users failed {result['users_failed']}"
    )
    if "generations" in result:
        line += f", server generations {result['generations']} ({result['thrown_away']} thrown away)"
    if "repeated_completed_calls" in result:
        line += (
            f", killed after {result['killed_after']} exchanges, completed calls asked again after resume: "
            f"{result['repeated_completed_calls']}"
        )
    print(line)
    print(
        f"  profiles: {result['profile_answers']} answers, refused {result['profiles_refused']}; "
        f"{result['profiles_stored']} stored, {result['profiles_passing']} pass the substance check, "
        f"words {result['profile_words']}"
    )
    for user, reason in result["failures"].items():
        print(f"  user {user} failed: {reason[:300]}")
    if result["metrics"] is not None:
        print(result["metrics"].to_string(index=False))
    print(flush=True)


def plan(args: argparse.Namespace, folder: Path) -> list[list[Run]]:
    """The rounds of runs: every path at every concurrency, ``--repeat`` times."""
    rounds = []
    for repeat in range(args.repeat):
        runs = []
        for path in args.paths:
            for concurrency in args.concurrency if path == "server" else [1]:
                run_folder = folder / f"{path}-c{concurrency}-{repeat}"
                run_folder.mkdir(parents=True)
                runs.append(Run(path, concurrency, run_folder))
        rounds.append(runs)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--enrich-file", type=Path, required=True)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=1024, help="Answer limit (backend.max_tokens).")
    parser.add_argument("--timeout", type=float, default=600, help="Seconds per call (backend.timeout).")
    parser.add_argument(
        "--paths", nargs="+", default=["server", "in-process"], choices=["server", "in-process", "server-killed"]
    )
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1], help="Requests (and users) at once.")
    parser.add_argument("--repeat", type=int, default=1, help="Rounds of every path and concurrency.")
    parser.add_argument("--together", action="store_true", help="Start the runs of a round at the same time.")
    parser.add_argument("--kill-after", type=int, default=10, help="server-killed: exchanges stored before kill -9.")
    parser.add_argument("--work-dir", type=Path, help="Keep the runs and server logs here (default: a temporary dir).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        for runs in plan(args, args.work_dir or Path(temporary)):
            with ExitStack() as servers:
                for run in runs:
                    if run.path.startswith("server"):
                        run.server_log = run.folder / "server.log"
                        base_url = servers.enter_context(llama_cpp_server(args.gguf, log_file=run.server_log))
                        run.backend = ["--backend", "openai", "--model", args.gguf.stem, "--base-url", base_url]
                    else:
                        run.backend = ["--backend", "llamacpp", "--model", str(args.gguf)]
                if args.together:  # threads only wait for their run's process
                    with ThreadPoolExecutor(len(runs)) as pool:
                        results = list(pool.map(lambda run: execute(run, args), runs))
                else:
                    results = [execute(run, args) for run in runs]
            for result in results:
                report(result)


if __name__ == "__main__":
    main()
