"""Per-endpoint request limits: an adaptive in-flight limit, requests per minute, tokens per minute.

Requests in flight are capped by an :class:`AdaptiveLimit` (AIMD, as TCP does): it starts at
``backend.max_concurrency``, grows by one per round of successful calls, and halves when the server
pushes back (429, overloaded) at most once per round, so a burst of refusals counts once. It also
notices a *serial* endpoint (one that answers one request at a time, like a single llama.cpp process):
when latency grows in step with the number of requests in flight (or requests time out while earlier
ones are pending), more concurrency only queues at the server, so the limit drops to 1 (tested again
every :data:`SERIAL_RECHECK_AFTER` answers) and a warning says to set ``max_concurrency = 1``.

The per-minute limits are token buckets that refill continuously and hold one second's worth (at least
one request, or one call's tokens), so traffic stays smooth instead of bursting a whole minute's
allowance at once. Waiting callers sleep exactly until their turn (no busy-waiting).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

_log = logging.getLogger("lusifer.calls")

#: Completions looked at to decide whether an endpoint is serial, and how many must be at hand.
SERIAL_WINDOW = 8
SERIAL_MIN_SAMPLES = 5
#: A completion counts for the serial test when at least this many requests were in flight on average.
SERIAL_MIN_IN_FLIGHT = 3.0
#: Serial when the median of latency / (mean in flight x fastest latency of the task) reaches this
#: (about 1 for a serial server, 1 / in-flight for one that works on requests in parallel).
SERIAL_RATIO = 0.6
#: Answers after which a serial endpoint is given a second request in flight again, to test once more
#: (cheap either way: timeouts count from when the server can have started on a request).
SERIAL_RECHECK_AFTER = 50
#: On a serial endpoint a freed slot is held this share of the answer's latency (at most
#: :data:`SERIAL_HOLD_MAX` seconds) for the same user's next request before another user's gets it.
SERIAL_HOLD_SHARE = 0.05
SERIAL_HOLD_MAX = 1.0


class TokenBucket:
    """Refills ``per_minute / 60`` units per second up to ``capacity``."""

    def __init__(self, per_minute: float, capacity: float | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = capacity if capacity is not None else max(1.0, self.rate)
        self._level = self.capacity
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate)
        self._updated = now

    async def take(self, amount: float) -> None:
        """Wait until ``amount`` units are available and take them.

        An amount larger than the capacity waits for a full bucket and leaves it in debt.
        """
        async with self._lock:
            self._refill()
            needed = min(amount, self.capacity)
            if self._level < needed:
                await asyncio.sleep((needed - self._level) / self.rate)
                self._refill()
            self._level -= amount

    def give_back(self, amount: float) -> None:
        """Return units taken but not used (e.g. an estimate above the real token count)."""
        self._refill()
        self._level = min(self.capacity, self._level + amount)


@dataclass(eq=False)
class Ticket:
    """One request in flight: when it started and what the limiter knew then."""

    task: str
    started: float
    area: float
    #: Requests already in flight when this one started (it may be queued behind them).
    ahead: int
    #: Whose request it is (a user id): on a serial endpoint the next slot goes to the same user's request.
    affinity: str = ""
    #: When the server can have started on this request at the latest seen (sent, or the last one ahead ended).
    working_since: float = 0.0


@dataclass(eq=False)
class _Waiter:
    """A caller waiting for a slot; ``granted`` gets its ticket."""

    task: str
    affinity: str
    granted: asyncio.Future[Ticket]


class AdaptiveLimit:
    """How many requests may be in flight now: additive increase, multiplicative decrease, serial detection.

    :param ceiling: the configured ``max_concurrency``; the limit never goes above it, nor below 1.
    :param endpoint: named in the serial-endpoint warning.
    :param detect_serial: run the serial test (off for backends that answer in this process, whose
        latency grows with the requests in flight only because they share its CPU).
    """

    def __init__(self, ceiling: int, endpoint: str = "the endpoint", detect_serial: bool = True) -> None:
        self.ceiling = ceiling
        self.endpoint = endpoint
        self.detect_serial = detect_serial
        self.limit = float(ceiling)
        self.serial = False
        self._answers_while_serial = 0
        self._warned = False
        self._waiting: deque[_Waiter] = deque()
        self._last_affinity = ""
        self._held_for = ""  # a user whose next request a freed slot waits for (serial endpoints)
        self._hold_timer: asyncio.TimerHandle | None = None
        self._last_decrease = float("-inf")
        self._area = 0.0  # integral of in_flight over time: the mean in flight of any interval
        self._area_updated = time.monotonic()
        self._fastest: dict[str, float] = {}
        self._ratios: deque[float] = deque(maxlen=SERIAL_WINDOW)
        self._busy_until = 0.0
        #: Requests in flight, oldest first: only the oldest has no request ahead of it still in flight.
        self._pending: dict[Ticket, None] = {}

    @property
    def in_flight(self) -> int:
        """Requests in flight now."""
        return len(self._pending)

    @property
    def allowed(self) -> int:
        """Requests that may be in flight at once right now."""
        return max(1, int(self.limit))

    def _tick(self) -> float:
        now = time.monotonic()
        self._area += self.in_flight * (now - self._area_updated)
        self._area_updated = now
        return now

    async def acquire(self, task: str, affinity: str = "") -> Ticket:
        """Wait for room under the limit and count the caller in flight.

        Callers are served first come, first served, except on a serial endpoint: there the request of
        the same ``affinity`` (user) as the previous one goes first, and a freed slot waits briefly for
        that user's next request, so a server that caches only its last prompt (llama.cpp) evaluates the
        shared part of one user's prompts once instead of alternating between users.
        """
        if not self._waiting and not self._held_for and self.in_flight < self.allowed:
            return self._grant(task, affinity)
        waiter = _Waiter(task, affinity, asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        self._dispatch()
        try:
            return await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self._release(waiter.granted.result())  # granted, then cancelled before it could run
            else:
                self._waiting.remove(waiter)
            raise

    def _grant(self, task: str, affinity: str) -> Ticket:
        now = self._tick()
        ticket = Ticket(task, now, self._area, len(self._pending), affinity, now)
        self._pending[ticket] = None
        self._last_affinity = affinity
        if self._held_for:
            self._end_hold(dispatch=False)
        return ticket

    def _next_waiter(self) -> _Waiter | None:
        """The waiter to serve next, or None while a slot is held for a user who has none waiting."""
        preferred = self._held_for or (self._last_affinity if self.serial else "")
        if preferred:
            for waiter in self._waiting:
                if waiter.affinity == preferred:
                    self._waiting.remove(waiter)
                    return waiter
        return None if self._held_for else self._waiting.popleft()

    def _dispatch(self) -> None:
        """Give free slots to waiting callers (one wake-up per slot, not one per waiter)."""
        while self._waiting and self.in_flight < self.allowed:
            waiter = self._next_waiter()
            if waiter is None:
                return
            if not waiter.granted.cancelled():
                waiter.granted.set_result(self._grant(waiter.task, waiter.affinity))

    def _none_waiting_for(self, affinity: str) -> bool:
        return all(waiter.affinity != affinity for waiter in self._waiting)

    def _hold(self, affinity: str, seconds: float) -> None:
        self._end_hold(dispatch=False)
        self._held_for = affinity
        self._hold_timer = asyncio.get_running_loop().call_later(seconds, self._end_hold)

    def _end_hold(self, dispatch: bool = True) -> None:
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        self._held_for, self._hold_timer = "", None
        if dispatch:
            self._dispatch()

    def stamp(self, ticket: Ticket) -> None:
        """Restart ``ticket``'s clock: the request is sent now (after waiting for the per-minute budgets)."""
        ticket.started = ticket.working_since = self._tick()
        ticket.area = self._area

    async def release(self, ticket: Ticket) -> None:
        """Count a request out of flight and give its slot to a waiting caller."""
        self._release(ticket)

    def _release(self, ticket: Ticket) -> None:
        now = self._tick()
        was_oldest = self._is_oldest(ticket)
        self._pending.pop(ticket, None)
        if was_oldest and self._pending:  # the next one has no request ahead of it any more
            oldest = next(iter(self._pending))
            oldest.working_since = max(oldest.working_since, now)
        if self.serial and ticket.affinity and self._waiting and self._none_waiting_for(ticket.affinity):
            self._hold(ticket.affinity, min(SERIAL_HOLD_MAX, SERIAL_HOLD_SHARE * (now - ticket.started)))
        self._dispatch()

    def _is_oldest(self, ticket: Ticket) -> bool:
        return bool(self._pending) and next(iter(self._pending)) is ticket

    def deadline(self, ticket: Ticket, timeout: float) -> float:
        """When to give up on ``ticket``'s request: ``timeout`` seconds after the server can have started
        on it, i.e. after the requests sent before it ended (and, on a serial endpoint, after the abandoned
        requests it is still generating), but at most ``timeout`` per request ahead plus one."""
        latest = ticket.started + timeout * (ticket.ahead + 1)
        if not self._is_oldest(ticket):  # requests sent before it are still in flight
            return latest
        start = max(ticket.working_since, self._busy_until) if self.serial else ticket.working_since
        return min(start + timeout, latest + max(self._busy_until - ticket.started, 0.0))

    # signals ------------------------------------------------------------------------------------------

    def succeeded(self, ticket: Ticket) -> None:
        """An answer came: grow the limit by one per round and test for a serial endpoint."""
        latency = self._observe(ticket, answered=True)
        self._fastest[ticket.task] = min(self._fastest.get(ticket.task, latency), latency)
        if not self.serial:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
            self._dispatch()
            return
        self._answers_while_serial += 1
        if self._answers_while_serial >= SERIAL_RECHECK_AFTER:
            self.serial, self._answers_while_serial = False, 0
            self._ratios.clear()
            self._dispatch()

    def pushed_back(self, ticket: Ticket) -> None:
        """The server refused or was overloaded: halve the limit, once per round of requests."""
        if ticket.started < self._last_decrease:
            return  # sent before the last decrease: part of the same burst
        self._last_decrease = time.monotonic()
        self.limit = max(1.0, self.limit / 2)

    def timed_out(self, ticket: Ticket) -> None:
        """No answer in time: evidence for the serial test when earlier requests were pending (not a
        push-back: a single hang on a parallel server says nothing about its capacity). A serial server
        goes on generating the abandoned request, so later ones wait for it too."""
        self._observe(ticket, answered=False)
        now = time.monotonic()
        self._busy_until = max(self._busy_until, now) + self._fastest.get(ticket.task, 0.0)

    def _observe(self, ticket: Ticket, answered: bool) -> float:
        """Add a request's latency to the serial test (a timeout gives a lower bound); return the latency.

        The test: latency / (mean requests in flight during the request x fastest latency of its task)
        is about 1 on a serial server and 1 / in-flight on a parallel one; the median over the last
        completions decides, so a single hang on a parallel server does not.
        """
        now = self._tick()
        latency = now - ticket.started
        mean_in_flight = (self._area - ticket.area) / latency if latency > 0 else 1.0
        fastest = self._fastest.get(ticket.task, latency if answered else 0.0)
        testable = self.detect_serial and mean_in_flight >= SERIAL_MIN_IN_FLIGHT and fastest > 0
        if testable and (answered or ticket.ahead):
            self._ratios.append(latency / (mean_in_flight * min(fastest, latency)))
            if len(self._ratios) >= SERIAL_MIN_SAMPLES and statistics.median(self._ratios) >= SERIAL_RATIO:
                self._become_serial()
        return latency

    def _become_serial(self) -> None:
        if self.serial:
            return
        self.serial = True
        self.limit = 1.0
        if self._warned:
            return
        self._warned = True
        _log.warning(
            "%s answers one request at a time (latency grows with the requests in flight): sending one at a "
            "time from now on; set backend.max_concurrency = 1 (--max-concurrency 1) for it",
            self.endpoint,
        )


class Limiter:
    """The limits of one endpoint: an adaptive number of calls at once, and per-minute budgets."""

    def __init__(
        self,
        max_concurrency: int,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        endpoint: str = "the endpoint",
        detect_serial: bool = True,
    ) -> None:
        self.concurrency = AdaptiveLimit(max_concurrency, endpoint, detect_serial)
        self._requests = TokenBucket(requests_per_minute) if requests_per_minute else None
        self._tokens = TokenBucket(tokens_per_minute) if tokens_per_minute else None

    @asynccontextmanager
    async def slot(self, tokens: int, task: str = "", affinity: str = "") -> AsyncIterator[Ticket]:
        """Hold an in-flight slot, after taking one request and ``tokens`` estimated tokens; ``affinity``
        (a user id) groups one user's requests on a serial endpoint (see :meth:`AdaptiveLimit.acquire`)."""
        ticket = await self.concurrency.acquire(task, affinity)
        try:
            if self._requests is not None:
                await self._requests.take(1)
            if self._tokens is not None:
                await self._tokens.take(tokens)
            self.concurrency.stamp(ticket)
            yield ticket
        finally:
            await self.concurrency.release(ticket)

    def settle(self, estimated: int, used: int) -> None:
        """Credit the token budget with what an estimate over-counted."""
        if self._tokens is not None and estimated > used:
            self._tokens.give_back(estimated - used)
