"""A fake Gemini API server for tests: the official ``google-genai`` SDK talks to it on loopback.

It speaks ``POST /v1beta/models/{model}:generateContent`` for one model; like the kernel's fake
servers (:mod:`lusifer.testing.fake_servers`, whose scripting it inherits)::

    with FakeGeminiServer(model="gemini-2.5-flash") as server:
        config = BackendConfig(name="gemini", base_url=server.base_url)
        server.inject(FakeReply(status=429, headers={"Retry-After": "0.1"}))  # the next request fails
        server.requests[-1].json["generationConfig"]["responseJsonSchema"]  # what the SDK sent

A request for another model gets a 404. The default answer follows the request's
``responseJsonSchema``. Usage counts are estimated from the request and answer sizes; ``thoughts``
adds that many thinking tokens to every answer. The ``x-goog-api-key`` header is recorded as sent
(test keys only), so tests can check that the key reached the server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lusifer.testing import FakeServer, Responder

#: The status names Google's JSON errors carry.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class FakeGeminiServer(FakeServer):
    """Speaks ``POST /v1beta/models/{model}:generateContent`` (JSON schema, logprobs, usage, errors)."""

    def __init__(
        self, responder: Responder | None = None, *, model: str = "gemini-2.5-flash", thoughts: int = 0, **options: Any
    ) -> None:
        super().__init__(responder, **options)
        self.model = model
        self.thoughts = thoughts
        self.path = f"/v1beta/models/{model}:generateContent"

    def schema_of(self, request: Any) -> Mapping[str, Any] | None:
        settings = (request or {}).get("generationConfig") or {}
        return settings.get("responseJsonSchema") or settings.get("responseSchema")

    def envelope(self, request: Any, content: str, number: int) -> dict[str, Any]:
        request = request or {}
        prompt = max(len(json.dumps([request.get("systemInstruction"), request.get("contents")])) // 4, 1)
        completion = max(len(content) // 4, 1)
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": content}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
        if (request.get("generationConfig") or {}).get("responseLogprobs"):
            pieces = [content[i : i + 4] for i in range(0, len(content), 4)]
            candidate["logprobsResult"] = {
                "chosenCandidates": [{"token": piece, "logProbability": -0.01} for piece in pieces],
                "topCandidates": [],
            }
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": completion}
        if self.thoughts:
            usage["thoughtsTokenCount"] = self.thoughts
        usage["totalTokenCount"] = sum(usage.values())
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": self.model,
            "responseId": f"fake-{number}",
        }

    def error_body(self, status: int) -> dict[str, Any]:
        name = STATUS_NAMES.get(status, "UNKNOWN")
        return {"error": {"code": status, "message": f"fake error {status}", "status": name}}
