"""The HTTP client a vendor backend shares across its calls: connection pools sized to the concurrency.

The SDKs' own client keeps at most 100 idle connections alive, so above 100 calls in flight every
answer closes a connection and the next call opens a new one. And httpcore's pool looks at each of its
connections for every request, a cost that grows with the pool (measured: 20 ms of CPU per call with
one pool of 256 connections). :func:`http_client` sizes the pools to ``max_concurrency`` in all (every
connection stays alive) and splits them into shards of at most :data:`CONNECTIONS_PER_SHARD`
connections; each request goes to the shard with the fewest requests in flight (until its answer's
headers arrive), so a shard hardly ever waits for a connection while the call layer admits at most
``max_concurrency`` calls. The shards share one SSL context (building one loads the CA bundle: tens of
milliseconds each).

With ``backend.http_transport = "aiohttp"`` the SDK gets its own aiohttp-backed client instead
(``openai.DefaultAioHttpClient``, ``anthropic.DefaultAioHttpClient``), its connector sized to
``max_concurrency`` and its errors mapped as httpx's (:mod:`lusifer.engine.backends.aiohttp_guard`): about a
third less client CPU per call at 256 in flight. ``"auto"`` (the default) takes it where aiohttp is
installed (a core dependency, through the SDKs' ``aiohttp`` extras) and the base URL carries no
credentials (aiohttp refuses them next to the SDK's key header); ``benchmarks/bench_scale.py`` measures both.
"""

from __future__ import annotations

import importlib.util
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lusifer.api.backend import sdk_timeout
from lusifer.api.errors import ConfigError

if TYPE_CHECKING:
    from lusifer.api.settings import BackendConfig

try:  # the HTTP package the installed openai and anthropic SDKs use (older SDKs use httpx)
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the SDK versions installed
    import httpx  # type: ignore[no-redef]

#: The HTTP package's response class: as an SDK call's ``cast_to`` it returns the response unparsed.
HTTP_RESPONSE = httpx.Response
#: Connections one pool holds at most (each request scans its pool's connections).
CONNECTIONS_PER_SHARD = 4


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several connection pools behind one transport; a request goes to the least busy one."""

    def __init__(self, connections: int, per_shard: int = CONNECTIONS_PER_SHARD) -> None:
        count = max(1, math.ceil(connections / per_shard))
        size = max(1, math.ceil(connections / count))
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        context = httpx.create_ssl_context()
        self._pools = [httpx.AsyncHTTPTransport(verify=context, limits=limits) for _ in range(count)]
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


def aiohttp_installed() -> bool:
    """Whether the aiohttp package (the SDKs' ``aiohttp`` extra) can be imported."""
    return importlib.util.find_spec("aiohttp") is not None


def transport_of(config: BackendConfig, sdk: Any, base_url: str | None = None) -> str:
    """The transport (``httpx`` or ``aiohttp``) for ``config.http_transport``, the SDK module ``sdk`` and the
    ``base_url`` it calls.

    :raises ConfigError: ``aiohttp`` was asked for but aiohttp or the SDK's aiohttp client is missing, or
        the base URL carries credentials.
    """
    available = aiohttp_installed() and hasattr(sdk, "DefaultAioHttpClient")
    credentials = _has_credentials(base_url)
    if config.http_transport == "aiohttp":
        if not available:
            raise ConfigError(
                f"backend.http_transport = 'aiohttp' needs aiohttp and a {sdk.__name__} SDK with "
                "DefaultAioHttpClient: pip install 'lusifer[aiohttp]' (or set http_transport = 'httpx')"
            )
        if credentials:
            raise ConfigError(
                "backend.http_transport = 'aiohttp' cannot send credentials in the base URL (user:password@) "
                "next to the API key: set http_transport = 'httpx' or 'auto'"
            )
        return "aiohttp"
    if config.http_transport == "auto" and available and not credentials:
        return "aiohttp"
    return "httpx"


def _has_credentials(url: str | None) -> bool:
    """Whether ``url`` carries ``user:password@`` (a URL that cannot be parsed: the SDK will say so)."""
    try:
        return "@" in urlsplit(url or "").netloc
    except ValueError:
        return False


def sdk_http_client(config: BackendConfig, sdk: Any, base_url: str | None = None) -> Any:
    """The HTTP client for the SDK module ``sdk`` (``openai``, ``anthropic``) calling ``base_url``: per
    ``config.http_transport``."""
    timeout = sdk_timeout(config)
    if transport_of(config, sdk, base_url) == "aiohttp":
        from lusifer.engine.backends.aiohttp_guard import guarded

        limits = httpx.Limits(max_connections=config.max_concurrency, max_keepalive_connections=config.max_concurrency)
        return guarded(sdk.DefaultAioHttpClient(limits=limits, timeout=timeout))
    return http_client(config.max_concurrency, timeout)
