"""The vendor backends' pooled HTTP client: every admitted call gets a connection at once, through the SDKs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.settings import LusiferConfig
from lusifer.engine.backends.anthropic_backend import AnthropicBackend
from lusifer.engine.backends.http_pool import ShardedTransport, http_client
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.calls import CallLayer
from lusifer.runs.session import call_settings
from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer

REQUEST = LLMRequest("profile", (Message("system", "Describe the user."), Message("user", "Ratings: ...")))


def test_pools_are_split_into_small_shards_that_add_up_to_the_concurrency() -> None:
    assert ShardedTransport(1).shards == 1
    assert ShardedTransport(10, per_shard=4).shards == 3
    assert http_client(256, 30.0)._transport.shards == 64  # type: ignore[attr-defined]


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_calls_up_to_max_concurrency_are_all_in_flight_at_once(vendor: str, tmp_path: Path) -> None:
    server_class = FakeOpenAIServer if vendor == "openai" else FakeAnthropicServer
    with server_class(latency=0.3, max_concurrency=10) as server:
        config = LusiferConfig.model_validate(
            {
                "backend": {"name": vendor, "base_url": server.base_url, "max_concurrency": 10, "timeout": 10},
                "cache": {"enabled": False, "path": str(tmp_path / "cache.sqlite")},
            }
        )
        backend_class = OpenAIBackend if vendor == "openai" else AnthropicBackend
        backend = backend_class(config.backend, SecretStr("sk-test"))
        calls = CallLayer(backend, call_settings(config))

        async def forty_calls() -> None:
            try:
                await asyncio.gather(*(calls.call(REQUEST) for _ in range(40)))
            finally:
                await calls.aclose()

        asyncio.run(forty_calls())
    assert calls.stats.calls == 40 and calls.stats.rate_limited == 0
    assert server.max_in_flight == 10  # no call waited for a connection of a busy shard
