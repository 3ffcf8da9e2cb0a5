"""The backend contract: turn one :class:`LLMRequest` into one :class:`LLMResponse`.

A backend only talks to its model. Retries, rate limits, caching, cost and recording live in the call
layer (:mod:`lusifer.engine.calls`), shared by all backends. Backends signal a failure worth retrying by
raising :class:`lusifer.api.errors.RetryableError`; anything else is final.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from lusifer.api.prompt_context import PromptContext

if TYPE_CHECKING:
    from pydantic import SecretStr

    from lusifer.api.settings import BackendConfig, LusiferConfig, Price


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


#: String keywords a schema may carry for servers that decode under a grammar built from it
#: (llama-cpp-python); :attr:`LLMRequest.portable_schema` leaves them out for the other vendors.
GRAMMAR_KEYWORDS = frozenset({"pattern", "minLength", "maxLength"})
#: Schema keywords whose value is a mapping of names to schemas (names are not keywords).
_NAMED_SCHEMAS = frozenset({"properties", "$defs", "definitions"})
#: Schema keywords whose value is data, not a schema.
_DATA = frozenset({"enum", "const", "default", "examples", "required"})


def _portable(schema: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key in GRAMMAR_KEYWORDS:
            continue
        if key in _DATA:
            result[key] = value
        elif key in _NAMED_SCHEMAS and isinstance(value, Mapping):
            result[key] = {name: _portable(sub) if isinstance(sub, Mapping) else sub for name, sub in value.items()}
        elif isinstance(value, Mapping):
            result[key] = _portable(value)
        elif isinstance(value, list):
            result[key] = [_portable(sub) if isinstance(sub, Mapping) else sub for sub in value]
        else:
            result[key] = value
    return result


@dataclass(frozen=True)
class LLMRequest:
    """What the simulator asks a model.

    :param task: the template task (``profile``, ``profile_update``, ``feedback``).
    :param messages: the rendered chat.
    :param schema: JSON schema the answer must follow (sent as structured output when supported).
    :param schema_name: a short name for the schema (vendors require one).
    :param context: the typed data the prompt was rendered from (:mod:`lusifer.api.prompt_context`), None
        for a request built by hand. Vendors never see it; the offline backend computes its answer from
        it, and validators read the expected ids and the scale from it.
    """

    task: str
    messages: tuple[Message, ...]
    schema: Mapping[str, Any] | None = None
    schema_name: str = "answer"
    context: PromptContext | None = field(default=None, compare=False)

    @cached_property
    def portable_schema(self) -> dict[str, Any] | None:
        """The schema without :data:`GRAMMAR_KEYWORDS`, for vendors whose strict structured output rejects
        or ignores them (OpenAI, Anthropic, Gemini) and for the schema stated in a prompt; the validators
        check the same constraints on every answer. Built once per request (a request's schema does not
        change): callers must not modify it."""
        return None if self.schema is None else _portable(self.schema)


@dataclass(frozen=True)
class Usage:
    """Tokens a call consumed, as the API reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class LLMResponse:
    """A model's answer."""

    text: str
    model: str
    usage: Usage = Usage()
    finish_reason: str | None = None
    logprobs: list[dict[str, Any]] | None = None


def sdk_timeout(config: BackendConfig) -> float:
    """The timeout to give a vendor SDK: only a backstop. The call layer times requests out itself, from
    when the server can have started on one, so a request queued behind others may wait up to one
    ``timeout`` per request in flight ahead of it."""
    return config.timeout * (config.max_concurrency + 1)


class Backend(ABC):
    """An LLM (or a stand-in for one) that answers :class:`LLMRequest` objects.

    Subclasses set ``name`` and implement :meth:`acomplete`; :meth:`complete` is the sync twin.
    """

    #: Unique name, used with ``--backend``.
    name: ClassVar[str]
    #: One line shown by ``lusifer backends``.
    description: ClassVar[str] = ""
    #: Key name looked up by :func:`lusifer.keys.find_key`, or None when no key is needed.
    key_name: ClassVar[str | None] = None
    #: Environment variables holding the key, tried in order after a stored key (default: the
    #: well-known variable of ``key_name`` in :data:`lusifer.keys.ENV_VARIABLES`).
    key_env_variables: ClassVar[tuple[str, ...]] = ()
    #: Model used when the configuration names none.
    default_model: ClassVar[str] = ""
    #: List prices of this backend's models (USD per million tokens), used unless ``[prices]`` overrides
    #: them; the built-in vendors' prices live in :data:`lusifer.engine.calls.costs.DEFAULT_PRICES`.
    prices: ClassVar[Mapping[str, Price]] = {}
    #: False for backends that compute answers locally: the call layer then skips the cache.
    cacheable: ClassVar[bool] = True
    #: Most requests the backend works on at once (None: no limit of its own). The call layer never has
    #: more in flight, so a local model's queue does not eat into ``backend.timeout``.
    concurrency_limit: int | None = None
    #: False for backends that answer inside this process: their latency says nothing about a server's
    #: capacity, so the call layer does not test them for a serial endpoint.
    remote: ClassVar[bool] = True
    #: How distribution mode gets a rating distribution (see :mod:`lusifer.engine.distributions`):
    #: ``"model"``, ``"logprobs"`` or ``"verbalised"``.
    distribution_method: ClassVar[str] = "verbalised"

    @classmethod
    def key_required(cls, config: BackendConfig) -> bool:
        """Whether a run with ``config`` needs a key (a self-hosted server may not)."""
        return cls.key_name is not None

    @classmethod
    def from_config(cls, config: LusiferConfig, api_key: SecretStr | None = None) -> Backend:
        """The backend for a whole run configuration; plugins override it to read their ``[plugins.*]`` section."""
        return cls(config.backend, api_key)

    def __init__(self, config: BackendConfig, api_key: SecretStr | None = None) -> None:
        self.config = config
        self.model = config.model or self.default_model
        self._api_key = api_key

    @abstractmethod
    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        """Answer ``request``; raise :class:`~lusifer.api.errors.RetryableError` for transient failures."""

    @property
    def api_key(self) -> SecretStr | None:
        """The key this backend sends (a ``SecretStr``: never printed), for redaction and key advice."""
        return self._api_key

    def cache_identity(self) -> dict[str, str]:
        """Where answers come from, as part of the response cache key (no credentials).

        Two backends with the same name, model and request share cached answers only when their
        identities are equal, so a second server with the same model name is asked, not served the
        first one's answers. The default is the configured ``base_url`` with user, password and secret
        query parameters removed (:func:`lusifer.api.redaction.redact_url`), or ``{}`` for the vendor's default
        endpoint. ``cache.share_across_endpoints = true`` leaves it out of the key (replicas of one
        model). Backends whose endpoint comes from elsewhere (an environment variable, a local file)
        override this.
        """
        from lusifer.api.redaction import redact_url

        base_url = getattr(self.config, "base_url", None)
        return {"base_url": redact_url(base_url)} if base_url else {}

    async def aclose(self) -> None:
        """Release network clients; the default has nothing to release."""

    def __repr__(self) -> str:  # never shows the key
        return f"<{type(self).__name__} name={self.name!r} model={self.model!r}>"
