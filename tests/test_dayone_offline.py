"""Offline first run (issue 19, item 7): no server at the endpoint stops the run once, naming the URL."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

from calls_helpers import VALIDATORS, feedback_request, layer, make_config
from click.testing import CliRunner
from pydantic import SecretStr

from lusifer.api.exchange import Exchange
from lusifer.cli import cli, load_plugin_commands
from lusifer.engine.backends.errors import EndpointUnreachableError
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply, example_for_schema

SECRET = "sk-offline-test-0123456789"
CLOSE = {"Connection": "close"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(ml100k: Path, base_url: str, out: Path, *extra: str) -> object:
    load_plugin_commands()
    arguments = ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "6", "--out", str(out)]
    arguments += ["--backend", "openai", "-m", "gpt-4o-mini", "--base-url", base_url, "--key", SECRET, *extra]
    return CliRunner().invoke(cli, arguments)


def test_no_server_at_the_endpoint_stops_the_run_once_with_the_url(ml100k: Path, tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{_closed_port()}/v1"
    result = _run(ml100k, base_url, tmp_path / "run", "--concurrency", "2")
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1, result.output
    assert f"cannot connect to {base_url}/chat/completions" in errors[0] and "--base-url" in errors[0]
    assert "failed 1:" not in result.output and SECRET not in result.output
    store = RunStore(tmp_path / "run")
    try:
        attempts = sum(row["attempts"] for row in store.exchanges())
        statuses = store.user_statuses()
    finally:
        store.close()
    assert attempts <= 2  # the calls in flight when the first one failed, each tried once
    assert not any(status == "failed" for status, _ in statuses.values())  # no user failed: the endpoint did


def test_a_server_that_answered_is_retried_when_it_refuses_connections(tmp_path: Path) -> None:
    """A refused connection after answers may be a server restarting: retried, then the run stops once."""

    def answer_then_hang_up(request: object) -> FakeReply:  # no kept-alive connection outlives the server
        return FakeReply(content=json.dumps(example_for_schema(server.schema_of(request))), headers=CLOSE)

    server = FakeOpenAIServer(answer_then_hang_up).start()
    config = make_config(tmp_path, name="openai", base_url=server.base_url, max_retries=2)
    exchanges: list[Exchange] = []
    calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config, exchanges)

    async def go() -> list[BaseException]:
        errors: list[BaseException] = []
        try:
            await calls.call(feedback_request(text="first"), VALIDATORS)
            server.stop()
            for text in ("second", "third"):
                try:
                    await calls.call(feedback_request(text=text), VALIDATORS)
                except EndpointUnreachableError as error:
                    errors.append(error)
        finally:
            server.stop()
            await calls.aclose()
        return errors

    errors = asyncio.run(go())
    assert len(errors) == 2 and f"cannot connect to {config.backend.base_url}" in str(errors[0])
    assert [exchange.attempts for exchange in exchanges] == [1, 3]  # retried; the third call was never sent
