"""The Anthropic backend through the real SDK against the fake Anthropic server, via the call layer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from calls_helpers import SECRET, VALIDATORS, feedback_request, layer, make_config
from pydantic import SecretStr

from lusifer.api.errors import BackendError, KeyMissingError
from lusifer.api.exchange import Exchange
from lusifer.engine.backends.anthropic_backend import AnthropicBackend
from lusifer.engine.backends.errors import AuthError
from lusifer.runs.backend_factory import create_backend
from lusifer.testing.fake_servers import REDACTED, FakeAnthropicServer, FakeReply

ANSWER = json.dumps({"ratings": {"10": 5, "20": 1}})


@pytest.fixture
def server() -> FakeAnthropicServer:
    with FakeAnthropicServer(lambda request: FakeReply(content=ANSWER)) as fake:
        yield fake


def _call(server: FakeAnthropicServer, tmp_path: Path, exchanges: list[Exchange] | None = None, **backend: object):
    config = make_config(tmp_path, name="anthropic", base_url=server.base_url, **backend)

    async def go():
        calls = layer(AnthropicBackend(config.backend, SecretStr(SECRET)), config, exchanges)
        try:
            return await calls.call(feedback_request(), VALIDATORS), calls.stats
        finally:
            await calls.aclose()

    return asyncio.run(go())


def test_success_forces_the_schema_tool(server: FakeAnthropicServer, tmp_path: Path) -> None:
    result, stats = _call(server, tmp_path, max_tokens=200)
    assert result.validation.ok and result.validation.value == {"10": 5, "20": 1}
    assert json.loads(result.response.text) == {"ratings": {"10": 5, "20": 1}}
    assert result.response.finish_reason == "tool_use" and stats.completion_tokens > 0
    sent = server.requests[-1]
    assert sent.path == "/v1/messages" and sent.headers["Authorization"] == f"Bearer {REDACTED}"
    body = sent.json
    assert body["model"] == "claude-haiku-4-5" and body["max_tokens"] == 200
    assert body["system"] == "You are a movie watcher. Answer in JSON."
    assert [message["role"] for message in body["messages"]] == ["user"]
    assert body["tool_choice"] == {"type": "tool", "name": "feedback"}
    (tool,) = body["tools"]
    assert tool["name"] == "feedback" and tool["input_schema"]["required"] == ["ratings"]
    assert "temperature" not in body  # API version 2026-10-21 rejects sampling parameters


def test_without_structured_output_the_text_block_is_the_answer(server: FakeAnthropicServer, tmp_path: Path) -> None:
    result, _ = _call(server, tmp_path, structured_output="none")
    assert "tools" not in server.requests[-1].json and result.validation.ok


def test_retries_exhausted_raise_and_record(server: FakeAnthropicServer, tmp_path: Path) -> None:
    server.inject(*[FakeReply(status=529)] * 2)
    exchanges: list[Exchange] = []
    with pytest.raises(BackendError, match="529"):
        _call(server, tmp_path, exchanges, max_retries=1)
    (exchange,) = exchanges
    assert exchange.error and exchange.attempts == 2 and len(server.requests) == 2


def test_key_never_leaks(server: FakeAnthropicServer, tmp_path: Path) -> None:
    echo = {
        "type": "error",
        "error": {"type": "authentication_error", "message": f"invalid x-api-key {SECRET}"},
    }
    server.inject(FakeReply(status=401, json=echo))
    exchanges: list[Exchange] = []
    with pytest.raises(AuthError) as caught:  # a refused key stops the run
        _call(server, tmp_path, exchanges)
    assert SECRET not in str(caught.value)
    assert all(SECRET not in json.dumps(exchange.to_dict()) for exchange in exchanges)
    assert all(SECRET not in json.dumps(request.headers) for request in server.requests)


def test_key_is_required(tmp_path: Path) -> None:
    with pytest.raises(KeyMissingError, match="ANTHROPIC_API_KEY"):
        create_backend(make_config(tmp_path, name="anthropic"))
