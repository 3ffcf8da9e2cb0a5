"""The HTTP client a vendor backend shares across its calls: connection pools sized to the concurrency.

The SDKs' own client keeps at most 100 idle connections alive, so above 100 calls in flight every
answer closes a connection and the next call opens a new one. And httpcore's pool looks at each of its
connections for every request, a cost that grows with the pool (measured: 20 ms of CPU per call with
one pool of 256 connections). :func:`http_client` sizes the pools to ``max_concurrency`` in all (every
connection stays alive) and splits them into shards of at most :data:`CONNECTIONS_PER_SHARD`
connections; each request goes to the shard with the fewest requests in flight (until its answer's
headers arrive), so a shard hardly ever waits for a connection while the call layer admits at most
``max_concurrency`` calls. ``benchmarks/bench_scale.py`` measures it.
"""

from __future__ import annotations

import math

try:  # the HTTP package the installed openai and anthropic SDKs use (older SDKs use httpx)
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the SDK versions installed
    import httpx  # type: ignore[no-redef]

#: Connections one pool holds at most (each request scans its pool's connections).
CONNECTIONS_PER_SHARD = 4


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several connection pools behind one transport; a request goes to the least busy one."""

    def __init__(self, connections: int, per_shard: int = CONNECTIONS_PER_SHARD) -> None:
        count = max(1, math.ceil(connections / per_shard))
        size = max(1, math.ceil(connections / count))
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._pools = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(count)]
        self._in_flight = [0] * count

    @property
    def shards(self) -> int:
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Counted until the response headers arrive; the SDKs read the (small) body right after.
        shard = min(range(len(self._pools)), key=self._in_flight.__getitem__)
        self._in_flight[shard] += 1
        try:
            return await self._pools[shard].handle_async_request(request)
        finally:
            self._in_flight[shard] -= 1

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


def http_client(max_concurrency: int, timeout: float) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for a vendor SDK's ``http_client=``, pooled for ``max_concurrency`` calls."""
    return httpx.AsyncClient(transport=ShardedTransport(max_concurrency), timeout=timeout, follow_redirects=True)
