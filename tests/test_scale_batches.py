"""Vendor batches split at the vendor's limits, submitted and polled together, resumed after a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.errors import BackendError
from lusifer.api.settings import LusiferConfig
from lusifer.engine.backends.anthropic_backend import AnthropicBackend
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.calls.batch import BatchCallLayer
from lusifer.engine.calls.batch_limits import ANTHROPIC_BATCH_LIMITS, OPENAI_BATCH_LIMITS, BatchLimits, split_batches
from lusifer.runs.batch_runner import run_in_batches
from lusifer.runs.session import call_settings
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, FakeServer

VENDORS = {"openai": (FakeOpenAIServer, OpenAIBackend), "anthropic": (FakeAnthropicServer, AnthropicBackend)}


def requests(count: int, words: int = 5) -> list[LLMRequest]:
    return [
        LLMRequest("profile", (Message("system", "Describe."), Message("user", f"user {i}: " + "x " * words)))
        for i in range(count)
    ]


def layer(vendor: str, server: FakeServer, run_dir: Path, limits: BatchLimits) -> BatchCallLayer:
    config = LusiferConfig.model_validate(
        {"backend": {"name": vendor, "base_url": server.base_url}, "cache": {"enabled": False}}
    )
    backend = VENDORS[vendor][1](config.backend, SecretStr("sk-test"))
    backend.batch_limits = limits  # a small vendor, so that a test's queue exceeds one batch
    return BatchCallLayer(backend, call_settings(config), RunStore(run_dir), poll_seconds=0.01)


async def answer(calls: BatchCallLayer, asked: list[LLMRequest]) -> list[object]:
    tasks = [asyncio.ensure_future(calls.call(request)) for request in asked]
    try:
        await run_in_batches(calls, tasks)
        return await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await calls.aclose()


def test_the_documented_vendor_limits() -> None:
    assert (OPENAI_BATCH_LIMITS.max_requests, OPENAI_BATCH_LIMITS.max_bytes) == (50_000, 200_000_000)
    assert (ANTHROPIC_BATCH_LIMITS.max_requests, ANTHROPIC_BATCH_LIMITS.max_bytes) == (100_000, 256_000_000)


def test_split_respects_request_count_and_bytes_and_keeps_order() -> None:
    sizes = {f"k{i}": 10 for i in range(7)} | {"big": 35, "huge": 1000}
    batches, too_large = split_batches(sizes, BatchLimits(max_requests=3, max_bytes=40))
    assert batches == [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k6"], ["big"]] and too_large == ["huge"]


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_queue_over_the_request_limit_goes_out_as_several_batches(vendor: str, tmp_path: Path) -> None:
    with VENDORS[vendor][0](batch_polls=2) as server:
        results = asyncio.run(answer(layer(vendor, server, tmp_path, BatchLimits(3, 10**9)), requests(7)))
        sizes = sorted(len(batch.requests) for batch in server.batches.values())
    assert sizes == [1, 3, 3]
    assert all(not isinstance(result, BaseException) and result.response is not None for result in results)
    assert RunStore(tmp_path).open_batches(vendor) == {}  # every batch ended and was closed


def test_the_byte_limit_splits_and_an_oversized_request_fails_alone(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        calls = layer("openai", server, tmp_path, BatchLimits(1000, 0))
        size = calls.vendor.batch_request_size("key", requests(1)[0])  # type: ignore[attr-defined]
        calls.vendor.batch_limits = BatchLimits(1000, 2 * size + 200)  # type: ignore[attr-defined]
        results = asyncio.run(answer(calls, [*requests(5), *requests(1, words=1000)]))
        sizes = sorted(len(batch.requests) for batch in server.batches.values())
    assert sizes == [1, 2, 2]
    assert all(result.response is not None for result in results[:5])  # type: ignore[union-attr]
    assert isinstance(results[5], BackendError) and "larger than one batch may be" in str(results[5])


def test_a_rerun_polls_every_stored_batch_instead_of_submitting_again(tmp_path: Path) -> None:
    with FakeOpenAIServer(batch_polls=10**6) as server:  # the batches never end during the first run

        async def interrupted() -> None:
            calls = layer("openai", server, tmp_path, BatchLimits(2, 10**9))
            tasks = [asyncio.ensure_future(calls.call(request)) for request in requests(5)]
            driver = asyncio.ensure_future(run_in_batches(calls, tasks))
            while len(calls.store.open_batches("openai")) < 3:
                await asyncio.sleep(0.01)
            for task in (driver, *tasks):
                task.cancel()
            await asyncio.gather(driver, *tasks, return_exceptions=True)
            await calls.aclose()
            calls.store.close()

        asyncio.run(interrupted())
        assert len(server.batches) == 3
        server.batch_polls = 1  # the vendor finishes them meanwhile
        results = asyncio.run(answer(layer("openai", server, tmp_path, BatchLimits(2, 10**9)), requests(5)))
        assert len(server.batches) == 3  # nothing submitted again
    assert all(result.response is not None for result in results)  # type: ignore[union-attr]
