"""Failures are classified once (rejected / auth / rate limit / overloaded / transient) and treated by kind:
a rejected request is sent once, a refused key stops the run, 429s lower the in-flight limit."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from calls_helpers import SECRET, VALIDATORS, feedback_request, layer, make_config
from click.testing import CliRunner
from pydantic import SecretStr
from simulation_fakes import ScriptedModel

from lusifer.api.errors import BackendError
from lusifer.cli import cli, load_plugin_commands
from lusifer.engine.backends.anthropic_backend import AnthropicBackend
from lusifer.engine.backends.errors import (
    AuthError,
    EndpointUnreachableError,
    ErrorKind,
    RequestRejectedError,
    classify,
)
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.runs.store import RunStore
from lusifer.testing.fake_behaviours import RejectsResponseFormat
from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, FakeReply

SERVER_VALIDATION_ERROR = "[{'type': 'literal_error', 'msg': \"Input should be 'text' or 'json_object'\"}]"


@pytest.mark.parametrize(
    ("status", "message", "vendor_type", "kind"),
    [
        (500, SERVER_VALIDATION_ERROR, "internal_server_error", ErrorKind.REJECTED),
        (500, "1 validation error for Request", None, ErrorKind.REJECTED),
        (500, "CUDA out of memory", "server_error", ErrorKind.TRANSIENT),
        (502, "Bad gateway", None, ErrorKind.TRANSIENT),
        (400, "max_tokens is too large", "invalid_request_error", ErrorKind.REJECTED),
        (404, "The model 'gpt-9' does not exist", "model_not_found", ErrorKind.REJECTED),
        (422, "Unprocessable", None, ErrorKind.REJECTED),
        (401, "Incorrect API key provided", "invalid_api_key", ErrorKind.AUTH),
        (403, "Forbidden", "permission_error", ErrorKind.AUTH),
        (429, "You exceeded your current quota", "insufficient_quota", ErrorKind.AUTH),
        (429, "Rate limit reached", "rate_limit_exceeded", ErrorKind.RATE_LIMIT),
        (529, "Overloaded", "overloaded_error", ErrorKind.OVERLOADED),
        (503, "Service unavailable", None, ErrorKind.OVERLOADED),
        (408, "Request timeout", None, ErrorKind.TRANSIENT),
        (None, "Connection refused", None, ErrorKind.TRANSIENT),
    ],
)
def test_classify(status: int | None, message: str, vendor_type: str | None, kind: ErrorKind) -> None:
    assert classify(status, message, vendor_type) is kind


def _one_call(config, request=None):
    async def go():
        calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config)
        try:
            return await calls.call(request or feedback_request(), VALIDATORS)
        finally:
            await calls.aclose()

    return asyncio.run(go())


def test_a_rejected_request_shape_is_sent_once_and_the_error_says_what_to_change(tmp_path: Path) -> None:
    model = RejectsResponseFormat(ScriptedModel())
    with FakeOpenAIServer(model) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, structured_output="json_schema")
        with pytest.raises(RequestRejectedError) as caught:
            _one_call(config)
        calls = len(server.requests)
        json_object = make_config(tmp_path, name="openai", base_url=server.base_url, structured_output="json_object")
        answered = _one_call(json_object)
    assert calls == 1  # today: 1 + max_retries (4) identical requests, all refused the same way
    assert "Input should be 'text' or 'json_object'" in caught.value.server_message
    assert caught.value.status == 500 and "backend.structured_output" in str(caught.value)
    assert answered.response is not None and model.rejected == 1  # json_object is accepted


def test_a_run_against_a_server_rejecting_the_request_shape_makes_one_call_per_user(
    ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_plugin_commands()
    monkeypatch.setenv("LUSIFER_BACKEND__STRUCTURED_OUTPUT", "json_schema")  # forced: no negotiation
    with FakeOpenAIServer(RejectsResponseFormat(ScriptedModel())) as server:
        result = CliRunner().invoke(cli, [*_run_args(ml100k, server, tmp_path / "run", users=3), "--key", SECRET])
        calls = len(server.requests)
    print(f"rejected shape: {calls} calls for 3 users, exit {result.exit_code}")
    assert calls == 3  # today 18: every user's first profile call sent 6 times
    assert result.exit_code == 1 and "structured_output" in result.output
    assert "rerun the same command to retry it" not in result.output  # it cannot help: the request must change


def test_auto_structured_output_completes_against_the_same_server(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    with FakeOpenAIServer(RejectsResponseFormat(ScriptedModel())) as server:
        result = CliRunner().invoke(cli, [*_run_args(ml100k, server, tmp_path / "run", users=3), "--key", SECRET])
    assert result.exit_code == 0, result.output
    assert "users 3 done / 0 failed" in result.output


def test_a_refused_key_stops_the_run_at_once_naming_where_the_key_came_from(
    ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    load_plugin_commands()
    with FakeOpenAIServer(lambda request: FakeReply(status=401)) as server:
        arguments = [*_run_args(ml100k, server, tmp_path / "run", users=12), "--concurrency", "2"]
        result = CliRunner().invoke(cli, arguments)
        calls = len(server.requests)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    print(f"refused key: {calls} calls for 12 users, exit {result.exit_code}: {errors}")
    assert result.exit_code == 1 and len(errors) == 1
    assert "environment variable OPENAI_API_KEY" in errors[0] and SECRET not in result.output
    assert calls <= 2  # the calls in flight at the first refusal; today 12, one per user
    statuses = RunStore(tmp_path / "run").user_statuses()
    assert not any(status == "failed" for status, _ in statuses.values())  # nobody "failed": the key did


def test_a_refused_key_fails_later_calls_without_sending_them(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda request: FakeReply(status=403)) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url)

        async def go():
            calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config)
            errors = []
            for text in ("first", "second", "third"):
                try:
                    await calls.call(feedback_request(text=text), VALIDATORS)
                except AuthError as error:
                    errors.append(str(error))
            await calls.aclose()
            return errors

        errors = asyncio.run(go())
        assert len(server.requests) == 1
    assert len(errors) == 3 and "the --key option" in errors[0] and not isinstance(AuthError(""), BackendError)


def test_a_server_that_keeps_refusing_in_flight_requests_names_max_concurrency(tmp_path: Path) -> None:
    always_busy = lambda request: FakeReply(status=429, headers={"Retry-After": "0.01"})  # noqa: E731
    with FakeOpenAIServer(always_busy) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, max_retries=2)
        with pytest.raises(BackendError, match="--max-concurrency"):
            _one_call(config)
        assert len(server.requests) == 3


def test_a_server_allowing_2_in_flight_while_the_client_sends_8_completes_without_failures(
    ml100k: Path, tmp_path: Path
) -> None:
    load_plugin_commands()
    with FakeOpenAIServer(ScriptedModel(), latency=0.05, max_concurrency=2) as server:
        arguments = [*_run_args(ml100k, server, tmp_path / "run", users=16), "--key", SECRET]
        result = CliRunner().invoke(cli, [*arguments, "--concurrency", "8", "--max-concurrency", "8"])
        calls, refused = len(server.requests), server.rejected
    store = RunStore(tmp_path / "run")
    answers = sum(1 for exchange in store.exchanges() if not exchange["error"])
    print(f"2 allowed, 8 sent: {calls} requests ({refused} refused with 429) for {answers} answers")
    assert result.exit_code == 0, result.output
    assert all(status == "done" for status, _ in store.user_statuses().values())
    assert calls < 2 * answers  # the limit came down: most requests were answered, not refused


def _run_args(ml100k: Path, server: FakeOpenAIServer, out: Path, users: int) -> list[str]:
    return [
        "run",
        "--no-progress",
        "--data-dir",
        str(ml100k),
        "--users",
        str(users),
        "--out",
        str(out),
        "--backend",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--base-url",
        server.base_url,
        "--history",
        "20",
    ]


# every transport classifies the same: openai and anthropic SDKs x httpx and aiohttp -------------------------

VENDORS = {"openai": (OpenAIBackend, FakeOpenAIServer), "anthropic": (AnthropicBackend, FakeAnthropicServer)}
TRANSPORTS = ["httpx", "aiohttp"]  # aiohttp: a core dependency (the SDKs' aiohttp extras)


def _calls(vendor: str, config, count: int = 1):
    """``count`` calls through a fresh call layer: their results (or the first error) and the layer's stats."""

    async def go():
        calls = layer(VENDORS[vendor][0](config.backend, SecretStr(SECRET)), config)
        try:
            return [await calls.call(feedback_request(), VALIDATORS) for _ in range(count)], calls.stats
        finally:
            await calls.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    "fault",
    [
        FakeReply(status=429, headers={"Retry-After": "0.2"}),
        FakeReply(status=500),
        FakeReply(status=529),
        FakeReply(raw="{this is not json"),
        FakeReply(drop=True),
        FakeReply(cut=True),
        FakeReply(delay=1.5),
    ],
    ids=["429", "500", "529", "not-json", "dropped-before-answering", "dropped-mid-response", "timeout"],
)
def test_a_transient_fault_on_the_first_call_is_retried(
    vendor: str, transport: str, fault: FakeReply, tmp_path: Path
) -> None:
    with VENDORS[vendor][1]() as server:
        server.inject(fault)
        config = make_config(tmp_path, name=vendor, base_url=server.base_url, http_transport=transport, timeout=0.5)
        started = time.monotonic()
        (result,), stats = _calls(vendor, config)
        assert len(server.requests) == 2
    assert result.validation.ok and stats.retries == 1  # not an unreachable endpoint, though nothing answered yet
    if fault.status == 429:  # the server's Retry-After is waited for
        assert stats.rate_limited == 1 and time.monotonic() - started >= 0.2


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_permanent_error_is_not_retried(vendor: str, transport: str, tmp_path: Path) -> None:
    with VENDORS[vendor][1]() as server:
        server.inject(FakeReply(status=400))
        config = make_config(tmp_path, name=vendor, base_url=server.base_url, http_transport=transport)
        with pytest.raises(RequestRejectedError, match="400"):
            _calls(vendor, config)
        assert len(server.requests) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# forced aiohttp refuses credentials in the URL: a config error (tests/test_scale_http.py)
CONNECT_CASES = [(transport, "") for transport in ("auto", *TRANSPORTS)] + [
    (transport, "user:hunter2@") for transport in ("auto", "httpx")
]


@pytest.mark.parametrize(("transport", "credentials"), CONNECT_CASES)
@pytest.mark.parametrize("vendor", VENDORS)
def test_nothing_listening_stops_at_once_naming_the_url_without_credentials_or_key(
    vendor: str, transport: str, credentials: str, tmp_path: Path
) -> None:
    url = f"http://{credentials}127.0.0.1:{_closed_port()}" + ("/v1" if vendor == "openai" else "")
    config = make_config(tmp_path, name=vendor, base_url=url, http_transport=transport)
    with pytest.raises(EndpointUnreachableError) as caught:
        _calls(vendor, config)
    message = str(caught.value)
    assert "cannot connect to http://" in message and url.rsplit("@", 1)[-1] in message
    assert "hunter2" not in message and SECRET not in message
