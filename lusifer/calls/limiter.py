"""Per-backend request limits: concurrency, requests per minute, tokens per minute.

Concurrency is a semaphore. The per-minute limits are token buckets that refill continuously and
hold one second's worth (at least one request, or one call's tokens), so traffic stays smooth instead
of bursting a whole minute's allowance at once. Waiting callers sleep exactly until their turn (no
busy-waiting) and are served first come, first served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


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


class Limiter:
    """The limits of one backend: at most ``max_concurrency`` calls at once, and per-minute budgets."""

    def __init__(
        self,
        max_concurrency: int,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(max_concurrency)
        self._requests = TokenBucket(requests_per_minute) if requests_per_minute else None
        self._tokens = TokenBucket(tokens_per_minute) if tokens_per_minute else None

    @asynccontextmanager
    async def slot(self, tokens: int) -> AsyncIterator[None]:
        """Hold a concurrency slot, after taking one request and ``tokens`` estimated tokens."""
        async with self._slots:
            if self._requests is not None:
                await self._requests.take(1)
            if self._tokens is not None:
                await self._tokens.take(tokens)
            yield

    def settle(self, estimated: int, used: int) -> None:
        """Credit the token budget with what an estimate over-counted."""
        if self._tokens is not None and estimated > used:
            self._tokens.give_back(estimated - used)
