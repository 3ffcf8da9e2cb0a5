"""OpenAI Chat Completions, and any OpenAI-compatible server (vLLM, Ollama, LM Studio) via ``base_url``.

The SDK is imported when the backend is created, so importing this module stays cheap. The SDK's own
retries are off (``max_retries=0``): the call layer retries, rate-limits and times out every backend
the same way.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from lusifer.backends.base import Backend, LLMRequest, LLMResponse, Usage
from lusifer.backends.errors import translate_sdk_error
from lusifer.errors import RetryableError
from lusifer.keys import require_key

if TYPE_CHECKING:
    from pydantic import SecretStr

    from lusifer.config import BackendConfig

#: Sent as the key to an OpenAI-compatible server when no key is configured (the SDK insists on one).
KEYLESS_PLACEHOLDER = "not-needed"


class OpenAIBackend(Backend):
    """Chat Completions with structured output (``json_schema`` or ``json_object``)."""

    name = "openai"
    description = "OpenAI Chat Completions API, or an OpenAI-compatible server with --base-url."
    key_name = "openai"
    default_model = "gpt-4o-mini"

    def __init__(self, config: BackendConfig, api_key: SecretStr | None = None) -> None:
        super().__init__(config, api_key)
        import openai

        base_url = config.base_url or os.environ.get("OPENAI_BASE_URL") or None
        if api_key is None and not base_url:
            self._api_key = require_key("openai")
        key = self._api_key.get_secret_value() if self._api_key is not None else KEYLESS_PLACEHOLDER
        self._client = openai.AsyncOpenAI(
            api_key=key, base_url=base_url, max_retries=0, timeout=config.timeout
        )

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

    async def aclose(self) -> None:
        await self._client.close()
