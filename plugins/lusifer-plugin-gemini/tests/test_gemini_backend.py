"""The Gemini backend through the real google-genai SDK against a fake Gemini server on loopback."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import SecretStr

from gemini_fixtures import KEY, REQUEST
from lusifer import (
    BackendConfig,
    BackendError,
    KeyMissingError,
    LLMRequest,
    LLMResponse,
    RateLimitedError,
    RetryableError,
)
from lusifer.testing import FakeReply, check_backend, get_backend, invoke_cli, set_key
from lusifer_plugin_gemini.backend import GeminiBackend
from lusifer_plugin_gemini.fake_server import FakeGeminiServer


def _backend(server: FakeGeminiServer, **settings: object) -> GeminiBackend:
    config = BackendConfig(name="gemini", base_url=server.base_url, **settings)  # type: ignore[arg-type]
    return GeminiBackend(config, SecretStr(KEY))


def _ask(backend: GeminiBackend, request: LLMRequest = REQUEST) -> LLMResponse:
    async def ask() -> LLMResponse:
        try:
            return await backend.acomplete(request)
        finally:
            await backend.aclose()

    return asyncio.run(ask())


def test_the_plugin_registers_the_backend() -> None:
    assert get_backend("gemini") is GeminiBackend and GeminiBackend.key_name == "gemini"
    listing = json.loads(invoke_cli("plugins").output)
    gemini = next(plugin for plugin in listing["plugins"] if plugin["name"] == "gemini")
    assert gemini["package"] == "lusifer-plugin-gemini" and gemini["registered"] == {"backends": ["gemini"]}
    assert "key: gemini" in invoke_cli("backends").output


def test_check_backend_passes_against_the_fake_server(server: FakeGeminiServer) -> None:
    response = check_backend(GeminiBackend, BackendConfig(name="gemini", base_url=server.base_url), KEY)
    assert json.loads(response.text) == {"ratings": {"1": 3, "2": 3}}


def test_the_request_carries_system_instruction_roles_schema_and_settings(server: FakeGeminiServer) -> None:
    response = _ask(_backend(server, temperature=0.3, max_tokens=200, seed=7))
    sent = server.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == KEY
    body = sent.json
    assert body["systemInstruction"]["parts"] == [{"text": "You rate movies."}]
    assert [content["role"] for content in body["contents"]] == ["user", "model", "user"]
    settings = body["generationConfig"]
    assert settings["responseMimeType"] == "application/json"
    assert settings["responseJsonSchema"] == REQUEST.schema
    assert (settings["temperature"], settings["maxOutputTokens"], settings["seed"]) == (0.3, 200, 7)
    assert json.loads(response.text) == {"ratings": {"1": 3, "2": 3}}
    assert response.model == "gemini-2.5-flash" and response.finish_reason == "stop"
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


def test_thinking_tokens_count_as_completion_tokens_and_logprobs_are_read() -> None:
    with FakeGeminiServer(thoughts=40) as server:
        response = _ask(_backend(server, logprobs=True))
    assert server.requests[-1].json["generationConfig"]["responseLogprobs"] is True
    assert response.usage.completion_tokens == max(len(response.text) // 4, 1) + 40
    assert response.logprobs and "".join(entry["token"] for entry in response.logprobs) == response.text


@pytest.mark.parametrize(("mode", "mime", "schema"), [("json_object", True, False), ("none", False, False)])
def test_structured_output_modes(server: FakeGeminiServer, mode: str, mime: bool, schema: bool) -> None:
    server.responder = lambda request: FakeReply(content='{"ratings": {"1": 4, "2": 2}}')
    _ask(_backend(server, structured_output=mode))
    settings = server.requests[-1].json.get("generationConfig", {})
    assert ("responseMimeType" in settings) is mime and ("responseJsonSchema" in settings) is schema


def test_rate_limits_honour_retry_after_and_retry_info(server: FakeGeminiServer) -> None:
    server.inject(FakeReply(status=429, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimitedError) as header:
        _ask(_backend(server))
    assert header.value.retry_after == 7.0 and "429 RESOURCE_EXHAUSTED" in str(header.value)
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}
    body = {
        "error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED", "details": [retry_info]}
    }
    server.inject(FakeReply(status=429, json=body))
    with pytest.raises(RateLimitedError) as detail:
        _ask(_backend(server))
    assert detail.value.retry_after == 26.0


@pytest.mark.parametrize("status", [500, 503, 504, 408])
def test_server_errors_are_retryable(server: FakeGeminiServer, status: int) -> None:
    server.inject(FakeReply(status=status))
    with pytest.raises(RetryableError, match=f"gemini API error {status}"):
        _ask(_backend(server))


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_final_and_never_show_the_key(server: FakeGeminiServer, status: int) -> None:
    message = f"API key {KEY} not valid. Please pass a valid API key."
    server.inject(FakeReply(status=status, json={"error": {"code": status, "message": message, "status": "X"}}))
    with pytest.raises(BackendError) as caught:
        _ask(_backend(server))
    assert not isinstance(caught.value, RetryableError)
    assert KEY not in str(caught.value) and "API key *** not valid" in str(caught.value)


def test_an_unknown_model_is_a_404_from_the_server(server: FakeGeminiServer) -> None:
    with pytest.raises(BackendError, match="gemini API error 404"):
        _ask(_backend(server, model="gemini-nope"))


def test_dropped_connections_timeouts_and_bad_bodies_are_retryable(server: FakeGeminiServer) -> None:
    server.inject(FakeReply(drop=True))
    with pytest.raises(RetryableError, match="gemini: .*Error"):
        _ask(_backend(server))
    server.inject(FakeReply(delay=2.0))
    with pytest.raises(RetryableError, match="gemini: .*Timeout"):
        _ask(_backend(server, timeout=0.3))
    server.inject(FakeReply(raw="<html>bad gateway</html>"))
    with pytest.raises(RetryableError):
        _ask(_backend(server))


def test_a_blocked_prompt_is_final(server: FakeGeminiServer) -> None:
    server.inject(FakeReply(json={"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {}}))
    with pytest.raises(BackendError, match="the prompt was blocked") as caught:
        _ask(_backend(server))
    assert not isinstance(caught.value, RetryableError)


def test_key_lookup_stored_then_environment(server: FakeGeminiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    config = BackendConfig(name="gemini", base_url=server.base_url)
    with pytest.raises(KeyMissingError, match="GEMINI_API_KEY"):
        GeminiBackend(config)
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-1")
    assert GeminiBackend(config)._api_key.get_secret_value() == "google-key-1"
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key-2")
    assert GeminiBackend(config)._api_key.get_secret_value() == "gemini-key-2"
    set_key("gemini", "stored-key-3")
    backend = GeminiBackend(config)
    assert backend._api_key.get_secret_value() == "stored-key-3" and "stored-key-3" not in repr(backend)
