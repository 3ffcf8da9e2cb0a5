"""OpenAI Chat Completions, and any OpenAI-compatible server (vLLM, Ollama, LM Studio) via ``base_url``.

The SDK is imported when the backend is created, so importing this module stays cheap. The SDK's own
retries are off (``max_retries=0``): the call layer retries, rate-limits and times out every backend
the same way.

Batch mode (:mod:`lusifer.engine.calls.batch`) uses the Batch API: the requests go up as one JSONL file
(``files.create(purpose="batch")``), ``batches.create`` starts them, ``batches.retrieve`` polls, and the
answers come back in the output file, failures in the error file.

Structured output (``backend.structured_output``): ``auto`` (the default) negotiates the richest mode
the endpoint accepts (:mod:`lusifer.engine.backends.negotiation`); any other value forces that mode
(:mod:`lusifer.engine.backends.structured_output`), and a server that rejects it is a one-line error naming
``auto``.

``backend.api = "responses"`` sends single calls through the Responses API instead
(``client.responses.create``: the schema as ``text.format`` of type ``json_schema``; log-probabilities
through ``include=["message.output_text.logprobs"]`` and ``top_logprobs``), with the same answer,
usage and token log-probabilities as Chat Completions; there is no negotiation on that path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from lusifer.api.backend import Backend, LLMRequest, LLMResponse, Message, Usage, sdk_timeout
from lusifer.api.errors import BackendError, ConfigError, RetryableError
from lusifer.api.prompt_context import FeedbackContext
from lusifer.engine.backends.errors import (
    REJECTED_ADVICE,
    RETRYABLE_STATUSES,
    RequestRejectedError,
    redact,
    translate_sdk_error,
)
from lusifer.engine.backends.http_pool import HTTP_RESPONSE, sdk_http_client
from lusifer.engine.backends.negotiation import AUTO, ModeStore, Negotiator, is_rejection, one_line
from lusifer.engine.backends.structured_output import answer_text, chat_messages, structured_arguments
from lusifer.engine.calls.batch_limits import OPENAI_BATCH_LIMITS
from lusifer.engine.distributions import TOP_LOGPROBS

if TYPE_CHECKING:
    from openai.types import Batch
    from pydantic import SecretStr

    from lusifer.api.settings import BackendConfig
    from lusifer.engine.calls.batch import BatchResults, BatchState

_T = TypeVar("_T")
#: Sent as the key to an OpenAI-compatible server when no key is configured (the SDK insists on one).
KEYLESS_PLACEHOLDER = "not-needed"
CHAT_ENDPOINT: Final = "/v1/chat/completions"
#: The same endpoint relative to the client's base URL (which ends in ``/v1``).
CHAT_ENDPOINT_PATH: Final = "/chat/completions"
#: The endpoint remembered for OpenAI itself (no ``base_url``).
OPENAI_API_URL = "https://api.openai.com/v1"
#: The tiny request ``lusifer backends --probe`` negotiates with.
PROBE_REQUEST = LLMRequest(
    "probe",
    (Message("system", "Answer in JSON."), Message("user", 'Reply with {"ok": true}.')),
    schema={
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    },
    schema_name="probe",
)
#: What the Responses API is asked to include for token log-probabilities.
RESPONSES_LOGPROBS = "message.output_text.logprobs"
#: Batch statuses after which nothing more will be answered.
BATCH_ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


def _base_url(config: BackendConfig) -> str | None:
    return config.base_url or os.environ.get("OPENAI_BASE_URL") or None


def _alternatives(entry: Any) -> dict[str, Any]:
    """A token's ``top_logprobs`` as ``{"top": [{"token", "logprob"}, ...]}`` (nothing when absent)."""
    top = getattr(entry, "top_logprobs", None)
    return {"top": [{"token": alt.token, "logprob": alt.logprob} for alt in top]} if top else {}


def _token_logprobs(entries: list[Any]) -> list[dict[str, Any]]:
    """Chat Completions ``logprobs.content`` (JSON) as ``[{"token", "logprob", "top"?}, ...]``."""
    tokens = []
    for entry in entries:
        token = {"token": entry.get("token"), "logprob": entry.get("logprob")}
        top = entry.get("top_logprobs")
        if top:
            token["top"] = [{"token": alt.get("token"), "logprob": alt.get("logprob")} for alt in top]
        tokens.append(token)
    return tokens


class OpenAIBackend(Backend):
    """Chat Completions with structured output negotiated per endpoint, or forced to one mode."""

    name = "openai"
    description = "OpenAI Chat Completions API, or an OpenAI-compatible server with --base-url."
    key_name = "openai"
    default_model = "gpt-4o-mini"
    distribution_method = "logprobs"
    #: What one batch may hold (:mod:`lusifer.engine.calls.batch_limits`).
    batch_limits = OPENAI_BATCH_LIMITS

    @classmethod
    def key_required(cls, config: BackendConfig) -> bool:
        """A key is needed for OpenAI itself, not for a keyless OpenAI-compatible server (vLLM, Ollama)."""
        return _base_url(config) is None

    def __init__(self, config: BackendConfig, api_key: SecretStr | None = None) -> None:
        super().__init__(config, api_key)
        import openai

        if config.api == "responses" and config.structured_output not in (AUTO, "json_schema"):
            raise ConfigError(
                f"backend.api = 'responses' sends the schema as json_schema; structured_output = "
                f"'{config.structured_output}' is for Chat Completions (set it to 'auto' or use api = 'chat')"
            )

        base_url = _base_url(config)
        key = self._api_key.get_secret_value() if self._api_key is not None else KEYLESS_PLACEHOLDER
        self._client = openai.AsyncOpenAI(
            api_key=key,
            base_url=base_url,
            max_retries=0,
            timeout=sdk_timeout(config),
            http_client=sdk_http_client(config, openai, base_url),
        )
        #: The endpoint's base URL, the key of its remembered structured-output mode.
        self.endpoint = (base_url or OPENAI_API_URL).rstrip("/")
        self.negotiator: Negotiator | None = None
        if config.structured_output == AUTO:
            self.negotiator = Negotiator(self.endpoint, ModeStore.default())

    @property
    def structured_output(self) -> str:
        """The mode requests are sent in now: the forced one, or the negotiated one so far."""
        return self.negotiator.mode if self.negotiator is not None else self.config.structured_output

    def cache_identity(self) -> dict[str, str]:
        """The server answering (``base_url`` or ``OPENAI_BASE_URL``), without credentials."""
        from lusifer.api.redaction import redact_url

        base_url = _base_url(self.config)
        return {"base_url": redact_url(base_url)} if base_url else {}

    def _arguments(self, request: LLMRequest, mode: str | None = None) -> dict[str, Any]:
        config = self.config
        mode = mode or self.structured_output
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(mode, request),
            "temperature": config.temperature,
            "max_tokens": config.max_tokens,
        }
        if config.seed is not None:
            arguments["seed"] = config.seed
        if config.logprobs:
            arguments["logprobs"] = True
        if _wants_logprobs(request):
            arguments.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        arguments.update(structured_arguments(mode, request))
        return arguments

    def _responses_arguments(self, request: LLMRequest) -> dict[str, Any]:
        """``responses.create`` arguments of ``request`` (the schema as a strict ``json_schema`` format)."""
        config = self.config
        arguments: dict[str, Any] = {
            "model": self.model,
            "input": [{"role": message.role, "content": message.content} for message in request.messages],
            "temperature": config.temperature,
            "max_output_tokens": config.max_tokens,
            "store": False,
        }
        if request.schema is not None:
            schema = {
                "type": "json_schema",
                "name": request.schema_name,
                "schema": request.portable_schema,
                "strict": True,
            }
            arguments["text"] = {"format": schema}
        distribution = _wants_logprobs(request)
        if config.logprobs or distribution:
            arguments["include"] = [RESPONSES_LOGPROBS]
        if distribution:
            arguments["top_logprobs"] = TOP_LOGPROBS
        return arguments

    async def _respond(self, request: LLMRequest) -> LLMResponse:
        """One call through the Responses API."""
        import openai

        try:
            response = await self._client.responses.create(**self._responses_arguments(request))
        except openai.OpenAIError as error:
            raise translate_sdk_error(error, "openai", self._api_key) from None
        except json.JSONDecodeError:
            raise RetryableError("openai: the response body is not JSON") from None
        try:
            return self._responses_response(response)
        except (AttributeError, IndexError, TypeError) as error:
            raise RetryableError(f"openai: malformed response ({type(error).__name__}: {error})") from None

    def _responses_response(self, response: Any) -> LLMResponse:
        texts: list[str] = []
        logprobs: list[dict[str, Any]] = []
        for item in response.output:
            if item.type != "message":
                continue
            for part in item.content:
                if part.type == "output_text":
                    texts.append(part.text)
                    logprobs += [
                        {"token": entry.token, "logprob": entry.logprob, **_alternatives(entry)}
                        for entry in part.logprobs or []
                    ]
        usage = response.usage
        return LLMResponse(
            text="".join(texts),
            model=response.model or self.model,
            usage=Usage(usage.input_tokens, usage.output_tokens) if usage else Usage(),
            finish_reason="length" if response.status == "incomplete" else "stop",
            logprobs=logprobs or None,
        )

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        import openai

        if self.config.api == "responses":
            return await self._respond(request)
        while True:
            mode = self.structured_output
            try:
                # The SDK's post() sends the already plain-JSON body as is (the typed create() first converts
                # its parameters against their annotations), and with the raw response as cast_to the answer
                # is read from one json.loads instead of the SDK's models: CPU time that adds up when many
                # calls are in flight. Auth, base URL and the mapping of errors stay the SDK's.
                raw = await self._client.post(
                    CHAT_ENDPOINT_PATH, body=self._arguments(request, mode), cast_to=HTTP_RESPONSE
                )
            except openai.APIStatusError as error:
                next_mode = self._rejected(error, mode, request)
                if next_mode is None:
                    raise translate_sdk_error(error, "openai", self._api_key) from None
                continue
            except openai.OpenAIError as error:
                raise translate_sdk_error(error, "openai", self._api_key) from None
            try:
                completion = json.loads(raw.content)
            except ValueError:  # not JSON, or not text
                raise RetryableError("openai: the response body is not JSON") from None
            if self.negotiator is not None:
                self.negotiator.accept(mode)
            try:
                return self._response(completion)
            except (AttributeError, IndexError, TypeError) as error:
                raise RetryableError(f"openai: malformed response ({type(error).__name__}: {error})") from None

    def _rejected(self, error: Any, mode: str, request: LLMRequest) -> str | None:
        """The mode to send ``request`` in after ``error``, or None when the error is not a rejection.

        :raises BackendError: a forced mode was rejected (the message names ``auto``).
        """
        message = redact(str(getattr(error, "message", "") or error), self._api_key)
        if mode == "none" or request.schema is None or not is_rejection(error.status_code, message):
            return None
        if self.negotiator is None:
            raise RequestRejectedError(
                f"openai: {self.endpoint} rejected structured_output = '{mode}' "
                f"({error.status_code}: {one_line(message)}; {REJECTED_ADVICE}): "
                'set backend.structured_output = "auto" (LUSIFER_BACKEND__STRUCTURED_OUTPUT=auto) '
                "to use a mode it accepts",
                message,
                error.status_code,
            )
        return self.negotiator.reject(mode, message)

    def _response(self, completion: Any) -> LLMResponse:
        """The answer in a Chat Completions body (its JSON); a field it lacks reads as null, as in the SDK.

        :raises AttributeError, IndexError, TypeError: the body is not shaped like a completion.
        """
        choice = completion.get("choices")[0]
        usage = completion.get("usage")
        logprobs = choice.get("logprobs")
        tokens = logprobs.get("content") if logprobs is not None else None
        return LLMResponse(
            text=answer_text(choice.get("message")),
            model=completion.get("model") or self.model,
            usage=Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")) if usage is not None else Usage(),
            finish_reason=choice.get("finish_reason"),
            logprobs=_token_logprobs(tokens) if tokens is not None else None,
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

    async def _batch_create(self, upload: tuple[str, bytes, str]) -> Batch:
        uploaded = await self._client.files.create(file=upload, purpose="batch")
        return await self._client.batches.create(
            input_file_id=uploaded.id, endpoint=CHAT_ENDPOINT, completion_window="24h"
        )

    async def poll_batch(self, batch_id: str) -> BatchState:
        from lusifer.engine.calls.batch import BatchState

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
                return self._response(ChatCompletion.model_validate(response["body"]).model_dump())
            except Exception as error:  # pydantic's or ours: the body is not a completion
                return RetryableError(f"openai batch: malformed response ({type(error).__name__})")
        failure = entry.get("error") or (response.get("body") or {}).get("error") or {}
        message = f"openai batch: {status or failure.get('code')}: {failure.get('message', 'no answer')}"
        if status is None or status in RETRYABLE_STATUSES or status >= 500:
            return RetryableError(message)
        return BackendError(message)

    async def _sdk(self, call: Awaitable[_T]) -> _T:
        """Await an SDK call, turning its errors into Lusifer's."""
        import openai

        try:
            return await call
        except openai.OpenAIError as error:
            raise translate_sdk_error(error, "openai", self._api_key) from None

    async def aclose(self) -> None:
        await self._client.close()


async def probe_structured_output(config: BackendConfig, api_key: SecretStr | None = None) -> Negotiator:
    """Negotiate afresh with the endpoint of ``config`` (one tiny request per mode tried) and remember it.

    :raises BackendError: the endpoint failed for another reason (unreachable, unknown model, ...).
    """
    settings = config.model_copy(update={"structured_output": AUTO, "max_tokens": 16})
    backend = OpenAIBackend(settings, api_key)
    negotiator = backend.negotiator = Negotiator(backend.endpoint, ModeStore.default(), fresh=True)
    try:
        await backend.acomplete(PROBE_REQUEST)
    finally:
        await backend.aclose()
    return negotiator


def _wants_logprobs(request: LLMRequest) -> bool:
    """Whether ``request`` is a distribution-mode feedback request read from token log-probabilities."""
    return isinstance(request.context, FeedbackContext) and request.context.distribution_method == "logprobs"
