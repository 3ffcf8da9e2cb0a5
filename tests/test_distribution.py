"""Distribution mode: offline model, token-aware logprobs through the real openai SDK, scoring rules."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from calls_helpers import feedback_request, layer, make_config
from click.testing import CliRunner
from pydantic import SecretStr

from lusifer.api.settings import LusiferConfig
from lusifer.cli import cli, load_plugin_commands
from lusifer.engine.backends.anthropic_backend import AnthropicBackend
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.distributions import (
    DistributionReader,
    discretised_normal,
    distribution_request,
    expected,
    from_logprobs,
    from_verbalised,
)
from lusifer.envs.dynamics import DistributionSampler
from lusifer.envs.recommender import RecommenderEnv
from lusifer.evaluation.scoring import scores
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, FakeReply

SERVED = {"10": {1: 0.05, 2: 0.10, 3: 0.20, 4: 0.40, 5: 0.25}, "20": {1: 0.30, 2: 0.50, 3: 0.20, 4: 0.0, 5: 0.0}}


def _completion(request: dict[str, Any], served: dict[str, dict[int, float]], with_logprobs: bool = True) -> dict:
    """A chat completion whose rating tokens carry ``top_logprobs`` spelling ``served`` (plus off-scale mass)."""
    tokens: list[dict[str, Any]] = []

    def text(piece: str) -> None:
        tokens.append({"token": piece, "logprob": -0.001, "bytes": None, "top_logprobs": []})

    text('{"ratings": {')
    for position, (item_id, distribution) in enumerate(served.items()):
        text(("" if position == 0 else ", ") + f'"{item_id}":')
        best = max(distribution, key=distribution.get)
        scale = 0.9  # 10 % of the listed mass sits on a token that is no rating
        top = [
            {"token": (" " if point % 2 else "") + str(point), "logprob": math.log(p * scale), "bytes": None}
            for point, p in distribution.items()
            if p > 0
        ] + [{"token": " maybe", "logprob": math.log(0.1), "bytes": None}]
        tokens.append(
            {"token": f" {best}", "logprob": math.log(distribution[best] * scale), "bytes": None, "top_logprobs": top}
        )
    text("}}")
    content = "".join(token["token"] for token in tokens)
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": {"content": tokens} if with_logprobs else None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": len(tokens), "total_tokens": 50 + len(tokens)},
    }


def _read(server: FakeOpenAIServer, tmp_path: Path) -> tuple[dict, DistributionReader]:
    config = make_config(tmp_path, name="openai", base_url=server.base_url)
    request = distribution_request(feedback_request(), OpenAIBackend.distribution_method)
    reader = DistributionReader(OpenAIBackend.distribution_method)

    async def go():
        calls = layer(OpenAIBackend(config.backend, SecretStr("sk-test")), config)
        try:
            return await calls.call(request)
        finally:
            await calls.aclose()

    result = asyncio.run(go())
    return reader.read(request, result.response, ["10", "20"]), reader


def test_openai_logprobs_give_the_served_distribution(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda request: FakeReply(json=_completion(request, SERVED))) as server:
        distributions, reader = _read(server, tmp_path)
        sent = server.requests[-1].json
    assert sent["logprobs"] is True and sent["top_logprobs"] == 20
    for item_id, served in SERVED.items():
        assert distributions[item_id] == pytest.approx(served, abs=1e-6)
        assert expected(distributions[item_id]) == pytest.approx(sum(k * p for k, p in served.items()), abs=1e-6)
    assert not reader.warned


def test_server_ignoring_logprobs_warns_once_and_falls_back(tmp_path: Path, caplog) -> None:
    with FakeOpenAIServer(lambda request: FakeReply(json=_completion(request, SERVED, with_logprobs=False))) as server:
        distributions, reader = _read(server, tmp_path)
        request = distribution_request(feedback_request(), "logprobs")
    assert distributions == {}
    assert reader.read(request, None, ["10"]) == {}
    assert len(reader.warned) == 1 and "no logprobs" in caplog.text


def test_split_or_alternative_less_rating_tokens_get_no_distribution() -> None:
    text = '{"10": 4, "20": 3}'
    logprobs = [
        {"token": '{"10":'},
        {"token": " 4", "logprob": -0.1, "top": [{"token": "4", "logprob": -0.1}, {"token": "5", "logprob": -2.0}]},
        {"token": ', "20": '},
        {"token": "3", "logprob": -0.1},  # no top_logprobs
        {"token": "}"},
    ]
    parsed = from_logprobs(text, logprobs, ["10", "20"], [1, 2, 3, 4, 5])
    assert set(parsed) == {"10"}
    assert parsed["10"].distribution[4] == pytest.approx(math.exp(-0.1) / (math.exp(-0.1) + math.exp(-2.0)))
    split = [{"token": '{"10": 1'}, {"token": "0, "}, {"token": '"20": 3}'}]
    assert from_logprobs('{"10": 10, "20": 3}', split, ["10"], list(range(1, 11))) == {}


def test_verbalised_distributions_must_sum_to_one() -> None:
    answer = {"distributions": {"10": {"1": 0.2, "2": 0.8}, "20": {"1": 0.5, "2": 0.4}, "30": {"3": 1.0}}}
    accepted, problems = from_verbalised(answer, ["10", "20", "30", "40"], [1, 2])
    assert accepted == {"10": {1: 0.2, 2: 0.8}}
    assert set(problems) == {"20", "30", "40"} and "sums to 0.900" in problems["20"]


def test_discretised_normal_and_scores() -> None:
    distribution = discretised_normal(3.3, 0.8, [1, 2, 3, 4, 5])
    assert sum(distribution.values()) == pytest.approx(1.0)
    assert max(distribution, key=distribution.get) == 3
    frame = pd.DataFrame(
        {"rating": [4.0, 1.0], "p_1": [0.0, 0.5], "p_2": [0.5, 0.5], "p_3": [0.0, 0.0], "p_4": [0.5, 0.0]}
    )
    result = scores(frame)
    assert result["nll"] == pytest.approx(-math.log(0.5))
    # RPS: row 1 cumulative (0, .5, .5) vs (0, 0, 0) -> 0.5/3; row 2 (.5, 1, 1) vs (1, 1, 1) -> 0.25/3
    assert result["rps"] == pytest.approx((0.5 / 3 + 0.25 / 3) / 2)
    assert result["expected_rmse"] == pytest.approx(math.sqrt((1.0**2 + 0.5**2) / 2))


def test_offline_run_in_distribution_mode_exports_distributions(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    out = tmp_path / "run"
    arguments = ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "4", "--out", str(out)]
    result = CliRunner().invoke(cli, [*arguments, "--distribution"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ratings = pd.read_csv(out / "ratings.csv")
    probabilities = ratings[[f"p_{point}" for point in range(1, 6)]].to_numpy()
    assert len(ratings) > 0 and np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.allclose(ratings["expected_rating"], probabilities @ np.arange(1, 6))
    assert (ratings["rating_sd"] > 0).all()
    stored = RunStore(out).distributions()
    assert len(stored) == len(ratings)
    value = tmp_path / "value"
    CliRunner().invoke(cli, [*arguments[:-1], str(value)], catch_exceptions=False)
    plain = pd.read_csv(value / "ratings.csv")
    assert "expected_rating" not in plain.columns
    assert plain["simulated_rating"].tolist() == ratings["simulated_rating"].tolist()
    assert json.dumps(sorted(plain.columns)) == json.dumps(sorted(["user_id", "item_id", "rating", "simulated_rating"]))


def test_anthropic_verbalised_distribution_through_the_sdk(tmp_path: Path) -> None:
    served = {"10": {"1": 0.1, "2": 0.1, "3": 0.2, "4": 0.3, "5": 0.3}, "20": {"1": 0.6, "2": 0.3, "3": 0.1}}
    answer = json.dumps({"ratings": {"10": 4, "20": 1}, "distributions": served})
    request = distribution_request(feedback_request(), AnthropicBackend.distribution_method)
    reader = DistributionReader(AnthropicBackend.distribution_method)
    with FakeAnthropicServer(lambda request: FakeReply(content=answer)) as server:
        config = make_config(tmp_path, name="anthropic", base_url=server.base_url)

        async def go():
            calls = layer(AnthropicBackend(config.backend, SecretStr("sk-ant-test")), config)
            try:
                return await calls.call(request)
            finally:
                await calls.aclose()

        result = asyncio.run(go())
        sent = server.requests[-1].json
    schema = sent["tools"][0]["input_schema"]
    assert "distributions" in schema["required"] and "probability of each possible value" in json.dumps(sent)
    distributions = reader.read(request, result.response, ["10", "20"])
    assert distributions["10"] == pytest.approx({1: 0.1, 2: 0.1, 3: 0.2, 4: 0.3, 5: 0.3}, abs=1e-9)
    assert distributions["20"] == pytest.approx({1: 0.6, 2: 0.3, 3: 0.1, 4: 0.0, 5: 0.0}, abs=1e-9)


def test_distribution_sampler_draws_from_the_distribution() -> None:
    sampler = DistributionSampler(fallback=None)
    sampler.offer({"7": {1: 0.0, 2: 0.0, 3: 0.25, 4: 0.75, 5: 0.0}})
    draws = [sampler.sample("7", 1, np.random.default_rng(seed)) for seed in range(400)]
    assert set(draws) == {3, 4} and 0.65 < draws.count(4) / len(draws) < 0.85
    assert sampler.sample("8", 2, np.random.default_rng(0)) == 2  # no distribution: the rating as given


def test_env_samples_ratings_from_the_offline_distribution(ml100k: Path) -> None:
    def ratings(env: RecommenderEnv, seed: int) -> list[int]:
        env.reset(seed=seed, options={"user_id": "3"})
        consumed = {entry.item_id for entry in env.user.history}
        slate = [index for index, item in enumerate(env.catalogue.candidate_ids) if item not in consumed][:20]
        values = []
        for start in range(0, 20, 5):
            values += list(env.step(np.array(slate[start : start + 5]))[4]["feedback"].values())
        return values

    settings = {"backend": "offline", "data_dir": ml100k, "candidates": 60, "seed": 7}
    envs = [RecommenderEnv(**settings, sample_distribution=flag) for flag in (False, True, True)]
    try:
        base, first, again, other = ratings(envs[0], 0), ratings(envs[1], 0), ratings(envs[2], 0), ratings(envs[2], 1)
    finally:
        for env in envs:
            env.close()
    assert first == again and first != other and first != base
    assert all(1 <= value <= 5 for value in first)


def test_cache_keys_include_the_mode_and_cached_answers_keep_the_distribution(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda request: FakeReply(json=_completion(request, SERVED))) as server:
        base = make_config(tmp_path, name="openai", base_url=server.base_url).model_dump()

        async def call(mode: str):
            config = LusiferConfig.model_validate({**base, "run": {"feedback_output": mode}})
            request = feedback_request()
            if mode == "distribution":
                request = distribution_request(request, "logprobs")
            calls = layer(OpenAIBackend(config.backend, SecretStr("sk-test")), config)
            try:
                return request, await calls.call(request)
            finally:
                await calls.aclose()

        asyncio.run(call("value"))
        request, first = asyncio.run(call("distribution"))
        _, again = asyncio.run(call("distribution"))
        served_requests = len(server.requests)
    assert served_requests == 2 and not first.cached and again.cached
    distributions = DistributionReader("logprobs").read(request, again.response, ["10", "20"])
    assert distributions["10"] == pytest.approx(SERVED["10"], abs=1e-6)
