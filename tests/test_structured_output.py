"""Structured-output negotiation through the real OpenAI SDK against fake servers of each behaviour."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from calls_helpers import VALIDATORS, feedback_request, layer, make_config
from click.testing import CliRunner

from lusifer.api.errors import BackendError
from lusifer.api.exchange import Exchange
from lusifer.api.settings import LusiferConfig
from lusifer.cli import cli, load_plugin_commands
from lusifer.engine.backends.negotiation import STORE_FILE, ModeStore
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.calls import CallLayer
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply


def _kinds(server: FakeOpenAIServer) -> list[str]:
    """What each request asked for: its response_format type, ``+schema`` when it carried one, or ``tools``."""
    kinds = []
    for request in server.requests:
        response_format = request.json.get("response_format")
        if response_format is not None:
            kinds.append(response_format["type"] + ("+schema" if "schema" in response_format else ""))
        else:
            kinds.append("tools" if request.json.get("tools") else "none")
    return kinds


def _ask(config: LusiferConfig, times: int = 1, exchanges: list[Exchange] | None = None) -> tuple[list, CallLayer]:
    """Send ``times`` different feedback requests at once through a fresh backend and call layer."""

    async def go():
        calls = layer(OpenAIBackend(config.backend), config, exchanges)
        try:
            requests = [feedback_request(("10", str(20 + number))) for number in range(times)]
            results = await asyncio.gather(*(calls.call(request, VALIDATORS) for request in requests))
            return list(results), calls
        finally:
            await calls.aclose()

    return asyncio.run(go())


def _stored(home: Path) -> dict[str, str]:
    return json.loads((home / STORE_FILE).read_text())


def test_llama_cpp_server_settles_on_json_object_with_schema(tmp_path: Path, isolated_user_dir: Path) -> None:
    with FakeOpenAIServer(structured_output="llama_cpp") as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, model="smollm2")
        exchanges: list[Exchange] = []
        (result,), calls = _ask(config, exchanges=exchanges)
        assert _kinds(server) == ["json_schema", "json_object+schema"]
        assert server.requests[1].json["response_format"]["schema"] == dict(feedback_request(("10", "20")).schema)
        assert result.validation.ok and result.validation.value == {"10": 3, "20": 3}
        assert calls.stats.calls == 1 and calls.stats.errors == 0 and calls.stats.retries == 0
        assert exchanges[0].error is None and exchanges[0].attempts == 1
        assert _stored(isolated_user_dir) == {server.base_url: "json_object_schema"}
        _ask(make_config(tmp_path / "second", **config.backend.model_dump()))  # a later run starts there
        assert _kinds(server) == ["json_schema", "json_object+schema", "json_object+schema"]


def test_tools_only_server_is_answered_through_a_forced_tool_call(tmp_path: Path, isolated_user_dir: Path) -> None:
    with FakeOpenAIServer(structured_output="tools_only") as server:
        (result,), calls = _ask(make_config(tmp_path, name="openai", base_url=server.base_url))
        assert _kinds(server) == ["json_schema", "json_object+schema", "json_object", "tools"]
        sent = server.requests[-1].json
        assert sent["tool_choice"] == {"type": "function", "function": {"name": "feedback"}}
        assert sent["tools"][0]["function"]["parameters"]["required"] == ["ratings"]
        assert result.validation.ok and result.validation.value == {"10": 3, "20": 3}
        assert calls.stats.errors == 0
        assert _stored(isolated_user_dir) == {server.base_url: "tools"}


def test_a_server_ignoring_response_format_keeps_json_schema_and_the_answer_is_repaired(
    tmp_path: Path, isolated_user_dir: Path
) -> None:
    with FakeOpenAIServer(structured_output="ignores_response_format") as server:
        exchanges: list[Exchange] = []
        (result,), _ = _ask(make_config(tmp_path, name="openai", base_url=server.base_url), exchanges=exchanges)
        assert _kinds(server) == ["json_schema"]
        assert result.validation.ok and "removed code fence" in exchanges[0].repairs
        assert _stored(isolated_user_dir) == {server.base_url: "json_schema"}


def test_concurrent_first_requests_skip_no_mode(tmp_path: Path, isolated_user_dir: Path) -> None:
    with FakeOpenAIServer(structured_output="llama_cpp", latency=0.05) as server:
        results, calls = _ask(make_config(tmp_path, name="openai", base_url=server.base_url), times=6)
        kinds, url = _kinds(server), server.base_url
    assert all(result.validation.ok for result in results) and calls.stats.errors == 0
    assert kinds.count("json_object+schema") == 6 and set(kinds) == {"json_schema", "json_object+schema"}
    assert _stored(isolated_user_dir) == {url: "json_object_schema"}


def test_a_remembered_mode_that_is_now_rejected_moves_on(tmp_path: Path, isolated_user_dir: Path) -> None:
    with FakeOpenAIServer(structured_output="tools_only") as server:
        ModeStore.default().put(server.base_url, "json_object")
        (result,), _ = _ask(make_config(tmp_path, name="openai", base_url=server.base_url))
        assert _kinds(server) == ["json_object", "tools"] and result.validation.ok
        assert _stored(isolated_user_dir) == {server.base_url: "tools"}


def test_the_settled_mode_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAIServer(structured_output="llama_cpp") as server, caplog.at_level(logging.INFO, "lusifer"):
        config = make_config(tmp_path, name="openai", base_url=server.base_url)
        _ask(config, times=3)
        ModeStore.default().path.unlink()  # negotiate again in the same process
        _ask(make_config(tmp_path / "again", **config.backend.model_dump()))
    settled = [record for record in caplog.records if "structured output for" in record.getMessage()]
    assert len(settled) == 1 and settled[0].levelno == logging.WARNING
    message = settled[0].getMessage()
    assert "using 'json_object_schema'" in message and "Input should be 'text' or 'json_object'" in message


def test_a_forced_mode_the_server_rejects_is_one_line_naming_auto(tmp_path: Path) -> None:
    with FakeOpenAIServer(structured_output="llama_cpp") as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, structured_output="json_schema")
        with pytest.raises(BackendError) as raised:
            _ask(config)
        assert len(server.requests) == 1  # final: not retried like an ordinary 500
    message = str(raised.value)
    assert "\n" not in message and "structured_output = 'json_schema'" in message
    assert 'backend.structured_output = "auto"' in message and "500" in message


def test_other_server_errors_are_still_retried_under_auto(tmp_path: Path, isolated_user_dir: Path) -> None:
    with FakeOpenAIServer() as server:
        server.inject(FakeReply(status=500), FakeReply(status=400))
        config = make_config(tmp_path, name="openai", base_url=server.base_url)
        with pytest.raises(BackendError, match="400"):
            _ask(config)
        assert _kinds(server) == ["json_schema", "json_schema"]  # the 500 retried, the 400 final
    assert not (isolated_user_dir / STORE_FILE).exists()


@pytest.mark.parametrize(("mode", "in_prompt"), [("json_object", True), ("none", True), ("json_schema", False)])
def test_modes_without_a_schema_field_state_it_in_the_prompt(tmp_path: Path, mode: str, in_prompt: bool) -> None:
    with FakeOpenAIServer(lambda request: FakeReply(content='{"ratings": {"10": 1, "20": 5}}')) as server:
        _ask(make_config(tmp_path, name="openai", base_url=server.base_url, structured_output=mode))
        last = server.requests[-1].json["messages"][-1]["content"]
    assert ('"required":["ratings"]' in last) is in_prompt
    assert last.startswith("Rate these movies.")


def test_probe_prints_and_remembers_the_accepted_mode(isolated_user_dir: Path) -> None:
    with FakeOpenAIServer(structured_output="llama_cpp") as server:
        ModeStore.default().put(server.base_url, "none")  # a probe starts afresh
        load_plugin_commands()
        result = CliRunner().invoke(cli, ["backends", "--probe", server.base_url, "--model", "smollm2"])
        assert _kinds(server) == ["json_schema", "json_object+schema"]
        assert server.requests[0].json["model"] == "smollm2"
        url = server.base_url
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("json_schema") and "rejected: Error code: 500 - 1 validation error" in lines[0]
    assert lines[1].split() == ["json_object_schema", "accepted"]
    assert f"{url}: structured output 'json_object_schema'" in lines[2]
    assert _stored(isolated_user_dir) == {url: "json_object_schema"}


def test_probe_of_an_unreachable_server_is_one_line() -> None:
    with FakeOpenAIServer() as server:
        url = server.base_url
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["backends", "--probe", url])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "APIConnectionError" in result.output


def test_a_run_against_a_llama_cpp_like_server_completes(ml100k: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(structured_output="llama_cpp") as server:
        load_plugin_commands()
        arguments = ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "3", "--out", str(tmp_path / "run")]
        arguments += ["--backend", "openai", "--model", "smollm2", "--base-url", server.base_url, "--history", "10"]
        result = CliRunner().invoke(cli, arguments)
        kinds = _kinds(server)
    assert result.exit_code == 0, result.output
    ratings = pd.read_csv(tmp_path / "run" / "ratings.csv")
    assert len(ratings) == 30 and ratings["simulated_rating"].notna().all()
    assert not (tmp_path / "run" / "failures.csv").exists() or len(pd.read_csv(tmp_path / "run" / "failures.csv")) == 0
    assert kinds.count("json_schema") <= 3 and kinds[-1] == "json_object+schema"
