"""The SDKs' aiohttp transport, its failures reported the way the httpx transport reports them.

The aiohttp transport the OpenAI and Anthropic SDKs bundle maps aiohttp's exceptions onto httpx's
loosely: the OpenAI SDK's reports a refused connection as a connect *timeout* (so the call layer never
sees an unreachable endpoint), the Anthropic SDK's reports a connection dropped mid-response as a
*connect* error (so the call layer stops the run as if nothing answered), and an unparsable response
escapes as a raw aiohttp error that neither SDK catches. :class:`AiohttpGuard` wraps the transport and
the response bodies it streams, and maps each aiohttp failure by what it was:

- no connection could be made (``ClientConnectorError``): ``ConnectError``, an unreachable endpoint;
- a timeout: a timeout error (the transport's own, when it raised one);
- an invalid URL: ``UnsupportedProtocol``;
- anything else (the server closed the connection, a reset, a cut-off or unparsable response):
  ``ReadError``, a dropped connection the call layer retries.

The messages name the aiohttp error's type only, never a URL (which may carry credentials).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp

try:  # the HTTP package the installed SDKs use, as in http_pool (older SDKs use httpx)
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the SDK versions installed
    import httpx  # type: ignore[no-redef]


class AiohttpGuard(httpx.AsyncBaseTransport):
    """``transport`` (an SDK's aiohttp transport) with its failures mapped as the module says."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _mapped_errors():
            response = await self._transport.handle_async_request(request)
        response.stream = _GuardedStream(response.stream)  # type: ignore[arg-type]  # async: from an async transport
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


def guarded(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """``client`` (an SDK's ``DefaultAioHttpClient``), its transports (proxies' too) behind :class:`AiohttpGuard`."""
    client._transport = AiohttpGuard(client._transport)
    client._mounts = {
        pattern: None if transport is None else AiohttpGuard(transport) for pattern, transport in client._mounts.items()
    }
    return client


class _GuardedStream(httpx.AsyncByteStream):
    """A response body whose read errors are mapped like the request's."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with _mapped_errors():
            await self._stream.aclose()


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except (httpx.TransportError, aiohttp.ClientError) as error:
        cause = error if isinstance(error, aiohttp.ClientError) else error.__cause__
        if not isinstance(cause, aiohttp.ClientError):
            raise
        if isinstance(cause, TimeoutError) and isinstance(error, httpx.TimeoutException):
            raise  # the transport's own timeout (connect, read) is the right one
        raise httpx_error(cause) from cause


def httpx_error(error: aiohttp.ClientError) -> httpx.TransportError:
    """The httpx error the httpx transport would have raised for ``error``."""
    name = type(error).__name__
    if isinstance(error, TimeoutError):
        return httpx.TimeoutException(name)
    if isinstance(error, aiohttp.ClientConnectorError):
        return httpx.ConnectError(f"{name}: cannot connect")
    if isinstance(error, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(name)
    return httpx.ReadError(f"{name}: the connection was closed or the response cut off")
