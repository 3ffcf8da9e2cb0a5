"""Anthropic Messages API, with JSON obtained through a forced tool call.

When the request carries a schema (and ``structured_output`` is not ``none``) the model must call one
tool whose ``input_schema`` is that schema (``tool_choice={"type": "tool", "name": ...}``); the tool
input becomes the answer text as JSON. System messages go to ``system=``.

Sampling parameters are not sent: the SDK (2.x, API version 2026-10-21) no longer accepts
``temperature``, and the API offers no ``seed`` or log-probabilities. The SDK's own retries are off;
the call layer retries.

Batch mode (:mod:`lusifer.engine.calls.batch`) uses Message Batches: ``messages.batches.create`` with one
``{"custom_id", "params"}`` per request, ``retrieve`` to poll, ``results`` for the answers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from lusifer.api.backend import Backend, LLMRequest, LLMResponse, Usage, sdk_timeout
from lusifer.api.errors import BackendError, KeyMissingError, RetryableError
from lusifer.engine.backends.errors import translate_sdk_error
from lusifer.engine.backends.http_pool import sdk_http_client
from lusifer.engine.calls.batch_limits import ANTHROPIC_BATCH_LIMITS

if TYPE_CHECKING:
    from anthropic.types.messages.batch_create_params import Request
    from pydantic import SecretStr

    from lusifer.api.settings import BackendConfig
    from lusifer.engine.calls.batch import BatchResults, BatchState

_T = TypeVar("_T")
_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]")
#: Error types of a batch request worth asking again.
RETRYABLE_ERRORS = frozenset({"api_error", "overloaded_error", "rate_limit_error", "timeout_error"})


class AnthropicBackend(Backend):
    """Claude models through the Messages API."""

    name = "anthropic"
    description = "Anthropic Messages API (Claude); JSON through a forced tool call."
    key_name = "anthropic"
    default_model = "claude-haiku-4-5"
    #: What one batch may hold (:mod:`lusifer.engine.calls.batch_limits`).
    batch_limits = ANTHROPIC_BATCH_LIMITS

    def __init__(self, config: BackendConfig, api_key: SecretStr | None = None) -> None:
        super().__init__(config, api_key)
        import anthropic

        if api_key is None:  # constructed without the factory
            raise KeyMissingError("the anthropic backend needs a key: create it with lusifer.runs.backend_factory")
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key.get_secret_value(),
            base_url=config.base_url,
            max_retries=0,
            timeout=sdk_timeout(config),
            http_client=sdk_http_client(config, anthropic, self._base_url()),
        )

    def _base_url(self) -> str | None:
        """``base_url``, or ``ANTHROPIC_BASE_URL`` as the SDK reads it."""
        return self.config.base_url or os.environ.get("ANTHROPIC_BASE_URL")

    def cache_identity(self) -> dict[str, str]:
        """The server answering (``base_url``, or ``ANTHROPIC_BASE_URL`` as the SDK reads it), without credentials."""
        from lusifer.api.redaction import redact_url

        base_url = self._base_url()
        return {"base_url": redact_url(base_url)} if base_url else {}

    def _arguments(self, request: LLMRequest) -> dict[str, Any]:
        system = "\n\n".join(message.content for message in request.messages if message.role == "system")
        arguments: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.config.max_tokens,
            "messages": [
                {"role": message.role, "content": message.content}
                for message in request.messages
                if message.role != "system"
            ],
        }
        if system:
            arguments["system"] = system
        if request.schema is not None and self.config.structured_output != "none":
            tool = _TOOL_NAME.sub("_", request.schema_name)[:64] or "answer"
            arguments["tools"] = [
                {"name": tool, "description": "Give the answer.", "input_schema": request.portable_schema}
            ]
            arguments["tool_choice"] = {"type": "tool", "name": tool}
        return arguments

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        import anthropic

        try:
            message = await self._client.messages.create(**self._arguments(request))
        except anthropic.AnthropicError as error:
            raise translate_sdk_error(error, "anthropic", self._api_key) from None
        except json.JSONDecodeError:
            raise RetryableError("anthropic: the response body is not JSON") from None
        try:
            return self._response(message)
        except (AttributeError, TypeError) as error:
            raise RetryableError(f"anthropic: malformed response ({type(error).__name__}: {error})") from None

    def _response(self, message: Any) -> LLMResponse:
        tool_inputs = [block.input for block in message.content if block.type == "tool_use"]
        if tool_inputs:
            text = json.dumps(tool_inputs[0], ensure_ascii=False)
        else:
            text = "".join(block.text for block in message.content if block.type == "text")
        usage = message.usage
        prompt_tokens = (
            usage.input_tokens + (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
        )
        return LLMResponse(
            text=text,
            model=message.model or self.model,
            usage=Usage(prompt_tokens, usage.output_tokens),
            finish_reason=message.stop_reason,
        )

    # batch API ----------------------------------------------------------------------------------------

    async def submit_batch(self, requests: Mapping[str, LLMRequest]) -> str:
        """Start a Message Batch with one request per key (custom id = key)."""
        # the SDK types each entry as TypedDicts; our arguments are the plain dict that acomplete spreads
        entries = [
            cast("Request", {"custom_id": key, "params": self._arguments(request)}) for key, request in requests.items()
        ]
        batch = await self._sdk(self._client.messages.batches.create(requests=entries))
        return batch.id

    def batch_request_size(self, key: str, request: LLMRequest) -> int:
        """Bytes ``request`` adds to a batch's request body (its entry and a separator)."""
        return len(json.dumps({"custom_id": key, "params": self._arguments(request)}).encode()) + 1

    async def poll_batch(self, batch_id: str) -> BatchState:
        from lusifer.engine.calls.batch import BatchState

        batch = await self._sdk(self._client.messages.batches.retrieve(batch_id))
        counts = batch.request_counts
        detail = f"batch {batch.processing_status}: {counts.errored} errored, {counts.expired} expired"
        return BatchState(batch.processing_status == "ended", detail)

    async def batch_results(self, batch_id: str) -> BatchResults:
        results: BatchResults = {}
        async for entry in await self._sdk(self._client.messages.batches.results(batch_id)):
            result = entry.result
            if result.type == "succeeded":
                results[entry.custom_id] = self._response(result.message)
            elif result.type == "errored":
                error = result.error.error
                message = f"anthropic batch: {error.type}: {error.message}"
                retryable = error.type in RETRYABLE_ERRORS
                results[entry.custom_id] = RetryableError(message) if retryable else BackendError(message)
            else:  # canceled or expired
                results[entry.custom_id] = RetryableError(f"anthropic batch: request {result.type}")
        return results

    async def _sdk(self, call: Awaitable[_T]) -> _T:
        """Await an SDK call, turning its errors into Lusifer's."""
        import anthropic

        try:
            return await call
        except anthropic.AnthropicError as error:
            raise translate_sdk_error(error, "anthropic", self._api_key) from None

    async def aclose(self) -> None:
        await self._client.close()
