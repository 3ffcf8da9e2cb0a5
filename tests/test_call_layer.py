"""The call layer: cache, concurrency and rate limits, budget, validation merging, recording, costs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from calls_helpers import SECRET, VALIDATORS, feedback_request, layer, make_config
from pydantic import SecretStr

from lusifer.api.backend import LLMRequest, Usage
from lusifer.api.errors import BackendError, BudgetExceededError
from lusifer.api.exchange import Exchange
from lusifer.api.hookspecs import hookimpl
from lusifer.api.settings import LusiferConfig, Price
from lusifer.api.validator import ValidationResult, Validator
from lusifer.engine.backends.errors import redact, retry_after_seconds
from lusifer.engine.backends.offline import OfflineBackend
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.calls import CallLayer, CallResult
from lusifer.engine.calls.costs import cost, price_for
from lusifer.engine.calls.limiter import TokenBucket
from lusifer.kernel.plugins import get_plugin_manager
from lusifer.kernel.registry import exchange_recorder
from lusifer.runs.session import call_settings
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply


def _calls(
    config: LusiferConfig, requests: list[LLMRequest], exchanges: list[Exchange] | None = None, **kwargs: Any
) -> tuple[list[CallResult], Any]:
    """Send ``requests`` concurrently through one call layer on the OpenAI backend."""

    async def go():
        calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config, exchanges)
        try:
            results = await asyncio.gather(*(calls.call(request, VALIDATORS, **kwargs) for request in requests))
            return list(results), calls.stats
        finally:
            await calls.aclose()

    return asyncio.run(go())


def test_second_identical_call_is_a_cache_hit(tmp_path: Path) -> None:
    exchanges: list[Exchange] = []
    with FakeOpenAIServer() as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url)
        (first,), _ = _calls(config, [feedback_request()], exchanges)
        (second,), stats = _calls(config, [feedback_request()], exchanges)
        assert len(server.requests) == 1
        refreshed = config.model_copy(update={"cache": config.cache.model_copy(update={"refresh": True})})
        (third,), _ = _calls(refreshed, [feedback_request()], exchanges)
        assert len(server.requests) == 2
        disabled = config.model_copy(update={"cache": config.cache.model_copy(update={"enabled": False})})
        _calls(disabled, [feedback_request()], exchanges)
        assert len(server.requests) == 3
    assert not first.cached and second.cached and not third.cached
    assert stats.cache_hits == 1 and stats.calls == 0 and stats.cost_usd == 0
    assert second.response.text == first.response.text and second.validation.value == first.validation.value
    assert [exchange.cache_hit for exchange in exchanges] == [False, True, False, False]
    assert (
        exchanges[1].attempts == 0 and exchanges[1].cost_usd == 0 and exchanges[1].cache_key == exchanges[0].cache_key
    )


def test_cache_key_covers_parameters_and_messages(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url)
        _calls(config, [feedback_request()])
        _calls(
            make_config(tmp_path, name="openai", base_url=server.base_url, temperature=0.7),
            [feedback_request()],
        )
        _calls(config, [feedback_request(text="Rate these films, please.")])
        _calls(config, [feedback_request(("10", "30"))])  # another schema
        assert len(server.requests) == 4


def test_unparsable_answers_are_not_cached(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda request: FakeReply(content="no idea")) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url)
        _calls(config, [feedback_request()])
        (result,), _ = _calls(config, [feedback_request()])
        assert len(server.requests) == 2 and not result.cached


def test_concurrency_limit_is_honoured(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency=0.05) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, max_concurrency=3)
        config.cache.enabled = False
        results, stats = _calls(config, [feedback_request()] * 12)
        assert len(server.requests) == 12 and server.max_in_flight == 3
    assert all(result.validation.ok for result in results) and stats.rate_limited == 0


def test_server_concurrency_cap_answers_429_and_the_layer_recovers(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency=0.05, max_concurrency=2) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, max_concurrency=4, max_retries=10)
        config.cache.enabled = False
        results, stats = _calls(config, [feedback_request()] * 8)
        assert server.rejected > 0 and stats.rate_limited == server.rejected
    assert all(result.validation.ok for result in results)


def test_requests_per_minute_spaces_out_calls() -> None:
    async def go() -> float:
        bucket = TokenBucket(per_minute=1200)  # 20 per second, one second's worth (20) at once
        started = time.monotonic()
        for _ in range(25):
            await bucket.take(1)
        return time.monotonic() - started

    assert asyncio.run(go()) >= 0.2  # the 5 calls beyond the burst wait 1/20 s each


def test_budget_stops_calls_cleanly(tmp_path: Path) -> None:
    long_answer = json.dumps({"ratings": {"10": 3, "20": 3}, "notes": "x" * 4000})  # ~1000 completion tokens
    with FakeOpenAIServer(lambda request: FakeReply(content=long_answer)) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, max_tokens=1000)
        config.cache.enabled = False
        config.run.budget_usd = 0.0015  # gpt-4o-mini: about $0.0006 per call

        async def go() -> list[Any]:
            calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config)
            outcomes: list[Any] = []
            try:
                for _ in range(3):
                    outcomes.append(await calls.call(feedback_request(), VALIDATORS))
            except BudgetExceededError as error:
                outcomes.append(error)
            finally:
                await calls.aclose()
            return outcomes + [calls.stats]

        *outcomes, stats = asyncio.run(go())
        assert len(server.requests) == 2
    assert [type(outcome).__name__ for outcome in outcomes] == [
        "CallResult",
        "CallResult",
        "BudgetExceededError",
    ]
    assert "budget of $0.0015" in str(outcomes[-1]) and 0.001 < stats.cost_usd <= 0.0015


def test_budget_counts_calls_in_flight(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency=0.05) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, max_tokens=1000)
        config.cache.enabled = False
        config.run.budget_usd = 0.0015

        async def go() -> list[Any]:
            calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config)
            try:
                requests = [calls.call(feedback_request(), VALIDATORS) for _ in range(5)]
                return await asyncio.gather(*requests, return_exceptions=True)
            finally:
                await calls.aclose()

        outcomes = asyncio.run(go())
        assert len(server.requests) == 2  # two estimates fit the budget; three calls are refused unsent
    assert sum(isinstance(outcome, BudgetExceededError) for outcome in outcomes) == 3


class _Both(Validator):
    name = "both"
    tasks: ClassVar[tuple[str, ...]] = ("feedback",)

    def validate(self, data: Any, request: LLMRequest) -> ValidationResult:
        data.clear()  # validators get their own copy: this must not affect the others
        return ValidationResult(value={"extra": True}, problems={"extra": "checked"}, repairs=["noted"])


def test_validators_are_merged_and_only_for_their_tasks(tmp_path: Path) -> None:
    content = "```json\n" + json.dumps({"ratings": {"10": 4, "20": 9}}) + "\n```"
    with FakeOpenAIServer(lambda request: FakeReply(content=content)) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url)

        async def go() -> CallResult:
            calls = layer(OpenAIBackend(config.backend, SecretStr(SECRET)), config)
            try:
                return await calls.call(feedback_request(), (*VALIDATORS, _Both()))
            finally:
                await calls.aclose()

        result = asyncio.run(go())
    validation = result.validation
    assert validation.value == {"10": 4, "extra": True}
    assert set(validation.problems) == {"20", "extra"}
    assert validation.repairs[0] == "removed code fence" and "noted" in validation.repairs
    assert result.exchange.problems == validation.problems and result.exchange.parsed["ratings"]["20"] == 9


def test_exchanges_reach_the_lifecycle_hook(tmp_path: Path) -> None:
    seen: list[Exchange] = []

    class Recorder:
        @hookimpl
        def exchange_recorded(self, exchange: Exchange) -> None:
            seen.append(exchange)

    get_plugin_manager().register(Recorder(), name="recorder")
    config = make_config(tmp_path)

    async def go() -> None:
        calls = CallLayer(OfflineBackend(config.backend), call_settings(config), on_exchange=exchange_recorder())
        await calls.call(dataclasses.replace(feedback_request(), context=None), VALIDATORS)
        await calls.aclose()

    with pytest.raises(BackendError, match="needs the typed context of a 'feedback' request"):
        asyncio.run(go())  # a request built without a context: the offline backend has nothing to read
    assert len(seen) == 1 and seen[0].error and seen[0].backend == "offline"


def test_costs_table_prefixes_overrides_and_unknown_models(caplog: pytest.LogCaptureFixture) -> None:
    assert price_for("gpt-4o-mini-2024-07-18") == price_for("gpt-4o-mini") == Price(input=0.15, output=0.60)
    assert price_for("claude-haiku-4-5-20251001") == Price(input=1.0, output=5.0)
    assert cost("gpt-4o", Usage(1_000_000, 100_000)) == pytest.approx(3.50)
    assert cost("gpt-4o", Usage(1_000_000, 0), {"gpt-4o": Price(input=1.0, output=1.0)}) == pytest.approx(1.0)
    with caplog.at_level(logging.WARNING, logger="lusifer.calls"):
        assert cost("my-local-llama", Usage(10, 10)) == 0.0
        assert cost("my-local-llama", Usage(10, 10)) == 0.0
    assert sum("my-local-llama" in record.getMessage() for record in caplog.records) == 1


def test_redact_and_retry_after() -> None:
    text = f"key {SECRET} header Authorization: Bearer abc.def x-api-key: zzz"
    cleaned = redact(text, SecretStr(SECRET))
    assert SECRET not in cleaned and "abc.def" not in cleaned and "zzz" not in cleaned
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({}) is None
