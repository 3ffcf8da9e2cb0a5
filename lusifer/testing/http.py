"""A tiny GET server on loopback for tests of downloads and HTTP APIs (no network needed).

::

    with serve_files({"/data.zip": archive_bytes}) as server:
        fetch(spec_with_url(server.url("/data.zip")))
        assert server.requests == ["/data.zip"]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

if TYPE_CHECKING:
    from typing import Self

#: ``respond(path, query, headers) -> (status, response headers, body)``.
Respond = Callable[[str, dict[str, list[str]], dict[str, str]], tuple[int, Mapping[str, str], bytes]]


class LoopbackServer:
    """Answers GET requests on ``127.0.0.1`` (a free port) with ``respond``; records each request target."""

    def __init__(self, respond: Respond) -> None:
        self.requests: list[str] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append(self.path)
                parsed = urlparse(self.path)
                status, headers, body = respond(parsed.path, parse_qs(parsed.query), dict(self.headers))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        """The full URL of ``path`` (``/file.zip``) on this server."""
        return self.base_url + path

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve_files(files: Mapping[str, bytes]) -> LoopbackServer:
    """A server answering each path of ``files`` with its bytes, and 404 for anything else."""

    def respond(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        body = files.get(path)
        return (200, {}, body) if body is not None else (404, {}, b"not found")

    return LoopbackServer(respond)
