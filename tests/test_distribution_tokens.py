"""Token-level robustness of distribution mode, through the real openai SDK against the fake server:
ratings split over two tokens or sharing a token with punctuation, missing ``top_logprobs``, and
servers that ignore ``logprobs`` (detected, warned once, verbalised fallback for later requests)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from calls_helpers import feedback_request, layer, make_config
from click.testing import CliRunner
from pydantic import SecretStr
from simulation_fakes import good_answer, requested_ids, requested_schema

from lusifer.api.backend import LLMRequest
from lusifer.api.errors import ConfigError
from lusifer.api.prompt_context import FeedbackScale
from lusifer.cli import cli, load_plugin_commands
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.distributions import DistributionReader, distribution_request, verbalised_answer_tokens
from lusifer.kernel.settings import load_config
from lusifer.runs.estimate import estimate_run
from lusifer.runs.session import plan_run
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply

Token = tuple[str, dict[str, float] | None]


def _completion(tokens: list[Token]) -> dict[str, Any]:
    """A chat completion of ``tokens``: (text, {alternative: probability}); None leaves out ``top_logprobs``."""
    content = []
    for text, top in tokens:
        entry: dict[str, Any] = {"token": text, "logprob": -0.01, "bytes": None}
        if top is not None:
            entry["top_logprobs"] = [
                {"token": token, "logprob": math.log(p), "bytes": None} for token, p in top.items()
            ]
        content.append(entry)
    answer = "".join(text for text, _ in tokens)
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "logprobs": {"content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": len(tokens), "total_tokens": 50 + len(tokens)},
    }


def _read(tmp_path: Path, server: FakeOpenAIServer, request: LLMRequest, ids: list[str], reader=None):
    config = make_config(tmp_path, name="openai", base_url=server.base_url)
    reader = reader or DistributionReader("logprobs")

    async def go():
        calls = layer(OpenAIBackend(config.backend, SecretStr("sk-test")), config)
        try:
            return await calls.call(request)
        finally:
            await calls.aclose()

    return reader.read(request, asyncio.run(go()).response, ids), reader


def _ten_point_request() -> LLMRequest:
    request = feedback_request()
    ten_points = request.context.model_copy(update={"scale": FeedbackScale(kind="rating", low=1, high=10)})
    return distribution_request(replace(request, context=ten_points), "logprobs")


def test_a_rating_split_over_two_tokens_combines_both_tokens_alternatives(tmp_path: Path) -> None:
    tokens: list[Token] = [
        ('{"ratings": {"10": ', {}),
        ("1", {"1": 0.5, "2": 0.3, "9": 0.15, "x": 0.05}),  # "1" may be 1 or the start of 10
        ("0", {"0": 0.6, "}": 0.3, "5": 0.1}),  # after "1": 10, 1, or 15 (off the scale)
        (', "20": ', {}),
        ("7}}", {"7}}": 0.8, "6}}": 0.2}),  # a rating sharing its token with the closing braces
    ]
    with FakeOpenAIServer(lambda request: FakeReply(json=_completion(tokens))) as server:
        distributions, reader = _read(tmp_path, server, _ten_point_request(), ["10", "20"])
    masses = {10: 0.5 * 0.6, 1: 0.5 * 0.3, 2: 0.3, 9: 0.15}
    inside = sum(masses.values())
    assert distributions["10"] == pytest.approx({p: masses.get(p, 0.0) / inside for p in range(1, 11)}, abs=1e-6)
    assert distributions["20"] == pytest.approx({p: {7: 0.8, 6: 0.2}.get(p, 0.0) for p in range(1, 11)}, abs=1e-6)
    assert not reader.warned and reader.method == "logprobs"


def test_a_missing_top_logprobs_entry_loses_only_that_rating(tmp_path: Path, caplog) -> None:
    tokens: list[Token] = [
        ('{"ratings": {"10":', {}),
        (" 4", {" 4": 0.7, "5": 0.3}),
        (', "20":', {}),
        (" 2", None),  # the server left out this token's top_logprobs
        ("}}", {}),
    ]
    with FakeOpenAIServer(lambda request: FakeReply(json=_completion(tokens))) as server:
        request = distribution_request(feedback_request(), "logprobs")
        distributions, reader = _read(tmp_path, server, request, ["10", "20"])
    assert set(distributions) == {"10"} and distributions["10"][4] == pytest.approx(0.7)
    assert reader.method == "logprobs" and "not one or two tokens with top_logprobs" in caplog.text


@pytest.mark.parametrize("ignores_logprobs", [True, False])
def test_a_server_ignoring_logprobs_is_detected_once_and_the_run_falls_back(
    ml100k: Path, tmp_path: Path, caplog, ignores_logprobs: bool
) -> None:
    def responder(request: dict[str, Any]) -> FakeReply:
        answer = good_answer(request)
        ids = requested_ids(request)
        if ids is not None and "distributions" in requested_schema(request).get("properties", {}):
            answer["distributions"] = {item_id: {"1": 0.1, "2": 0.2, "3": 0.3, "4": 0.4, "5": 0.0} for item_id in ids}
        return FakeReply(content=json.dumps(answer))

    load_plugin_commands()
    out = tmp_path / "run"
    with FakeOpenAIServer(responder, ignores_logprobs=ignores_logprobs) as server:
        arguments = ["run", "--no-progress", "--backend", "openai", "--base-url", server.base_url, "--distribution"]
        arguments += ["--data-dir", str(ml100k), "--users", "1", "--test-items", "6", "--rating-batch", "2"]
        result = CliRunner().invoke(cli, [*arguments, "--out", str(out)], catch_exceptions=False)
        feedback = [r.json for r in server.requests if "ratings" in json.dumps(r.json.get("response_format"))]
    assert result.exit_code == 0, result.output
    what = "logprobs" if ignores_logprobs else "top_logprobs"
    assert caplog.text.count(f"the server returned no {what} (it ignores them)") == 1
    assert [bool(request.get("logprobs")) for request in feedback] == [True, False, False]
    ratings = pd.read_csv(out / "ratings.csv")
    assert ratings["p_4"].isna().sum() == 2 and (ratings["p_4"].dropna() == 0.4).all()
    assert ratings["expected_rating"].dropna().tolist() == pytest.approx([3.0] * 4)


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
def test_estimate_knows_what_distribution_mode_costs(ml100k: Path, backend: str) -> None:
    def estimate(mode: str):
        overrides = {
            "data": {"path": ml100k},
            "run": {"users": 3, "feedback_output": mode},
            "backend": {"name": backend},
        }
        config = load_config(overrides=overrides, environ={})
        return estimate_run(config, plan_run(config))

    value, distribution = estimate("value"), estimate("distribution")
    assert distribution.calls == value.calls
    if backend == "openai":  # log-probabilities are not billed: the same prompts and answers
        assert (distribution.prompt_tokens, distribution.completion_tokens) == (
            value.prompt_tokens,
            value.completion_tokens,
        )
    else:  # the verbalised instruction in each feedback prompt, a probability object per rating in the answer
        assert distribution.prompt_tokens > value.prompt_tokens
        added = distribution.completion_tokens - value.completion_tokens
        assert added == pytest.approx(value.ratings * verbalised_answer_tokens([1, 2, 3, 4, 5]), abs=1)
        assert distribution.cost_usd > value.cost_usd


SERVED = {"10": {1: 0.05, 2: 0.10, 3: 0.20, 4: 0.40, 5: 0.25}, "20": {1: 0.30, 2: 0.50, 3: 0.20}}


def _served_reply(request: dict[str, Any]) -> FakeReply:
    """Ratings of every requested id as one token each, whose alternatives spell :data:`SERVED` (Chat
    Completions or Responses requests alike)."""
    schema = FakeOpenAIServer().schema_of(request) or {}
    ratings = schema.get("properties", {}).get("ratings")
    if ratings is None:
        return FakeReply(
            content=json.dumps({"profile": "Likes quiet dramas and dislikes loud action films.", "explanation": "x"})
        )
    ids = list(ratings["required"])
    served = {item_id: SERVED.get(item_id, {3: 0.6, 4: 0.4}) for item_id in ids}
    tokens: list[dict[str, Any]] = [{"token": '{"ratings": {', "logprob": -0.01, "top_logprobs": []}]
    for position, (item_id, distribution) in enumerate(served.items()):
        best = max(distribution, key=lambda point: distribution[point])
        top = [{"token": f" {point}", "logprob": math.log(p), "bytes": None} for point, p in distribution.items()]
        tokens.append(
            {"token": ("" if position == 0 else ", ") + f'"{item_id}":', "logprob": -0.01, "top_logprobs": []}
        )
        tokens.append({"token": f" {best}", "logprob": math.log(distribution[best]), "top_logprobs": top})
    tokens.append({"token": "}}", "logprob": -0.01, "top_logprobs": []})
    return FakeReply(content="".join(entry["token"] for entry in tokens), logprobs=tokens)


def test_the_responses_api_gives_the_served_distribution(tmp_path: Path) -> None:
    with FakeOpenAIServer(_served_reply) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url)
        config.backend.api = "responses"
        request = distribution_request(feedback_request(), "logprobs")
        reader = DistributionReader("logprobs")

        async def go():
            calls = layer(OpenAIBackend(config.backend, SecretStr("sk-test")), config)
            try:
                return await calls.call(request)
            finally:
                await calls.aclose()

        result = asyncio.run(go())
        sent = server.requests[-1]
    assert sent.path == "/v1/responses" and sent.json["include"] == ["message.output_text.logprobs"]
    assert sent.json["top_logprobs"] == 20 and sent.json["text"]["format"]["type"] == "json_schema"
    distributions = reader.read(request, result.response, ["10", "20"])
    for item_id, served in SERVED.items():
        full = {point: served.get(point, 0.0) for point in range(1, 6)}
        assert distributions[item_id] == pytest.approx(full, abs=1e-6)
    assert result.response.usage.prompt_tokens > 0 and not reader.warned


def test_a_run_through_the_responses_api(ml100k: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LUSIFER_BACKEND__API", "responses")
    load_plugin_commands()
    out = tmp_path / "run"
    with FakeOpenAIServer(_served_reply) as server:
        arguments = ["run", "--no-progress", "--backend", "openai", "--base-url", server.base_url, "--distribution"]
        arguments += ["--data-dir", str(ml100k), "--users", "2", "--out", str(out)]
        result = CliRunner().invoke(cli, arguments, catch_exceptions=False)
        paths = {request.path for request in server.requests}
    assert result.exit_code == 0, result.output
    assert paths == {"/v1/responses"}
    ratings = pd.read_csv(out / "ratings.csv")
    assert ratings["p_1"].notna().all() and len(ratings) == 20
    assert json.loads((out / "config.json").read_text())["backend"]["api"] == "responses"


def test_the_responses_api_refuses_a_chat_only_structured_output_mode(tmp_path: Path) -> None:
    config = make_config(tmp_path, name="openai", base_url="http://127.0.0.1:9/v1")
    config.backend.api, config.backend.structured_output = "responses", "tools"
    with pytest.raises(ConfigError, match="structured_output = 'tools' is for Chat Completions"):
        OpenAIBackend(config.backend, SecretStr("sk-test"))
