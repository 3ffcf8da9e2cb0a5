"""Batch mode: requests go to the vendor's batch API (half the price), answered through the call layer.

:class:`BatchCallLayer` is a :class:`~lusifer.engine.calls.CallLayer` whose attempts do not call the backend
one by one: each attempt queues its request and waits. When every simulated user waits
(:func:`lusifer.runs.batch_runner.run_in_batches` decides), :meth:`BatchCallLayer.flush` sends
the queued requests as one batch through the backend's :class:`BatchBackend` methods, polls it until it
ends and hands each answer back to its attempt. Everything after that is the call layer's usual path:
parsing, validation, caching, cost (``BATCH_PRICE_FACTOR`` of the list price) and recording, with the
batch id in the exchange. An invalid answer is re-asked by the simulator as usual, so it queues for the
next batch; a request the batch failed to answer is retried in the next batch, up to
``backend.max_retries`` times.

A queue larger than the vendor's limits on one batch goes out as several batches, submitted and
polled concurrently (:mod:`lusifer.engine.calls.batch_limits`).

Batches survive restarts: a submitted batch's id and the request keys it answers are stored in the
run store before polling starts, so a rerun that queues the same requests polls the stored batch
instead of submitting a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from lusifer.api.errors import BackendError, ConfigError, RetryableError
from lusifer.engine.calls.batch_limits import split_batches
from lusifer.engine.calls.layer import CallLayer, CallSettings

if TYPE_CHECKING:
    from lusifer.api.backend import Backend, LLMRequest, LLMResponse
    from lusifer.api.exchange import Exchange
    from lusifer.engine.ports import BatchStore

#: Share of the list price a batch request costs (OpenAI and Anthropic both charge half).
BATCH_PRICE_FACTOR = 0.5


@dataclass(frozen=True)
class BatchState:
    """Where a submitted batch is: ``ended`` once every request has an outcome (or expired)."""

    ended: bool
    detail: str = ""


#: A batch's outcome per request key: the answer, or the error that request ended with.
BatchResults = dict[str, "LLMResponse | BackendError"]
#: The queued requests by key, each with the futures of the attempts waiting for its answer.
_Queue = dict[str, "tuple[LLMRequest, list[asyncio.Future[tuple[LLMResponse, str]]]]"]


@runtime_checkable
class BatchBackend(Protocol):
    """What a backend offers to batch mode (the OpenAI and Anthropic backends implement it)."""

    async def submit_batch(self, requests: Mapping[str, LLMRequest]) -> str:
        """Submit ``requests`` (by key, which is their custom id) as one batch; return its id."""

    async def poll_batch(self, batch_id: str) -> BatchState:
        """The batch's state now."""

    async def batch_results(self, batch_id: str) -> BatchResults:
        """The outcome of every request of an ended batch that has one (missing ones count as failed)."""


class BatchCallLayer(CallLayer):
    """A call layer whose requests wait to be sent together (see the module docstring).

    :param store: where submitted batches are remembered across restarts.
    :param poll_seconds: pause between two status requests of a running batch.
    """

    price_factor = BATCH_PRICE_FACTOR

    def __init__(
        self,
        backend: Backend,
        config: CallSettings,
        store: BatchStore,
        on_exchange: Callable[[Exchange], None] | None = None,
        *,
        poll_seconds: float = 30.0,
        **options: float,
    ) -> None:
        if not isinstance(backend, BatchBackend):
            raise ConfigError(f"the {backend.name} backend has no batch API: run without --vendor-batch")
        super().__init__(backend, config, on_exchange, **options)
        self.vendor: BatchBackend = backend
        self.store = store
        self.poll_seconds = poll_seconds
        #: Set whenever a request is queued.
        self.changed = asyncio.Event()
        self._queue: _Queue = {}

    @property
    def waiting(self) -> int:
        """Attempts waiting for a batch answer."""
        return sum(len(futures) for _, futures in self._queue.values())

    async def _attempt(self, request: LLMRequest, exchange: Exchange) -> LLMResponse:
        self._stats.calls += 1
        exchange.attempts += 1
        future: asyncio.Future[tuple[LLMResponse, str]] = asyncio.get_running_loop().create_future()
        self._queue.setdefault(exchange.cache_key, (request, []))[1].append(future)
        self.changed.set()
        response, exchange.batch_id = await future
        return response

    def _wait(self, attempt: int, error: RetryableError) -> float:
        return 0.0  # a failed request simply joins the next batch

    async def flush(self) -> None:
        """Answer every queued request: through stored batches that hold it, else one new batch."""
        queue, self._queue = self._queue, {}
        batches: dict[str, list[str]] = {}
        for batch_id, keys in self.store.open_batches(self.backend.name).items():
            taken = {key for held in batches.values() for key in held}
            held = [key for key in keys if key in queue and key not in taken]
            if held:
                batches[batch_id] = held
        taken = {key for held in batches.values() for key in held}
        new = [key for key in queue if key not in taken]
        if new:
            chunks, too_large = self._split(new, queue)
            if too_large:
                limit = self.vendor.batch_limits.max_bytes  # type: ignore[attr-defined]
                error = BackendError(
                    f"{self.backend.name}: the request is larger than one batch may be ({limit:,} bytes)"
                )
                _settle({key: queue[key][1] for key in too_large}, {}, error, "")
            submitted = await asyncio.gather(*(self._submit(chunk, queue) for chunk in chunks))
            batches.update((batch_id, chunk) for batch_id, chunk in submitted if batch_id is not None)
        await asyncio.gather(
            *(self._collect(batch_id, {key: queue[key][1] for key in keys}) for batch_id, keys in batches.items())
        )

    def _split(self, keys: list[str], queue: _Queue) -> tuple[list[list[str]], list[str]]:
        """``keys`` in batches within the vendor's limits (one batch when the backend states none)."""
        limits = getattr(self.vendor, "batch_limits", None)
        size_of = getattr(self.vendor, "batch_request_size", None)
        if limits is None or size_of is None:
            return [keys], []
        return split_batches({key: size_of(key, queue[key][0]) for key in keys}, limits)

    async def _submit(self, keys: list[str], queue: _Queue) -> tuple[str | None, list[str]]:
        """Submit one batch and store it (so a rerun polls it); a refused batch fails its requests."""
        try:
            batch_id = await self.vendor.submit_batch({key: queue[key][0] for key in keys})
        except BackendError as error:
            _settle({key: queue[key][1] for key in keys}, {}, error, "")
            return None, keys
        self.store.add_batch(batch_id, self.backend.name, keys)
        return batch_id, keys

    async def _collect(self, batch_id: str, waiting: dict[str, list[asyncio.Future[tuple[LLMResponse, str]]]]) -> None:
        """Poll ``batch_id`` until it ends and resolve the waiting attempts with its outcomes.

        Transient polling errors are retried up to ``backend.max_retries`` times in a row, then raised
        (the batch stays stored, so a rerun resumes polling it). A final error, such as a batch the
        vendor no longer knows, gives up the batch: its requests join the next one.
        """
        name, failures = self.backend.name, 0
        while True:
            try:
                state = await self.vendor.poll_batch(batch_id)
                results = await self.vendor.batch_results(batch_id) if state.ended else None
            except RetryableError:
                failures += 1
                if failures > self.config.backend.max_retries:
                    raise
            except BackendError as error:
                _settle(waiting, {}, RetryableError(f"{name} batch {batch_id}: {error}"), batch_id)
                break
            else:
                failures = 0
                if results is not None:
                    missing = RetryableError(f"{name} batch {batch_id}: no answer ({state.detail})")
                    _settle(waiting, results, missing, batch_id)
                    break
            await asyncio.sleep(self.poll_seconds)
        self.store.close_batch(batch_id)


def _settle(
    waiting: dict[str, list[asyncio.Future[tuple[LLMResponse, str]]]],
    results: BatchResults,
    missing: BackendError,
    batch_id: str,
) -> None:
    """Give each waiting attempt its answer, or the error it ended with (``missing`` when none)."""
    for key, futures in waiting.items():
        outcome = results.get(key, missing)
        for future in futures:
            if future.done():  # its user was cancelled meanwhile
                continue
            if isinstance(outcome, BackendError):
                future.set_exception(type(outcome)(str(outcome)))  # one instance per attempt's traceback
            else:
                future.set_result((outcome, batch_id))
