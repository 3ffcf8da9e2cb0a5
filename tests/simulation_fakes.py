"""A fake LLM that means well: deterministic answers for the simulator's requests, plus scripted faults."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from lusifer.testing.fake_servers import FakeReply


def intended_rating(item_id: str) -> int:
    """The rating the fake model means for an item."""
    return int(item_id) * 7 % 5 + 1


def requested_schema(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of an OpenAI (response_format) or Anthropic (forced tool) request."""
    if request.get("response_format"):
        response_format = request["response_format"]  # json_schema, or llama.cpp's json_object + schema
        return (response_format.get("json_schema") or {}).get("schema") or response_format.get("schema") or {}
    tools = request.get("tools") or [{}]
    return tools[0].get("input_schema") or {}


def requested_ids(request: dict[str, Any]) -> list[str] | None:
    """The item ids a feedback request asks for (from its JSON schema), None for profile requests."""
    ratings = requested_schema(request).get("properties", {}).get("ratings")
    return list(ratings["required"]) if ratings else None


def good_answer(request: dict[str, Any]) -> dict[str, Any]:
    """What the fake model means to answer."""
    ids = requested_ids(request)
    if ids is not None:
        return {"ratings": {item_id: intended_rating(item_id) for item_id in ids}}
    digest = hashlib.sha256(json.dumps(request["messages"], sort_keys=True).encode()).hexdigest()[:12]
    return {"profile": f"Profile {digest}: likes what they rated high.", "explanation": f"Changed {digest}."}


class ScriptedModel:
    """A responder giving good answers, except for faults scripted per feedback request number."""

    def __init__(
        self, faults: dict[int, Callable[[dict[str, Any]], str]] | None = None, never_answer: set[str] | None = None
    ) -> None:
        self.faults = faults or {}
        self.never_answer = never_answer or set()
        self.feedback_requests = 0
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> FakeReply:
        answer = good_answer(request)
        if requested_ids(request) is None:
            return FakeReply(content=json.dumps(answer))
        with self._lock:
            self.feedback_requests += 1
            number = self.feedback_requests
        for item_id in self.never_answer:
            answer["ratings"].pop(item_id, None)
        fault = self.faults.get(number)
        return FakeReply(content=fault(answer) if fault else json.dumps(answer))


def malformed(answer: dict[str, Any]) -> str:
    return "Sure! Here are the ratings: {" + json.dumps(answer)[1:-2]


def missing_two(answer: dict[str, Any]) -> str:
    ratings = dict(list(answer["ratings"].items())[2:])
    return json.dumps({"ratings": ratings})


def out_of_range(answer: dict[str, Any]) -> str:
    ratings = dict(answer["ratings"])
    first = next(iter(ratings))
    ratings[first] = 9
    return json.dumps({"ratings": ratings})


def fenced_strings(answer: dict[str, Any]) -> str:
    ratings = {item_id: str(value) for item_id, value in answer["ratings"].items()}
    return "```json\n" + json.dumps({"ratings": ratings}) + "\n```"
