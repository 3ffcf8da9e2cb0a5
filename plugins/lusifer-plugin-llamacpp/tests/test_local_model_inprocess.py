"""A real GGUF model (``$LUSIFER_TEST_GGUF``) answered in-process by the llamacpp backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lusifer import BackendConfig, BackendError, LLMRequest, LusiferConfig, Message
from lusifer.testing import (
    FeedbackValidator,
    call_layer,
    check_tiny_run,
    feedback_schema,
    local_gguf,
    run_environment,
    run_kill_resume,
    sample_feedback_context,
    tiny_run,
)
from lusifer_plugin_llamacpp.backend import LlamaCppBackend
from lusifer_plugin_llamacpp.settings import LlamaCppSettings

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
ML_100K, TMDB_100K = SHARED / "ml-100k", SHARED / "tmdb" / "ml-100k-tmdb.csv"


def _feedback_request(text: str) -> LLMRequest:
    ids = ["11", "22", "33"]
    return LLMRequest(
        "feedback",
        (Message("system", "You rate movies. Answer in JSON."), Message("user", text)),
        schema=feedback_schema(ids, 1, 5),
        schema_name="feedback",
        context=sample_feedback_context(ids),
    )


def _backend(gguf: Path, **settings: object) -> LlamaCppBackend:
    config = BackendConfig(name="llamacpp", model=str(gguf), max_tokens=60, seed=1)
    return LlamaCppBackend(config, settings=LlamaCppSettings(**{"n_ctx": 1024, **settings}))


def test_answers_follow_the_schema_with_the_models_token_counts_at_no_cost(tmp_path: Path) -> None:
    gguf = local_gguf()
    backend = _backend(gguf)
    config = LusiferConfig.model_validate(
        {"backend": backend.config.model_dump(), "cache": {"path": str(tmp_path / "c")}}
    )
    short, long = _feedback_request("Rate [11], [22] and [33]."), _feedback_request("Rate [11], [22] and [33]. " * 8)

    async def ask() -> list:
        calls = call_layer(backend, config)
        try:
            return [await calls.call(request, [FeedbackValidator()]) for request in (short, long)], calls.stats
        finally:
            await calls.aclose()

    (first, second), stats = asyncio.run(ask())
    assert set(json.loads(first.response.text)["ratings"]) == {"11", "22", "33"}  # the grammar's doing
    assert first.validation.ok and set(first.validation.value.values()) <= {1, 2, 3, 4, 5}
    from llama_cpp import Llama

    vocabulary = Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    extra = [len(vocabulary.tokenize(r.messages[1].content.encode(), add_bos=False)) for r in (long, short)]
    counted = second.response.usage.prompt_tokens - first.response.usage.prompt_tokens
    assert abs(counted - (extra[0] - extra[1])) <= 2  # the model's own tokenizer, not an estimate
    assert first.response.usage.completion_tokens > 0 and stats.cost_usd == 0.0
    assert first.response.model == gguf.name


def test_a_prompt_longer_than_the_context_is_one_line() -> None:
    backend = _backend(local_gguf(), n_ctx=256)
    with pytest.raises(BackendError) as raised:
        asyncio.run(backend.acomplete(_feedback_request("Rate these movies. " * 100)))
    message = str(raised.value)
    assert "\n" not in message
    assert "but the context window (n_ctx) is 256: raise [plugins.llamacpp] n_ctx" in message


@pytest.mark.slow
def test_in_process_run_completes_and_resumes(tmp_path: Path) -> None:
    gguf = local_gguf()
    if not (ML_100K / "u1.base").is_file() or not TMDB_100K.is_file():
        pytest.skip(f"shared MovieLens 100K and TMDB overviews not found under {SHARED}")
    arguments = [*tiny_run(ML_100K, TMDB_100K), "--backend", "llamacpp", "--model", str(gguf)]
    outcome = run_kill_resume(arguments, tmp_path / "run", run_environment(tmp_path / "home"), kill_after=2)
    check_tiny_run(outcome, tmp_path / "run")
    assert {exchange["model"] for exchange in outcome.after_resume} == {gguf.name}
