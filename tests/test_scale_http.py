"""The vendor backends' pooled HTTP client: every admitted call gets a connection at once, through the SDKs."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest
from pydantic import SecretStr

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.errors import ConfigError
from lusifer.api.settings import BackendConfig, LusiferConfig
from lusifer.engine.backends.anthropic_backend import AnthropicBackend
from lusifer.engine.backends.http_pool import ShardedTransport, http_client, transport_of
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.calls import CallLayer
from lusifer.runs.session import call_settings
from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer

REQUEST = LLMRequest("profile", (Message("system", "Describe the user."), Message("user", "Ratings: ...")))


def test_pools_are_split_into_small_shards_that_add_up_to_the_concurrency() -> None:
    assert ShardedTransport(1).shards == 1
    assert ShardedTransport(10, per_shard=4).shards == 3
    assert http_client(256, 30.0)._transport.shards == 64  # type: ignore[attr-defined]


def test_auto_takes_aiohttp_where_it_can_and_httpx_otherwise() -> None:
    import openai

    assert transport_of(BackendConfig(name="openai"), openai) == "aiohttp"
    assert transport_of(BackendConfig(name="openai"), openai, "http://user:secret@127.0.0.1:8000/v1") == "httpx"
    assert transport_of(BackendConfig(name="openai", http_transport="httpx"), openai) == "httpx"

    class OldSdk:  # an SDK release without DefaultAioHttpClient
        __name__ = "openai"

    assert transport_of(BackendConfig(name="openai"), OldSdk()) == "httpx"
    with pytest.raises(ConfigError, match=r"lusifer\[aiohttp\]"):
        transport_of(BackendConfig(name="openai", http_transport="aiohttp"), OldSdk())


def test_aiohttp_with_credentials_in_the_base_url_is_a_config_error() -> None:
    import openai

    aiohttp = BackendConfig(name="openai", http_transport="aiohttp")
    with pytest.raises(ConfigError, match="credentials in the base URL") as caught:
        transport_of(aiohttp, openai, "http://user:secret@127.0.0.1:8000/v1")
    assert "secret" not in str(caught.value)


TRANSPORTS = ["httpx", "aiohttp"]  # aiohttp: a core dependency (the SDKs' aiohttp extras)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_calls_up_to_max_concurrency_are_all_in_flight_at_once(vendor: str, transport: str, tmp_path: Path) -> None:
    server_class = FakeOpenAIServer if vendor == "openai" else FakeAnthropicServer
    with server_class(latency=0.3, max_concurrency=10) as server:
        config = LusiferConfig.model_validate(
            {
                "backend": {
                    "name": vendor,
                    "base_url": server.base_url,
                    "max_concurrency": 10,
                    "timeout": 10,
                    "http_transport": transport,
                },
                "cache": {"enabled": False, "path": str(tmp_path / "cache.sqlite")},
            }
        )
        backend_class = OpenAIBackend if vendor == "openai" else AnthropicBackend
        backend = backend_class(config.backend, SecretStr("sk-test"))
        client = backend._client._client  # type: ignore[attr-defined]  # the SDK's HTTP client
        assert isinstance(client._transport, ShardedTransport) == (transport == "httpx")
        sdk = importlib.import_module(vendor)
        assert isinstance(client, sdk.DefaultAioHttpClient) == (transport == "aiohttp")
        calls = CallLayer(backend, call_settings(config))

        async def forty_calls() -> list[str]:
            try:
                results = await asyncio.gather(*(calls.call(REQUEST) for _ in range(40)))
            finally:
                await calls.aclose()
            return [result.response.text for result in results if result.response is not None]

        texts = asyncio.run(forty_calls())
    assert len(texts) == 40 and all(texts)  # every answer came back whole through the transport
    assert calls.stats.calls == 40 and calls.stats.rate_limited == 0
    assert server.max_in_flight == 10  # no call waited for a connection of a busy shard
