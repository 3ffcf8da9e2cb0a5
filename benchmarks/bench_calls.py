"""Throughput of the call layer against the fake OpenAI server (real SDK, real HTTP on loopback).

The server answers after 300 ms ± 50 ms and refuses (429) anything beyond its concurrency cap. With
``max_concurrency`` equal to the cap, the call layer should sustain close to the ideal
``cap / latency`` calls per second without a single 429. A second scenario adds a requests-per-minute
limit below that ideal; its ideal is the limit plus the one-second burst the token bucket starts with.

    python benchmarks/bench_calls.py [--requests 400] [--cap 16] [--latency 0.3] [--rpm 1800]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.settings import LusiferConfig
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.calls import CallLayer
from lusifer.engine.validation import FeedbackValidator, feedback_schema
from lusifer.testing.contracts import sample_feedback_context
from lusifer.testing.fake_servers import FakeOpenAIServer

ITEM_IDS = [str(item_id) for item_id in range(1, 21)]
REQUEST = LLMRequest(
    "feedback",
    (Message("system", "You rate movies."), Message("user", "Rate movies 1 to 20. " * 40)),
    schema=feedback_schema(ITEM_IDS, 1, 5),
    schema_name="feedback",
    context=sample_feedback_context(ITEM_IDS),
)


@dataclass
class Outcome:
    """What one scenario measured."""

    name: str
    requests: int
    seconds: float
    ideal_per_second: float
    rate_limited: int
    max_in_flight: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        share = 100 * self.per_second / self.ideal_per_second
        return (
            f"{self.name:<28} {self.requests:>5} calls in {self.seconds:6.2f} s = {self.per_second:6.1f}/s "
            f"of ideal {self.ideal_per_second:5.1f}/s ({share:5.1f} %), 429s: {self.rate_limited}, "
            f"server max in flight: {self.max_in_flight}"
        )


async def _drive(config: LusiferConfig, requests: int) -> tuple[float, int]:
    calls = CallLayer(OpenAIBackend(config.backend), config)
    validators = (FeedbackValidator(),)
    try:
        started = time.perf_counter()
        results = await asyncio.gather(*(calls.call(REQUEST, validators) for _ in range(requests)))
        elapsed = time.perf_counter() - started
    finally:
        await calls.aclose()
    assert all(result.validation is not None and result.validation.ok for result in results)
    return elapsed, calls.stats.rate_limited


def scenario(name: str, requests: int, cap: int, latency: float, rpm: float | None, folder: Path) -> Outcome:
    """Send ``requests`` calls at once through one call layer and time them."""
    with FakeOpenAIServer(latency=latency, jitter=latency / 6, max_concurrency=cap) as server:
        config = LusiferConfig.model_validate(
            {
                "backend": {
                    "name": "openai",
                    "base_url": server.base_url,
                    "max_concurrency": cap,
                    "requests_per_minute": rpm,
                    "timeout": 10 * latency,
                },
                "cache": {"enabled": False, "path": str(folder / "cache.sqlite")},
            }
        )
        seconds, rate_limited = asyncio.run(_drive(config, requests))
        ideal = cap / latency
        if rpm is not None and rpm / 60 < ideal:  # the bucket starts with one second's worth, then refills
            burst = max(1.0, rpm / 60)
            ideal = requests / ((requests - burst) / (rpm / 60))
        return Outcome(name, requests, seconds, ideal, rate_limited, server.max_in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--cap", type=int, default=16, help="server concurrency cap = max_concurrency")
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--rpm", type=float, default=1800.0, help="requests per minute in the second scenario")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, rpm in (
            ("concurrency cap only", None),
            (f"plus {arguments.rpm:g} requests/min", arguments.rpm),
        ):
            outcome = scenario(name, arguments.requests, arguments.cap, arguments.latency, rpm, Path(folder))
            print(outcome.line())


if __name__ == "__main__":
    main()
