"""OpenAI Chat Completions, and any OpenAI-compatible server (vLLM, Ollama, LM Studio) via ``base_url``.

The SDK is imported when the backend is created, so importing this module stays cheap. The SDK's own
retries are off (``max_retries=0``): the call layer retries, rate-limits and times out every backend
the same way.

Batch mode (:mod:`lusifer.calls.batch`) uses the Batch API: the requests go up as one JSONL file
(``files.create(purpose="batch")``), ``batches.create`` starts them, ``batches.retrieve`` polls, and the
answers come back in the output file, failures in the error file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lusifer.backends.base import Backend, LLMRequest, LLMResponse, Usage, sdk_timeout
from lusifer.backends.errors import RETRYABLE_STATUSES, translate_sdk_error
from lusifer.backends.http_pool import http_client
from lusifer.calls.batch_limits import OPENAI_BATCH_LIMITS
from lusifer.errors import BackendError, RetryableError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from lusifer.calls.batch import BatchResults, BatchState
    from lusifer.config import BackendConfig

#: Sent as the key to an OpenAI-compatible server when no key is configured (the SDK insists on one).
KEYLESS_PLACEHOLDER = "not-needed"
CHAT_ENDPOINT = "/v1/chat/completions"
#: Batch statuses after which nothing more will be answered.
BATCH_ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


def _base_url(config: BackendConfig) -> str | None:
    return config.base_url or os.environ.get("OPENAI_BASE_URL") or None


class OpenAIBackend(Backend):
    """Chat Completions with structured output (``json_schema`` or ``json_object``)."""

    name = "openai"
    description = "OpenAI Chat Completions API, or an OpenAI-compatible server with --base-url."
    key_name = "openai"
    default_model = "gpt-4o-mini"
    #: What one batch may hold (:mod:`lusifer.calls.batch_limits`).
    batch_limits = OPENAI_BATCH_LIMITS

    @classmethod
    def key_required(cls, config: BackendConfig) -> bool:
        """A key is needed for OpenAI itself, not for a keyless OpenAI-compatible server (vLLM, Ollama)."""
        return _base_url(config) is None

    def __init__(self, config: BackendConfig, api_key: SecretStr | None = None) -> None:
        super().__init__(config, api_key)
        import openai

        base_url = _base_url(config)
        key = self._api_key.get_secret_value() if self._api_key is not None else KEYLESS_PLACEHOLDER
        self._client = openai.AsyncOpenAI(
            api_key=key,
            base_url=base_url,
            max_retries=0,
            timeout=sdk_timeout(config),
            http_client=http_client(config.max_concurrency, sdk_timeout(config)),
        )

    def cache_identity(self) -> dict[str, str]:
        """The server answering (``base_url`` or ``OPENAI_BASE_URL``), without credentials."""
        from lusifer.keys import redact_url

        base_url = _base_url(self.config)
        return {"base_url": redact_url(base_url)} if base_url else {}

    def _arguments(self, request: LLMRequest) -> dict[str, Any]:
        config = self.config
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": message.role, "content": message.content} for message in request.messages],
            "temperature": config.temperature,
            "max_tokens": config.max_tokens,
        }
        if config.seed is not None:
            arguments["seed"] = config.seed
        if config.logprobs:
            arguments["logprobs"] = True
        if config.structured_output == "json_schema" and request.schema is not None:
            arguments["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": dict(request.schema), "strict": True},
            }
        elif config.structured_output == "json_object":
            arguments["response_format"] = {"type": "json_object"}
        return arguments

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        import openai

        try:
            completion = await self._client.chat.completions.create(**self._arguments(request))
        except openai.OpenAIError as error:
            raise translate_sdk_error(error, "openai", self._api_key) from None
        except json.JSONDecodeError:
            raise RetryableError("openai: the response body is not JSON") from None
        try:
            return self._response(completion)
        except (AttributeError, IndexError, TypeError) as error:
            raise RetryableError(f"openai: malformed response ({type(error).__name__}: {error})") from None

    def _response(self, completion: Any) -> LLMResponse:
        choice = completion.choices[0]
        usage = completion.usage
        logprobs = None
        if choice.logprobs is not None and choice.logprobs.content is not None:
            logprobs = [{"token": entry.token, "logprob": entry.logprob} for entry in choice.logprobs.content]
        return LLMResponse(
            text=choice.message.content or "",
            model=completion.model or self.model,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            finish_reason=choice.finish_reason,
            logprobs=logprobs,
        )

    # batch API ----------------------------------------------------------------------------------------

    async def submit_batch(self, requests: Mapping[str, LLMRequest]) -> str:
        """Upload ``requests`` as JSONL (custom id = key) and start a 24 h batch on it."""
        lines = [self._batch_line(key, request) for key, request in requests.items()]
        upload = ("lusifer-batch.jsonl", b"\n".join(lines), "application/jsonl")
        batch = await self._sdk(self._batch_create(upload))
        return batch.id

    def _batch_line(self, key: str, request: LLMRequest) -> bytes:
        body = {"custom_id": key, "method": "POST", "url": CHAT_ENDPOINT, "body": self._arguments(request)}
        return json.dumps(body).encode()

    def batch_request_size(self, key: str, request: LLMRequest) -> int:
        """Bytes ``request`` adds to a batch's input file (its line and newline)."""
        return len(self._batch_line(key, request)) + 1

    async def _batch_create(self, upload: tuple[str, bytes, str]) -> Any:
        uploaded = await self._client.files.create(file=upload, purpose="batch")
        return await self._client.batches.create(
            input_file_id=uploaded.id, endpoint=CHAT_ENDPOINT, completion_window="24h"
        )

    async def poll_batch(self, batch_id: str) -> BatchState:
        from lusifer.calls.batch import BatchState

        batch = await self._sdk(self._client.batches.retrieve(batch_id))
        errors = "; ".join(str(error.message) for error in (batch.errors.data or [])) if batch.errors else ""
        return BatchState(batch.status in BATCH_ENDED, f"batch {batch.status}" + (f": {errors}" if errors else ""))

    async def batch_results(self, batch_id: str) -> BatchResults:
        batch = await self._sdk(self._client.batches.retrieve(batch_id))
        results: BatchResults = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                content = await self._sdk(self._client.files.content(file_id))
                for line in content.text.splitlines():
                    if line.strip():
                        entry = json.loads(line)
                        results[entry["custom_id"]] = self._batch_outcome(entry)
        return results

    def _batch_outcome(self, entry: dict[str, Any]) -> LLMResponse | BackendError:
        from openai.types.chat import ChatCompletion

        response = entry.get("response") or {}
        status = response.get("status_code")
        if status == 200:
            try:
                return self._response(ChatCompletion.model_validate(response["body"]))
            except Exception as error:  # pydantic's or ours: the body is not a completion
                return RetryableError(f"openai batch: malformed response ({type(error).__name__})")
        error = entry.get("error") or (response.get("body") or {}).get("error") or {}
        message = f"openai batch: {status or error.get('code')}: {error.get('message', 'no answer')}"
        if status is None or status in RETRYABLE_STATUSES or status >= 500:
            return RetryableError(message)
        return BackendError(message)

    async def _sdk(self, call: Any) -> Any:
        """Await an SDK call, turning its errors into Lusifer's."""
        import openai

        try:
            return await call
        except openai.OpenAIError as error:
            raise translate_sdk_error(error, "openai", self._api_key) from None

    async def aclose(self) -> None:
        await self._client.close()
