"""The OpenAI backend through the real SDK against the fake OpenAI server, via the call layer."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from calls_helpers import SECRET, VALIDATORS, feedback_request, layer, make_config
from pydantic import SecretStr

from lusifer.api.errors import BackendError, KeyMissingError
from lusifer.api.exchange import Exchange
from lusifer.engine.backends.errors import AuthError
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.runs.backend_factory import create_backend
from lusifer.testing.fake_servers import REDACTED, FakeOpenAIServer, FakeReply

ANSWER = json.dumps({"ratings": {"10": 4, "20": 2}})


@pytest.fixture
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer(lambda request: FakeReply(content=ANSWER)) as fake:
        yield fake


def _call(server: FakeOpenAIServer, tmp_path: Path, exchanges: list[Exchange] | None = None, **backend: object):
    config = make_config(tmp_path, name="openai", base_url=server.base_url, **backend)

    async def go():
        calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config, exchanges)
        try:
            return await calls.call(feedback_request(), VALIDATORS, user_id="7"), calls.stats
        finally:
            await calls.aclose()

    return asyncio.run(go())


def test_success_sends_a_strict_json_schema(server: FakeOpenAIServer, tmp_path: Path) -> None:
    exchanges: list[Exchange] = []
    result, stats = _call(server, tmp_path, exchanges, temperature=0.2, seed=42, max_tokens=300)
    assert result.validation.ok and result.validation.value == {"10": 4, "20": 2}
    assert not result.cached and stats.calls == 1 and stats.prompt_tokens > 0
    sent = server.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {REDACTED}"
    body = sent.json
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0.2 and body["seed"] == 42
    assert body["max_tokens"] == 300
    assert body["messages"][0] == {"role": "system", "content": "You are a movie watcher. Answer in JSON."}
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "feedback" and response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["required"] == ["ratings"]
    (exchange,) = exchanges
    assert exchange.user_id == "7" and exchange.attempts == 1 and exchange.parsed == {"ratings": {"10": 4, "20": 2}}
    assert exchange.parameters == {
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "seed": 42,
        "max_tokens": 300,
        "logprobs": False,
        "structured_output": "auto",  # the default: negotiated, json_schema first
    }
    assert exchange.cost_usd > 0


@pytest.mark.parametrize(("mode", "expected"), [("json_object", {"type": "json_object"}), ("none", None)])
def test_other_structured_output_modes(server: FakeOpenAIServer, tmp_path: Path, mode: str, expected: object) -> None:
    _call(server, tmp_path, structured_output=mode)
    assert server.requests[-1].json.get("response_format") == expected


def test_logprobs_are_returned(server: FakeOpenAIServer, tmp_path: Path) -> None:
    result, _ = _call(server, tmp_path, logprobs=True)
    assert server.requests[-1].json["logprobs"] is True
    assert result.response.logprobs and "".join(entry["token"] for entry in result.response.logprobs) == ANSWER


def test_rate_limit_waits_for_retry_after(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.inject(FakeReply(status=429, headers={"Retry-After": "0.3"}))
    exchanges: list[Exchange] = []
    started = time.monotonic()
    result, stats = _call(server, tmp_path, exchanges)
    assert time.monotonic() - started >= 0.3
    assert result.validation.ok and len(server.requests) == 2
    assert stats.rate_limited == 1 and stats.retries == 1 and stats.calls == 2
    assert exchanges[0].attempts == 2 and exchanges[0].error is None


def test_retry_after_ms_header_is_read(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.inject(FakeReply(status=429, headers={"retry-after-ms": "250"}))
    started = time.monotonic()
    result, _ = _call(server, tmp_path)
    assert time.monotonic() - started >= 0.25 and result.validation.ok


@pytest.mark.parametrize(
    "fault",
    [
        FakeReply(status=500),
        FakeReply(status=503),
        FakeReply(raw="{this is not json"),
        FakeReply(json={"unexpected": True}),
        FakeReply(drop=True),
    ],
    ids=["500", "503", "malformed-body", "wrong-shape", "connection-drop"],
)
def test_transient_fault_then_success(server: FakeOpenAIServer, tmp_path: Path, fault: FakeReply) -> None:
    server.inject(fault)
    result, stats = _call(server, tmp_path)
    assert result.validation.ok and stats.retries == 1 and len(server.requests) == 2


def test_timeout_then_success(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.inject(FakeReply(content=ANSWER, delay=1.5))
    result, stats = _call(server, tmp_path, timeout=0.3)
    assert result.validation.ok and stats.retries == 1


def test_malformed_answer_is_a_problem_not_a_retry(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda request: FakeReply(content="I would rather not say.")) as fake:
        result, stats = _call(fake, tmp_path)
    assert stats.calls == 1 and stats.retries == 0
    assert set(result.validation.problems) == {"*"} and "no JSON object" in result.validation.problems["*"]
    assert result.exchange.parsed is None and result.exchange.raw_text == "I would rather not say."


def test_retries_exhausted_raise_and_record(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.inject(*[FakeReply(status=500)] * 3)
    exchanges: list[Exchange] = []
    with pytest.raises(BackendError, match="500"):
        _call(server, tmp_path, exchanges, max_retries=2)
    assert len(server.requests) == 3
    (exchange,) = exchanges
    assert exchange.error and "500" in exchange.error and exchange.attempts == 3 and exchange.raw_text is None


def test_client_errors_are_not_retried(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.inject(FakeReply(status=400))
    with pytest.raises(BackendError, match="400"):
        _call(server, tmp_path)
    assert len(server.requests) == 1


def test_key_never_leaks(tmp_path: Path) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {SECRET}", "type": "invalid_request_error"}}
    exchanges: list[Exchange] = []
    with FakeOpenAIServer(lambda request: FakeReply(content=ANSWER)) as fake:
        _call(fake, tmp_path, exchanges)  # fills the cache
        fake.inject(FakeReply(status=401, json=echo))
        with pytest.raises(AuthError) as caught:  # a refused key stops the run: not a BackendError
            _call(fake, tmp_path, exchanges, temperature=0.5)  # a new cache key: reaches the server
    assert SECRET not in str(caught.value) and "***" in str(caught.value)
    assert all(SECRET not in json.dumps(exchange.to_dict()) for exchange in exchanges)
    assert all(SECRET not in json.dumps(request.headers) for request in fake.requests)
    cache_bytes = b"".join(path.read_bytes() for path in tmp_path.glob("cache.sqlite*"))
    assert cache_bytes and SECRET.encode() not in cache_bytes
    assert SECRET not in repr(OpenAIBackend(make_config(tmp_path).backend, SecretStr(SECRET)))


def test_keyless_compatible_server(server: FakeOpenAIServer, tmp_path: Path) -> None:
    config = make_config(tmp_path, name="openai", base_url=server.base_url)
    backend = create_backend(config)
    response = asyncio.run(backend.acomplete(feedback_request()))
    assert json.loads(response.text) == {"ratings": {"10": 4, "20": 2}}
    assert server.requests[-1].headers["authorization"] == f"Bearer {REDACTED}"


def test_missing_key_without_base_url(tmp_path: Path) -> None:
    with pytest.raises(KeyMissingError, match="lusifer keys set openai"):
        create_backend(make_config(tmp_path, name="openai"))


def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    backend = create_backend(make_config(tmp_path, name="openai"))
    assert isinstance(backend, OpenAIBackend) and backend.model == "gpt-4o-mini"
