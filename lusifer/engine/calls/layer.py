"""The one path every LLM call takes: budget, cache, limits, timeout, retries, validation, recording.

:meth:`CallLayer.call` does, in order:

1. cache lookup (unless the backend is not cacheable, the cache is disabled, or ``refresh`` is set);
   a hit is free and served even when the budget is spent;
2. budget check: if money spent + in flight + this call's estimate (prompt characters / 4 and
   ``max_tokens`` at the model's prices) would exceed ``run.budget_usd``, raise
   :class:`~lusifer.api.errors.BudgetExceededError`;
3. per attempt: a limiter slot (an adaptive in-flight limit per endpoint, requests/tokens per minute,
   see :mod:`lusifer.engine.calls.limiter`), then ``backend.acomplete``, given up ``backend.timeout`` seconds
   after the server can have started on it (once the requests sent before it have ended);
4. retries of :class:`~lusifer.api.errors.RetryableError` (429, overloaded, other 5xx, timeouts, dropped
   connections, malformed bodies) with full-jitter exponential backoff on top of any ``retry_after``, up
   to ``backend.max_retries``. A request the server rejected
   (:class:`~lusifer.engine.backends.errors.RequestRejectedError`) is never sent again unchanged; a refused key
   (:class:`~lusifer.engine.backends.errors.AuthError`) fails this and every later call at once, naming where
   the key came from, so that the run stops at the first refusal;
5. parsing (:func:`lusifer.engine.validation.parse_json`) and the validators whose ``tasks`` include the
   request's task, merged into one :class:`~lusifer.api.validator.ValidationResult`;
6. storing answers that passed validation in the cache (a rerun asks failed ones again);
7. recording an :class:`~lusifer.api.exchange.Exchange` for ``on_exchange`` (the composition root adds
   the ``exchange_recorded`` hook: :func:`lusifer.kernel.registry.exchange_recorder`) — also for cache
   hits and for calls that failed for good, which then raise
   :class:`~lusifer.api.errors.BackendError`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from lusifer.api.errors import BackendError, BudgetExceededError, RetryableError
from lusifer.api.exchange import Exchange
from lusifer.api.run_info import CallCounters
from lusifer.api.settings import BackendConfig, CacheConfig, Price
from lusifer.api.validator import OutputError, ValidationResult, Validator
from lusifer.engine.backends.errors import (
    AuthError,
    ConnectFailedError,
    EndpointUnreachableError,
    OverloadedError,
    RateLimitedError,
    RequestRejectedError,
    RunStoppedError,
    redact,
)
from lusifer.engine.calls.cache import ResponseCache, cache_key
from lusifer.engine.calls.costs import cost, price_for, price_table
from lusifer.engine.calls.limiter import Limiter, Ticket
from lusifer.engine.validation import parse_json
from lusifer.keys import key_source

if TYPE_CHECKING:
    from lusifer.api.backend import Backend, LLMRequest, LLMResponse

#: First backoff step in seconds (doubles per attempt, with jitter), and its ceiling.
BACKOFF_BASE = 1.0
BACKOFF_MAX = 60.0
#: The longest ``Retry-After`` honoured; longer waits are cut to this.
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True)
class CallSettings:
    """What a call layer needs of a run's configuration; the composition root builds it from one
    (:func:`lusifer.runs.session.call_settings`)."""

    #: Limits, retries, timeout and the answer parameters (temperature, seed, max_tokens, ...).
    backend: BackendConfig
    cache: CacheConfig = field(default_factory=CacheConfig)
    #: ``run.budget_usd``: the most the whole run may spend (None: no limit).
    budget_usd: float | None = None
    #: ``run.feedback_output``: distribution mode is part of the answer parameters (and the cache key).
    feedback_output: Literal["value", "distribution"] = "value"
    #: ``[prices]``: model prices on top of the backend's own.
    prices: Mapping[str, Price] = field(default_factory=dict)


@dataclass
class CallResult:
    """What :meth:`CallLayer.call` returns (it raises instead of returning a failed call)."""

    response: LLMResponse | None
    exchange: Exchange
    validation: ValidationResult | None
    cached: bool


def estimate_tokens(request: LLMRequest) -> int:
    """Prompt tokens of ``request``, estimated as characters / 4."""
    return sum(len(message.content) for message in request.messages) // 4


class CallLayer:
    """Sends requests to one backend with caching, limits, retries, validation and recording.

    :param backend: the backend to call.
    :param config: what the layer needs of the run's configuration (``backend``, ``cache``, the budget,
        ``prices``).
    :param on_exchange: called with every recorded :class:`~lusifer.api.exchange.Exchange`.
    :param backoff_base: first retry wait in seconds before jitter (tests make it small).
    :param backoff_max: longest retry wait in seconds, unless the server asked for longer.
    """

    #: Share of the list price that calls through this layer cost (batch APIs charge half).
    price_factor: float = 1.0

    def __init__(
        self,
        backend: Backend,
        config: CallSettings,
        on_exchange: Callable[[Exchange], None] | None = None,
        *,
        backoff_base: float = BACKOFF_BASE,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.backend = backend
        self.config = config
        self.on_exchange = on_exchange
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        settings = config.backend
        concurrency = min(settings.max_concurrency, backend.concurrency_limit or settings.max_concurrency)
        self._limiter = Limiter(
            concurrency,
            settings.requests_per_minute,
            settings.tokens_per_minute,
            endpoint=endpoint_name(backend),
            detect_serial=backend.remote,
        )
        self._cache = ResponseCache(config.cache.path) if backend.cacheable and config.cache.enabled else None
        self._endpoint = {} if config.cache.share_across_endpoints else backend.cache_identity()
        #: Money the run spent before this call layer started (a resumed run's budget is for the whole run).
        self.prior_cost_usd = 0.0
        self._stats = CallCounters()
        self._prices = price_table(backend, config.prices)
        self._reserved_usd = 0.0
        self._refused: RunStoppedError | None = None
        #: Whether the endpoint has answered (anything) in this run: until then a refused connection stops it.
        self._answered = False

    @property
    def in_flight_limit(self) -> int:
        """Requests allowed in flight now (``backend.max_concurrency``, lowered by 429s or a serial server)."""
        return self._limiter.concurrency.allowed

    @property
    def stats(self) -> CallCounters:
        """Counters so far (``calls``: requests sent to the backend, retries included; cache hits, retries,
        errors, tokens, cost, 429s, timeouts)."""
        return self._stats

    async def call(
        self, request: LLMRequest, validators: Sequence[Validator] = (), *, user_id: str | None = None
    ) -> CallResult:
        """Answer ``request`` through the cache or the backend, validated and recorded.

        :raises BudgetExceededError: this call could take the run over ``run.budget_usd``.
        :raises BackendError: the call failed for good (after retries, or a non-retryable error);
            :class:`~lusifer.engine.backends.errors.RequestRejectedError` when the server refused the request.
        :raises AuthError: the server refused the key (now or on an earlier call of this layer).
        :raises EndpointUnreachableError: no connection to the backend's URL (now or on an earlier call).
        """
        if self._refused is not None:
            raise self._refused
        started = time.monotonic()
        parameters = answer_parameters(self.config, self.backend.model)
        key = cache_key(self.backend.name, self.backend.model, request, parameters, self._endpoint)
        exchange = Exchange(
            task=request.task,
            backend=self.backend.name,
            model=self.backend.model,
            messages=[{"role": message.role, "content": message.content} for message in request.messages],
            parameters=parameters,
            cache_key=key,
            user_id=user_id,
        )
        cached = None
        if self._cache is not None and not self.config.cache.refresh:
            cached = self._cache.get(key)
        if cached is not None:
            self._stats.cache_hits += 1
            exchange.cache_hit = True
            validation = self._finish(cached, request, validators, exchange, started)
            return CallResult(cached, exchange, validation, cached=True)

        estimate = self._reserve(request)
        try:
            response = await self._send(request, exchange)
        except (BackendError, RunStoppedError) as error:
            self._stats.errors += 1
            if isinstance(error, AuthError):
                error = self._refused = AuthError(self._refusal_advice(error))
            elif isinstance(error, EndpointUnreachableError):
                self._refused = error
            # Backends redact their messages; this second pass also covers third-party backends.
            exchange.error = redact(str(error), self.backend.api_key)
            exchange.latency_s = time.monotonic() - started
            self._record(exchange)
            raise _same_kind(error, exchange.error) from None
        finally:
            self._reserved_usd -= estimate
        exchange.prompt_tokens = response.usage.prompt_tokens
        exchange.completion_tokens = response.usage.completion_tokens
        exchange.cost_usd = cost(self.backend.model, response.usage, self._prices) * self.price_factor
        self._stats.prompt_tokens += exchange.prompt_tokens
        self._stats.completion_tokens += exchange.completion_tokens
        self._stats.cost_usd += exchange.cost_usd
        validation = self._finish(response, request, validators, exchange, started)
        if self._cache is not None and exchange.parsed is not None and validation.ok:
            self._cache.put(key, self.backend.name, response)
        return CallResult(response, exchange, validation, cached=False)

    async def aclose(self) -> None:
        """Close the cache and the backend's network client."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        await self.backend.aclose()

    # steps ----------------------------------------------------------------------------------------------

    def _reserve(self, request: LLMRequest) -> float:
        """Check the budget for this call and hold its estimated cost until it ends."""
        budget = self.config.budget_usd
        price = price_for(self.backend.model, self._prices)
        if budget is None or price is None:
            return 0.0
        estimate = (
            (estimate_tokens(request) * price.input + self.config.backend.max_tokens * price.output)
            / 1e6
            * self.price_factor
        )
        spent = self.prior_cost_usd + self._stats.cost_usd
        committed = spent + self._reserved_usd
        if committed + estimate > budget:
            raise BudgetExceededError(
                f"budget of ${budget:.4f} reached: ${spent:.4f} spent, "
                f"${self._reserved_usd:.4f} in flight, and the next call may cost up to ${estimate:.4f}; "
                "raise --budget-usd to continue"
            )
        self._reserved_usd += estimate
        return estimate

    async def _send(self, request: LLMRequest, exchange: Exchange) -> LLMResponse:
        """Call the backend, retrying transient failures up to ``backend.max_retries`` times (a plain loop:
        a retrying object per call costs CPU time that adds up when many calls are in flight)."""
        try:
            return await self._attempts(request, exchange)
        except ConnectFailedError as error:
            raise EndpointUnreachableError(
                f"{error}: cannot connect to {error.url}; start the server or fix --base-url (backend.base_url) "
                "and rerun (the run stopped at this first failure; completed work is kept)"
            ) from None
        except RateLimitedError as error:
            configured = self.config.backend.max_concurrency
            raise RateLimitedError(
                f"{error}; still refused after {exchange.attempts} attempts: lower --max-concurrency "
                f"(backend.max_concurrency, now {configured}; this server accepted about "
                f"{self.in_flight_limit} at once)",
                retry_after=error.retry_after,
            ) from None

    async def _attempts(self, request: LLMRequest, exchange: Exchange) -> LLMResponse:
        """Attempts until one answers, one fails for good, or ``1 + max_retries`` have failed (the last
        error is raised)."""
        attempt = 1
        while True:
            try:
                return await self._attempt(request, exchange)
            except RetryableError as error:
                if not self._worth_retrying(error) or attempt > self.config.backend.max_retries:
                    raise
                wait = self._wait(attempt, error)
                self._stats.retries += 1
                await asyncio.sleep(wait)
            attempt += 1

    def _worth_retrying(self, error: RetryableError) -> bool:
        """Transient failures are; a refused connection only once the endpoint has answered in this run."""
        return self._answered or not isinstance(error, ConnectFailedError)

    async def _attempt(self, request: LLMRequest, exchange: Exchange) -> LLMResponse:
        tokens = estimate_tokens(request) + self.config.backend.max_tokens
        concurrency = self._limiter.concurrency
        user = request.context.user_id if request.context is not None else ""
        async with self._limiter.slot(tokens, request.task, user) as ticket:
            self._stats.calls += 1
            exchange.attempts += 1
            timeout = self.config.backend.timeout
            try:
                response = await self._answer_in_time(request, ticket)
            except TimeoutError:
                self._stats.timeouts += 1
                concurrency.timed_out(ticket)
                raise RetryableError(
                    f"{self.backend.name}: no answer within {timeout:g} s of the server starting on it"
                ) from None
            except (RateLimitedError, OverloadedError) as error:
                self._stats.rate_limited += isinstance(error, RateLimitedError)
                self._answered = True
                concurrency.pushed_back(ticket)
                raise
            except ConnectFailedError:
                raise
            except BackendError:  # the server answered, with an error
                self._answered = True
                raise
            concurrency.succeeded(ticket)
            self._answered = True
        self._limiter.settle(tokens, response.usage.total_tokens)
        return response

    async def _answer_in_time(self, request: LLMRequest, ticket: Ticket) -> LLMResponse:
        """The backend's answer, or :class:`asyncio.TimeoutError` once the limiter's deadline passed: the
        timeout counts from when the server can have started on the request, not from when it was queued."""
        call = asyncio.ensure_future(self.backend.acomplete(request))
        try:
            while not call.done():
                left = self._limiter.concurrency.deadline(ticket, self.config.backend.timeout) - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                await asyncio.wait({call}, timeout=left)
            return call.result()
        finally:
            if not call.done():
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)
            elif not call.cancelled():
                call.exception()  # retrieved, also when this caller was cancelled before reading it

    def _wait(self, attempt: int, error: RetryableError) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1). Full jitter: anywhere from 0 to
        the exponential step, after the server's ``retry_after``, so callers refused together do not come
        back together."""
        retry_after = error.retry_after
        floor = min(float(retry_after), MAX_RETRY_AFTER) if retry_after is not None else 0.0
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return floor + random.uniform(0.0, ceiling)

    def _refusal_advice(self, error: AuthError) -> str:
        backend = self.backend
        source = "no key was sent"
        if backend.key_name:
            source = key_source(backend.key_name, backend.api_key, backend.key_env_variables)
        return (
            f"{error}: the server refused the key from {source}; fix that key and rerun "
            "(the run stopped at this first refusal; completed work is kept)"
        )

    def _finish(
        self,
        response: LLMResponse,
        request: LLMRequest,
        validators: Sequence[Validator],
        exchange: Exchange,
        started: float,
    ) -> ValidationResult:
        """Parse and validate the answer, complete the exchange and record it."""
        exchange.raw_text = response.text
        try:
            data, repairs = parse_json(response.text)
        except OutputError as error:
            validation = ValidationResult(problems={"*": _cut_short(response) or str(error)})
        else:
            exchange.parsed = _copy_json(data)
            validation = ValidationResult(repairs=list(repairs))
            applicable = [validator for validator in validators if request.task in validator.tasks]
            if not applicable:
                validation.value = data
            for validator in applicable:
                result = validator.validate(_copy_json(data), request)
                validation.value.update(result.value)
                validation.problems.update(result.problems)
                validation.repairs.extend(result.repairs)
        exchange.problems = dict(validation.problems)
        exchange.repairs = list(validation.repairs)
        exchange.latency_s = time.monotonic() - started
        self._record(exchange)
        return validation

    def _record(self, exchange: Exchange) -> None:
        if self.on_exchange is not None:
            self.on_exchange(exchange)


def _copy_json(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists and scalars), several times faster than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


def answer_parameters(config: CallSettings, model: str) -> dict[str, Any]:
    """The settings that shape an answer of ``model``: recorded with each exchange and part of the cache key."""
    settings = config.backend
    return {
        "model": model,
        "temperature": settings.temperature,
        "seed": settings.seed,
        "max_tokens": settings.max_tokens,
        "logprobs": settings.logprobs,
        "structured_output": settings.structured_output,
        **({"api": settings.api} if settings.api != "chat" else {}),
        # Only in distribution mode, so that value-mode cache keys stay as they were.
        **({"feedback_output": "distribution"} if config.feedback_output == "distribution" else {}),
    }


def request_cache_key(
    config: CallSettings, backend: str, model: str, request: LLMRequest, endpoint: dict[str, Any]
) -> str:
    """The response-cache key the call layer uses for ``request`` to ``backend``/``model`` at ``endpoint``
    (the backend's ``cache_identity()``, or ``{}`` when ``cache.share_across_endpoints`` is on)."""
    return cache_key(backend, model, request, answer_parameters(config, model), endpoint)


def endpoint_name(backend: Backend) -> str:
    """The backend's server for messages: its base URL without credentials or query, else its name."""
    from urllib.parse import urlsplit

    base_url = getattr(backend.config, "base_url", None)
    if not base_url:
        return f"the {backend.name} API"
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _same_kind(error: BackendError | RunStoppedError, message: str) -> BackendError | RunStoppedError:
    """An error of ``error``'s category carrying ``message`` (the redacted text the exchange recorded)."""
    if isinstance(error, RunStoppedError):
        return type(error)(message)
    if isinstance(error, RequestRejectedError):
        return RequestRejectedError(message, error.server_message, error.status)
    return BackendError(message)


#: Start of the problem of an answer cut at the token limit before its JSON ended.
CUT_AT_MAX_TOKENS = "the answer was cut at max_tokens"


def _cut_short(response: LLMResponse) -> str | None:
    """Why an answer without JSON ended, when it was cut at the token limit (else None)."""
    if response.finish_reason not in ("length", "max_tokens"):
        return None
    return (
        f"{CUT_AT_MAX_TOKENS} ({response.usage.completion_tokens} tokens) before its JSON ended: "
        "raise backend.max_tokens (lusifer.toml [backend] max_tokens, or LUSIFER_BACKEND__MAX_TOKENS)"
    )
