"""A backend that answers one request at a time (a local model) is never sent more at once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from calls_helpers import VALIDATORS, feedback_request, layer, make_config

from lusifer.api.backend import Backend, LLMRequest, LLMResponse
from lusifer.engine.validation import feedback_context


class OneAtATime(Backend):
    """Answers after a short wait, counting how many requests it holds at once."""

    name = "one-at-a-time"
    concurrency_limit = 1

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.in_flight = self.most_in_flight = 0

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.05)
        self.in_flight -= 1
        ids = feedback_context(request).item_ids
        return LLMResponse(json.dumps({"ratings": dict.fromkeys(ids, 3)}), "local")


def test_the_call_layer_keeps_to_the_backends_concurrency_limit(tmp_path: Path) -> None:
    config = make_config(tmp_path, max_concurrency=8, timeout=0.2)
    backend = OneAtATime(config.backend)

    async def go():
        calls = layer(backend, config)
        try:
            requests = [feedback_request((str(number),)) for number in range(6)]
            return await asyncio.gather(*(calls.call(request, VALIDATORS) for request in requests)), calls.stats
        finally:
            await calls.aclose()

    results, stats = asyncio.run(go())
    assert backend.most_in_flight == 1
    assert all(result.validation.ok for result in results)
    assert stats.retries == 0  # 6 x 0.05 s queued > the 0.2 s timeout, yet waiting is not counted
