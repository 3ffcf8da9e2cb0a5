"""A real local GGUF model on the paper protocol: through llama-cpp-python's server, and in-process.

Each path runs ``lusifer run --protocol paper --users N`` in a fresh process with a fresh user dir (no
cached answers), one user at a time (a CPU model answers one request at a time anyway):

- **server**: ``python -m llama_cpp.server`` on loopback, ``--backend openai --base-url ...`` with
  ``structured_output = "auto"`` (it settles on ``json_object`` + ``schema``);
- **in-process**: ``--backend llamacpp --model PATH.gguf`` (lusifer-plugin-llamacpp).

Reported per path: wall time of the run, model calls, seconds per call, the share of first answers
that were valid as given, re-asks (calls that repeat a request after an unusable answer), ratings
obtained, and RMSE / MAE / Pearson from ``lusifer evaluate`` beside the CF baselines trained on the
same training slice. With a 135M model this is an integration check, not a fidelity result.

    python benchmarks/bench_local_models.py --gguf SmolLM2-135M-Instruct.Q4_1.gguf \\
        --data-dir ../shared/data/ml-100k --enrich-file ../shared/data/tmdb/ml-100k-tmdb.csv [--users 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from lusifer.runs.store import RunStore
from lusifer.testing.local_model import llama_cpp_server, run_environment

REASK = "Your previous answer"


def run_path(name: str, backend: list[str], args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Run the simulation through one path and measure it."""
    run_dir = folder / name
    command = [sys.executable, "-m", "lusifer", "run", "--no-progress", "--protocol", "paper"]
    command += ["--data-dir", str(args.data_dir), "--enrich-file", str(args.enrich_file), "--users", str(args.users)]
    command += ["--concurrency", "1", "--out", str(run_dir), *backend]
    environment = run_environment(folder / f"home-{name}")
    environment["LUSIFER_BACKEND__MAX_TOKENS"] = str(args.max_tokens)
    environment["LUSIFER_BACKEND__TIMEOUT"] = "600"
    started = time.monotonic()
    finished = subprocess.run(command, capture_output=True, text=True, env=environment)
    wall = time.monotonic() - started
    if finished.returncode not in (0, 1):  # 1: some items failed, which is measured below
        raise RuntimeError(f"{name}: lusifer run failed: {finished.stderr[-2000:]}")
    store = RunStore(run_dir)
    exchanges = [exchange for exchange in store.exchanges() if not exchange["cache_hit"]]
    store.close()
    reasks = [exchange for exchange in exchanges if REASK in exchange["messages"][-1]["content"]]
    first = [exchange for exchange in exchanges if REASK not in exchange["messages"][-1]["content"]]
    valid_first = [exchange for exchange in first if not exchange["problems"] and not exchange["error"]]
    ratings = pd.read_csv(run_dir / "ratings.csv")
    return {
        "path": name,
        "wall_s": wall,
        "calls": len(exchanges),
        "s_per_call": wall / max(len(exchanges), 1),
        "valid_first": len(valid_first) / max(len(first), 1),
        "reasks": len(reasks),
        "ratings": int(ratings["simulated_rating"].notna().sum()),
        "rows": len(ratings),
        "metrics": evaluate(run_dir, args),
    }


def evaluate(run_dir: Path, args: argparse.Namespace) -> pd.DataFrame:
    """RMSE, MAE and Pearson of the run and of the baselines on the same rows (``lusifer evaluate``)."""
    out = run_dir / "evaluation"
    command = [sys.executable, "-m", "lusifer", "evaluate", str(run_dir), "--protocol", "paper"]
    command += ["--data-dir", str(args.data_dir), "--enrich-file", str(args.enrich_file)]
    command += ["--no-calibrate", "--bootstrap", "0", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return pd.read_csv(out / "metrics.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--enrich-file", type=Path, required=True)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=1024, help="Answer limit (backend.max_tokens).")
    parser.add_argument("--paths", nargs="+", default=["server", "in-process"], choices=["server", "in-process"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for name in args.paths:
            if name == "server":
                with llama_cpp_server(args.gguf) as base_url:
                    backend = ["--backend", "openai", "--model", args.gguf.stem, "--base-url", base_url]
                    report(run_path(name, backend, args, folder))
            else:
                report(run_path(name, ["--backend", "llamacpp", "--model", str(args.gguf)], args, folder))


def report(result: dict[str, Any]) -> None:
    print(
        f"{result['path']}: wall {result['wall_s']:.0f} s, {result['calls']} calls, "
        f"{result['s_per_call']:.2f} s/call, valid first answers {result['valid_first']:.0%}, "
        f"{result['reasks']} re-asks, ratings {result['ratings']}/{result['rows']}"
    )
    print(result["metrics"].to_string(index=False), flush=True)

if __name__ == "__main__":
    main()
