"""Google Gemini (``generateContent``) through the official ``google-genai`` SDK.

- Messages: system messages become the ``system_instruction``; user and assistant messages become
  ``user`` and ``model`` contents.
- Structured output: ``response_mime_type="application/json"`` plus ``response_json_schema`` (the
  request's portable schema: without grammar-only keywords such as ``pattern``) for
  ``structured_output = "auto"`` (the default), ``"json_schema"`` and the other schema modes; the MIME
  type alone for ``"json_object"``; neither for ``"none"``.
- The SDK's own retries are off (one attempt): the call layer retries, rate-limits, times out, caches
  and prices every backend the same way. SDK errors become :class:`~lusifer.api.errors.RetryableError`
  (429 — as :class:`~lusifer.engine.backends.errors.RateLimitedError` —, 408, 409, 5xx, timeouts, dropped
  connections, unparseable bodies) with the server's ``Retry-After`` header or ``RetryInfo`` delay,
  or :class:`~lusifer.api.errors.BackendError` (other 4xx, a blocked prompt). Messages never hold the key.
- Usage: ``usage_metadata``; thinking tokens (``thoughts_token_count``) count as completion tokens,
  as Google bills them.
- API version ``v1beta`` unless ``GOOGLE_GENAI_API_VERSION`` is set (the SDK then uses it).
- Key ``gemini``: ``--key`` > ``lusifer keys set gemini`` > ``GEMINI_API_KEY`` > ``GOOGLE_API_KEY``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
from typing import TYPE_CHECKING, Any

from lusifer import (
    RETRYABLE_STATUSES,
    Backend,
    BackendError,
    LLMRequest,
    LLMResponse,
    Price,
    RateLimitedError,
    RetryableError,
    Usage,
    redact,
    require_key,
    retry_after_seconds,
)

if TYPE_CHECKING:
    from pydantic import SecretStr

    from lusifer import BackendConfig

#: Environment variables holding a Gemini key, in lookup order (after a stored ``gemini`` key).
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
API_VERSION = "v1beta"
#: ``structured_output`` values that send the schema (Gemini accepts it, so ``auto`` does too).
SCHEMA_MODES = frozenset({"auto", "json_schema", "json_object_schema", "tools"})


class GeminiBackend(Backend):
    """Gemini ``generateContent`` with JSON-schema structured output."""

    name = "gemini"
    description = "Google Gemini API through the official google-genai SDK (key: GEMINI_API_KEY)."
    key_name = "gemini"
    key_env_variables = KEY_VARIABLES
    #: Google's 2025 list prices for paid-tier text (USD per million tokens); ``[prices]`` overrides them.
    prices = {
        "gemini-2.5-flash": Price(input=0.30, output=2.50),
        "gemini-2.5-flash-lite": Price(input=0.10, output=0.40),
        "gemini-2.5-pro": Price(input=1.25, output=10.00),
    }
    default_model = "gemini-2.5-flash"

    def __init__(self, config: BackendConfig, api_key: SecretStr | None = None) -> None:
        super().__init__(config, api_key)
        from google import genai
        from google.genai import types

        if self._api_key is None:  # constructed without lusifer.runs.backend_factory
            self._api_key = require_key(self.key_name, None, self.key_env_variables)
        options = types.HttpOptions(
            base_url=config.base_url or None,
            api_version=None if os.environ.get("GOOGLE_GENAI_API_VERSION") else API_VERSION,
            timeout=int(config.timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        self._client = genai.Client(api_key=self._api_key.get_secret_value(), vertexai=False, http_options=options)

    def _arguments(self, request: LLMRequest) -> dict[str, Any]:
        from google.genai import types

        config = self.config
        system = "\n\n".join(message.content for message in request.messages if message.role == "system")
        settings: dict[str, Any] = {
            "system_instruction": system or None,
            "temperature": config.temperature,
            "max_output_tokens": config.max_tokens,
            "seed": config.seed,
        }
        if config.structured_output != "none":
            settings["response_mime_type"] = "application/json"
        if config.structured_output in SCHEMA_MODES and request.schema is not None:
            settings["response_json_schema"] = request.portable_schema
        if config.logprobs:
            settings["response_logprobs"] = True
        contents = [
            types.Content(
                role="model" if message.role == "assistant" else "user", parts=[types.Part(text=message.content)]
            )
            for message in request.messages
            if message.role != "system"
        ]
        return {"model": self.model, "contents": contents, "config": types.GenerateContentConfig(**settings)}

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        from google.genai import errors

        arguments = self._arguments(request)
        try:
            response = await self._client.aio.models.generate_content(**arguments)
        except errors.APIError as error:
            raise translate_error(error, self._api_key) from None
        except (errors.UnknownApiResponseError, json.JSONDecodeError):
            raise RetryableError("gemini: the response body is not JSON") from None
        except transport_errors() as error:
            raise RetryableError(redact(f"gemini: {type(error).__name__}: {error}", self._api_key)) from None
        return self._response(response)

    def _response(self, response: Any) -> LLMResponse:
        if not response.candidates:
            blocked = getattr(response.prompt_feedback, "block_reason", None)
            if blocked is not None:
                raise BackendError(f"gemini: the prompt was blocked ({getattr(blocked, 'value', blocked)})")
            raise RetryableError("gemini: the response has no candidates")
        candidate = response.candidates[0]
        parts = candidate.content.parts if candidate.content is not None and candidate.content.parts else []
        usage = response.usage_metadata
        logprobs = None
        if candidate.logprobs_result is not None and candidate.logprobs_result.chosen_candidates:
            logprobs = [
                {"token": chosen.token, "logprob": chosen.log_probability}
                for chosen in candidate.logprobs_result.chosen_candidates
            ]
        reason = candidate.finish_reason
        return LLMResponse(
            text="".join(part.text for part in parts if part.text and not part.thought),
            model=response.model_version or self.model,
            usage=Usage(
                usage.prompt_token_count or 0, (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
            )
            if usage is not None
            else Usage(),
            finish_reason=str(getattr(reason, "value", reason)).lower() if reason is not None else None,
            logprobs=logprobs,
        )

    async def aclose(self) -> None:
        await self._client.aio.aclose()


def translate_error(error: Any, secret: SecretStr | None) -> BackendError:
    """The Lusifer error for a ``google.genai.errors.APIError`` (raise it ``from None``)."""
    status = int(error.code or 0)
    message = redact(f"gemini API error {status} {error.status or ''}: {error.message or error}", secret)
    retry_after = retry_after_seconds(getattr(error.response, "headers", None)) or _retry_info(error.details)
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after)
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableError(message, retry_after=retry_after)
    return BackendError(message)


def transport_errors() -> tuple[type[BaseException], ...]:
    """Network failures of the HTTP clients the SDK may use (httpx, its fork httpx2, aiohttp)."""
    found: list[type[BaseException]] = [OSError, asyncio.TimeoutError]
    for module, name in (("httpx", "TransportError"), ("httpx2", "TransportError"), ("aiohttp", "ClientError")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _retry_info(details: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "26s"``) of an error body."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for detail in error.get("details") or [] if isinstance(error, dict) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            try:
                return max(float(str(detail.get("retryDelay", "")).removesuffix("s")), 0.0)
            except ValueError:
                return None
    return None
