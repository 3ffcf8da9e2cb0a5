"""Shared pieces of the backend and call-layer tests: configs pointing at fake servers, requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.exchange import Exchange
from lusifer.api.settings import LusiferConfig
from lusifer.engine.calls import CallLayer
from lusifer.engine.validation import FeedbackValidator, ProfileValidator, feedback_schema
from lusifer.runs.session import call_settings
from lusifer.testing.contracts import sample_feedback_context

#: A key that must never show up anywhere Lusifer writes.
SECRET = "sk-test-SECRET-0123456789abcdef"
VALIDATORS = (FeedbackValidator(), ProfileValidator())
#: Retry waits small enough for tests.
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


def make_config(tmp_path: Path, **backend: Any) -> LusiferConfig:
    """A configuration whose cache lives in ``tmp_path``; ``backend`` overrides ``[backend]`` keys."""
    settings = {"max_retries": 3, "timeout": 5.0, **backend}
    return LusiferConfig.model_validate({"backend": settings, "cache": {"path": str(tmp_path / "cache.sqlite")}})


def feedback_request(item_ids: tuple[str, ...] = ("10", "20"), text: str = "Rate these movies.") -> LLMRequest:
    """A feedback request on a 1-5 scale for ``item_ids``."""
    context = sample_feedback_context(item_ids)
    return LLMRequest(
        "feedback",
        (Message("system", "You are a movie watcher. Answer in JSON."), Message("user", text)),
        schema=feedback_schema(list(item_ids), 1, 5),
        schema_name="feedback",
        context=context,
    )


def layer(backend: Any, config: LusiferConfig, exchanges: list[Exchange] | None = None) -> CallLayer:
    """A call layer with fast retries that appends every exchange to ``exchanges``."""
    return CallLayer(backend, call_settings(config), exchanges.append if exchanges is not None else None, **FAST)
