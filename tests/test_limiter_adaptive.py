"""The adaptive in-flight limit: AIMD on push-back, and a serial server is sent one request at a time."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from calls_helpers import SECRET, VALIDATORS, feedback_request, layer, make_config
from pydantic import SecretStr
from simulation_fakes import ScriptedModel

from lusifer.api.exchange import Exchange
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.calls import CallLayer
from lusifer.engine.calls.limiter import AdaptiveLimit
from lusifer.testing.fake_behaviours import SerialModel
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply


def test_push_back_halves_the_limit_once_per_round_and_answers_grow_it_back() -> None:
    async def go() -> list[float]:
        limit = AdaptiveLimit(8)
        burst = [await limit.acquire("feedback") for _ in range(8)]
        seen = [limit.limit]
        for ticket in burst:  # eight refusals of requests sent together count once
            limit.pushed_back(ticket)
            await limit.release(ticket)
        seen.append(limit.limit)
        later = await limit.acquire("feedback")
        limit.pushed_back(later)  # sent after the decrease: a new round
        await limit.release(later)
        seen.append(limit.limit)
        for _ in range(40):
            ticket = await limit.acquire("feedback")
            limit.succeeded(ticket)
            await limit.release(ticket)
        seen.append(limit.limit)
        for _ in range(10):
            ticket = await limit.acquire("feedback")
            limit.pushed_back(ticket)
            await limit.release(ticket)
            limit._last_decrease = float("-inf")  # as if each came from a later round
        seen.append(limit.limit)
        return seen

    assert asyncio.run(go()) == [8.0, 4.0, 2.0, 8.0, 1.0]


def _serial_run(tmp_path: Path, max_concurrency: int, requests: int = 12) -> dict[str, float]:
    """``requests`` distinct feedback calls at once through one layer against a serial server that
    generates for 0.5 s, with a client timeout of 1.5 s (the ratio of the issue: 17 s and 60 s)."""
    model = SerialModel(ScriptedModel(), generation_s=0.5)
    exchanges: list[Exchange] = []
    with FakeOpenAIServer(model) as server:
        config = make_config(
            tmp_path, name="openai", base_url=server.base_url, max_concurrency=max_concurrency, timeout=1.5
        )

        async def go() -> int:
            calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config, exchanges)
            try:
                batch = [feedback_request(text=f"Rate these, request {n}.") for n in range(requests)]
                results = await asyncio.gather(*(calls.call(r, VALIDATORS) for r in batch), return_exceptions=True)
                return sum(1 for result in results if not isinstance(result, BaseException))
            finally:
                limit = calls.in_flight_limit
                await calls.aclose()
                outcome["limit"] = limit

        outcome: dict[str, float] = {}
        answered = asyncio.run(go())
        sent = len(server.requests)
    outcome.update(answered=answered, sent=sent, generated=model.generated, discarded=model.generated - answered)
    return outcome


def test_a_serial_server_is_detected_and_sent_one_request_at_a_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lusifer.calls"):
        outcome = _serial_run(tmp_path, max_concurrency=4)
    print(f"serial server, 12 answers wanted at max_concurrency 4: {outcome}")
    assert outcome["answered"] == 12
    # At most the first wave is re-sent (today about 2 sends per answer: queued calls time out, are re-sent).
    assert outcome["sent"] <= outcome["answered"] + 4
    assert outcome["discarded"] <= 4  # generations thrown away because their client had given up
    assert outcome["limit"] == 1
    assert any("max_concurrency = 1" in record.getMessage() for record in caplog.records)


def test_a_parallel_server_keeps_its_concurrency(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    exchanges: list[Exchange] = []
    with FakeOpenAIServer(ScriptedModel(), latency=0.08, jitter=0.02) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, max_concurrency=4)

        async def go() -> int:
            calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config, exchanges)
            batch = [feedback_request(text=f"Rate these, request {n}.") for n in range(24)]
            await asyncio.gather(*(calls.call(request, VALIDATORS) for request in batch))
            limit = calls.in_flight_limit
            await calls.aclose()
            return limit

        with caplog.at_level(logging.WARNING, logger="lusifer.calls"):
            limit = asyncio.run(go())
        assert server.max_in_flight == 4 and len(server.requests) == 24
    assert limit == 4 and not any("one request at a time" in record.getMessage() for record in caplog.records)


def test_a_hang_on_a_parallel_server_times_out_without_lowering_the_limit(tmp_path: Path) -> None:
    answer = FakeReply(content=json.dumps({"ratings": {"10": 4, "20": 2}}))
    with FakeOpenAIServer(ScriptedModel(), latency=0.05) as server:
        server.inject(answer, answer, FakeReply(content=answer.content, delay=3.0))  # the third one hangs
        config = make_config(tmp_path, name="openai", base_url=server.base_url, max_concurrency=4, timeout=0.5)

        async def go() -> tuple[int, list[Exchange]]:
            exchanges: list[Exchange] = []
            calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config, exchanges)
            batch = [feedback_request(text=f"Rate these, request {n}.") for n in range(8)]
            await asyncio.gather(*(calls.call(request, VALIDATORS) for request in batch))
            limit, timeouts = calls.in_flight_limit, calls.stats.timeouts
            await calls.aclose()
            return limit, timeouts

        limit, timeouts = asyncio.run(go())
        sent = len(server.requests)
    assert timeouts == 1 and sent == 9  # the hung request was abandoned once and sent again
    assert limit == 4  # its neighbours answered at once: the server is not queueing


def test_an_in_process_backend_is_never_judged_serial(
    ml100k: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The offline backend shares this process's CPU, so its latency grows with the requests in flight;
    that says nothing about a server, and a 459-user run must keep its concurrency (it once warned)."""
    from click.testing import CliRunner

    from lusifer.cli import cli, load_plugin_commands

    load_plugin_commands()
    arguments = ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "459", "--out", str(tmp_path / "r")]
    with caplog.at_level(logging.WARNING, logger="lusifer.calls"):
        result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    messages = [record.getMessage() for record in caplog.records] + [result.output]
    assert not any("one request at a time" in message for message in messages)


def test_a_serial_server_gets_one_users_requests_in_a_row(tmp_path: Path) -> None:
    """llama.cpp's server keeps the cache of its last prompt only: once the endpoint is found serial,
    a freed slot waits a moment for the same user's next request (sent a few ms after its answer) before
    other users' queued ones get it, so users do not alternate (they did, first come first served: a
    cache miss per request)."""
    model = SerialModel(ScriptedModel(), generation_s=0.3)
    users, calls_each = ("a", "b", "c", "d"), 5
    with FakeOpenAIServer(model) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, max_concurrency=4, timeout=5.0)

        async def one_user(calls: CallLayer, user: str) -> None:
            for step in range(calls_each):  # each call waits for the previous answer, like profile steps
                request = feedback_request(text=f"user {user} step {step}")
                context = request.context
                assert context is not None
                await calls.call(replace(request, context=context.model_copy(update={"user_id": user})), VALIDATORS)
                await asyncio.sleep(0.003)  # the user's own work between answer and next request (store, prompt)

        async def go() -> None:
            calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config)
            try:
                await asyncio.gather(*(one_user(calls, user) for user in users))
            finally:
                await calls.aclose()

        asyncio.run(go())
        order = [request.json["messages"][-1]["content"].split()[1] for request in server.requests]
    assert len(order) == len(users) * calls_each
    settled = order[2 * len(users) :]  # after the first rounds, in which the endpoint was found serial
    switches = sum(1 for before, after in zip(settled, settled[1:], strict=False) if before != after)
    print(f"server order: {''.join(order)}, user switches after detection: {switches}")
    assert switches <= len(users) - 1
