"""Calls per second and client CPU per call at high concurrency, before and after the lean call path.

A fake OpenAI server runs in its own process (so the client's CPU time is the client's alone), answers
after ``--latency`` ± ``--latency / 6`` seconds and refuses (429) anything beyond C requests in flight.
One call layer with ``max_concurrency = C`` sends ``--seconds`` x C / latency feedback calls at once
through the real ``openai`` SDK, for each C of ``--caps`` and each client:

- **sdk default**: the SDK's own HTTP client (httpx, at most 100 kept-alive connections), as before;
- **lean**: :func:`lusifer.engine.backends.http_pool.http_client` — pools sized to C, split into shards of at
  most :data:`~lusifer.engine.backends.http_pool.CONNECTIONS_PER_SHARD` connections (``http_transport = "httpx"``);
- **aiohttp**: the SDK's aiohttp client (``openai.DefaultAioHttpClient``), its connector sized to C
  (``http_transport = "aiohttp"``; what the default, ``"auto"``, takes where aiohttp is installed).

Share of C/L is calls/s divided by the ideal C / latency. CPU per call is the client process's CPU time
(user + system) over the calls.

``--estimate`` instead compares ``lusifer estimate`` with an actual paper-protocol run (ML-100K + TMDB,
459 users) against the fake server answering as ``bench_throughput.fake_model`` does: uncalibrated,
and calibrated on a pilot run of ``--pilot`` users (``--calibrate-from``). No response cache, so the
actual run pays for every call as the estimate assumes.

    python benchmarks/bench_scale.py [--caps 16 64 256] [--latency 0.3] [--seconds 3]
    python benchmarks/bench_scale.py --estimate [--pilot 20]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.settings import LusiferConfig
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.calls import CallLayer, CallSettings
from lusifer.engine.validation import FeedbackValidator, feedback_schema
from lusifer.testing.contracts import sample_feedback_context

ITEM_IDS = [str(item_id) for item_id in range(1, 11)]
REQUEST = LLMRequest(
    "feedback",
    (Message("system", "You rate movies."), Message("user", "Rate movies 1 to 10. " * 40)),
    schema=feedback_schema(ITEM_IDS, 1, 5),
    schema_name="feedback",
    context=sample_feedback_context(ITEM_IDS),
)


def serve(cap: int, latency: float) -> None:
    """The server process: print the base URL, serve until stdin closes."""
    from lusifer.testing.fake_servers import FakeOpenAIServer

    with FakeOpenAIServer(latency=latency, jitter=latency / 6, max_concurrency=cap) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


def _default_sdk_client(backend: OpenAIBackend) -> None:
    """Give ``backend`` the SDK's own HTTP client (the call path before the lean one)."""
    import openai

    from lusifer.api.backend import sdk_timeout

    backend._client = openai.AsyncOpenAI(
        api_key="not-needed", base_url=backend.config.base_url, max_retries=0, timeout=sdk_timeout(backend.config)
    )


async def _drive(config: LusiferConfig, requests: int, client: str) -> tuple[float, float, int]:
    backend = OpenAIBackend(config.backend)
    if client == "sdk":
        _default_sdk_client(backend)
    calls = CallLayer(backend, CallSettings(config.backend, config.cache))
    validators = (FeedbackValidator(),)
    try:
        cpu, started = time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(calls.call(REQUEST, validators) for _ in range(requests)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await calls.aclose()
    assert all(result.validation is not None and result.validation.ok for result in results)
    return elapsed, cpu, calls.stats.rate_limited


#: The ``--clients`` choices: (table label, ``backend.http_transport``).
CLIENTS = {"sdk": ("sdk default", "httpx"), "lean": ("lean httpx", "httpx"), "aiohttp": ("aiohttp", "aiohttp")}


def measure(cap: int, latency: float, seconds: float, client: str, folder: Path) -> str:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(cap), "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        config = LusiferConfig.model_validate(
            {
                "backend": {
                    "name": "openai",
                    "base_url": base_url,
                    "max_concurrency": cap,
                    "timeout": 20 * latency,
                    "http_transport": CLIENTS[client][1],
                },
                "cache": {"enabled": False, "path": str(folder / "cache.sqlite")},
            }
        )
        ideal = cap / latency
        requests = max(int(seconds * ideal), 2 * cap)
        elapsed, cpu, limited = asyncio.run(_drive(config, requests, client))
    finally:
        server.communicate("")
    rate = requests / elapsed
    return (
        f"| {cap} | {CLIENTS[client][0]} | {requests} | {rate:.1f} | {100 * rate / ideal:.1f} % | "
        f"{1000 * cpu / requests:.2f} ms | {limited} |"
    )


def compare_estimate(pilot_users: int) -> None:
    """Print estimate vs actual for the paper protocol, uncalibrated and calibrated on a pilot run."""
    from bench_throughput import fake_model, paper_config

    from lusifer.runs.estimate import estimate_run
    from lusifer.runs.estimate_calibration import calibration_from_store
    from lusifer.runs.runner import run_simulation
    from lusifer.runs.session import plan_run
    from lusifer.runs.store import RunStore
    from lusifer.testing.fake_servers import FakeOpenAIServer

    with tempfile.TemporaryDirectory() as folder, FakeOpenAIServer(fake_model([]), latency=0.02) as server:
        root = Path(folder)

        def configured(out: str, users: int | None) -> LusiferConfig:
            config = paper_config(server.base_url, 64, root / out, root / "cache.sqlite", users or 10**6)
            return config.model_copy(update={"cache": config.cache.model_copy(update={"enabled": False})})

        run_simulation(configured("pilot", pilot_users))
        full = configured("full", None)
        run_simulation(full)
        actual = RunStore(root / "full").exchange_totals()
        plan = plan_run(full)
        estimates = {
            "uncalibrated": estimate_run(full, plan),
            f"calibrated on {pilot_users} users": estimate_run(full, plan, calibration_from_store(root / "pilot")),
        }
    print("| estimate | calls | prompt tokens | completion tokens | completion 95 % interval |")
    print("|---|---|---|---|---|")
    print(f"| actual | {actual['exchanges']:,} | {actual['prompt_tokens']:,} | {actual['completion_tokens']:,} | |")
    for name, estimate in estimates.items():
        low, high = estimate.completion_tokens_range
        print(
            f"| {name} | {estimate.calls:,} ({_off(estimate.calls, actual['exchanges'])}) | "
            f"{estimate.prompt_tokens:,} ({_off(estimate.prompt_tokens, actual['prompt_tokens'])}) | "
            f"{estimate.completion_tokens:,} ({_off(estimate.completion_tokens, actual['completion_tokens'])}) | "
            f"{low:,}-{high:,} |"
        )


def _off(estimated: float, actual: float) -> str:
    return f"{100 * (estimated / actual - 1):+.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--caps", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--seconds", type=float, default=3.0, help="ideal duration of each measurement")
    parser.add_argument("--clients", nargs="+", default=list(CLIENTS), choices=list(CLIENTS))
    parser.add_argument("--estimate", action="store_true", help="compare lusifer estimate with a real run")
    parser.add_argument("--pilot", type=int, default=20, help="users of the calibrating pilot run")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve, arguments.latency)
        return
    if arguments.estimate:
        compare_estimate(arguments.pilot)
        return
    print("| C | client | calls | calls/s | share of C/L | client CPU per call | 429s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for cap in arguments.caps:
            for client in arguments.clients:
                print(measure(cap, arguments.latency, arguments.seconds, client, Path(folder)), flush=True)


if __name__ == "__main__":
    main()
