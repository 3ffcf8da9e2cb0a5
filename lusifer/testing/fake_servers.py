"""Fake OpenAI and Anthropic HTTP servers for tests and benchmarks: the official SDKs talk to them.

Each server listens on ``127.0.0.1`` (a free port) in a background thread::

    with FakeOpenAIServer(latency=0.3, jitter=0.05, max_concurrency=8) as server:
        config = BackendConfig(name="openai", base_url=server.base_url)
        server.inject(FakeReply(status=429, headers={"Retry-After": "0.1"}))  # the next request fails
        ...
        server.requests[-1].json["response_format"]   # what the SDK sent
        server.max_in_flight                          # the most requests handled at once

``base_url`` is what the vendor's SDK expects (``.../v1`` for OpenAI, the bare origin for Anthropic).
What a request gets, in order: a 429 (``Retry-After: 0.05``, counted in ``rejected``) when more than
``max_concurrency`` requests are in flight; else the next injected :class:`FakeReply` (first in,
first out); else ``responder(request_json)``; else a default answer built from the request's JSON
schema. Every reply waits ``latency`` ± ``jitter`` seconds plus its own ``delay``.

A :class:`FakeReply` with ``content`` is wrapped in the protocol's envelope (for Anthropic, a
``tool_use`` block when a tool was forced and the content is JSON); ``json`` or ``raw`` replace the
whole response body; an error ``status`` without a body gets the vendor's error JSON; ``drop=True``
closes the connection without answering.

Recorded requests keep their path, headers and JSON, with ``Authorization``, ``x-api-key`` and
``api-key`` values redacted.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

REDACTED = "[REDACTED]"
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})


@dataclass
class FakeReply:
    """One scripted reply.

    :param status: HTTP status.
    :param content: the model's answer text, wrapped in the protocol's response envelope.
    :param json: a JSON body sent as is (replaces the envelope).
    :param raw: a raw body sent as is, e.g. malformed JSON.
    :param headers: extra response headers such as ``Retry-After``.
    :param delay: seconds to wait before answering (on top of the server's latency).
    :param drop: close the connection without answering.
    """

    status: int = 200
    content: str | None = None
    json: Any = None
    raw: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received (secret header values redacted)."""

    path: str
    headers: dict[str, str]
    json: Any


Responder = Callable[[Any], FakeReply]


def example_for_schema(schema: Mapping[str, Any] | None) -> Any:
    """A small value that satisfies ``schema`` (objects, enums, strings, numbers, arrays)."""
    if not schema:
        return {}
    if "enum" in schema:
        values = list(schema["enum"])
        return values[len(values) // 2]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: example_for_schema(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return []
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    return "ok"


class FakeServer:
    """Base of the fake vendor servers; subclasses define the protocol (path, envelope, errors)."""

    path = "/"

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        max_concurrency: int | None = None,
        seed: int = 0,
    ) -> None:
        self.responder = responder
        self.latency = latency
        self.jitter = jitter
        self.max_concurrency = max_concurrency
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.rejected = 0
        self._faults: deque[FakeReply] = deque()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free port and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What the vendor's SDK takes as ``base_url`` (``BackendConfig.base_url``)."""
        return self.url

    # scripting ----------------------------------------------------------------------------------------

    def inject(self, *replies: FakeReply) -> None:
        """Queue replies that the next requests get, before the responder is asked."""
        with self._lock:
            self._faults.extend(replies)

    # protocol (subclasses) ----------------------------------------------------------------------------

    def schema_of(self, request: Any) -> Mapping[str, Any] | None:
        """The JSON schema the request asks the answer to follow, if any."""
        raise NotImplementedError

    def envelope(self, request: Any, content: str, number: int) -> dict[str, Any]:
        """A successful response body carrying ``content``."""
        raise NotImplementedError

    def error_body(self, status: int) -> dict[str, Any]:
        """The vendor's error body for ``status``."""
        raise NotImplementedError

    # internals ----------------------------------------------------------------------------------------

    def _admit(
        self, path: str, headers: Mapping[str, str], payload: Any
    ) -> tuple[FakeReply | None, int, float]:
        """Record the request, count it in flight, and pick a 429 or an injected reply (None: respond)."""
        with self._lock:
            self._counter += 1
            number = self._counter
            redacted = {
                name: _redact_header(value) if name.lower() in _SECRET_HEADERS else value
                for name, value in headers.items()
            }
            self.requests.append(RecordedRequest(path, redacted, payload))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            wait = max(self.latency + self._random.uniform(-self.jitter, self.jitter), 0.0)
            if self.max_concurrency is not None and self.in_flight > self.max_concurrency:
                self.rejected += 1
                return FakeReply(status=429, headers={"Retry-After": "0.05"}), number, 0.0
            if self._faults:
                return self._faults.popleft(), number, wait
        return None, number, wait

    def _respond(self, payload: Any) -> FakeReply:
        if self.responder is not None:
            return self.responder(payload)
        return FakeReply(content=json.dumps(example_for_schema(self.schema_of(payload))))

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _body(self, reply: FakeReply, request: Any, number: int) -> bytes:
        if reply.raw is not None:
            return reply.raw.encode()
        if reply.json is not None:
            return json.dumps(reply.json).encode()
        if reply.status >= 400:
            return json.dumps(self.error_body(reply.status)).encode()
        return json.dumps(self.envelope(request, reply.content or "", number)).encode()


def _redact_header(value: str) -> str:
    scheme, _, rest = value.partition(" ")
    return f"{scheme} {REDACTED}" if rest else REDACTED


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    fake: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(data) if data else None
        except ValueError:
            payload = None
        if self.path.split("?")[0] != self.fake.path:
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode(), {})
            return
        reply, number, wait = self.fake._admit(self.path, dict(self.headers.items()), payload)
        try:
            try:
                reply = reply or self.fake._respond(payload)
            except Exception as error:
                reply = FakeReply(status=500, json={"error": {"message": f"responder failed: {error!r}"}})
            time.sleep(wait + reply.delay)
            body = b"" if reply.drop else self.fake._body(reply, payload, number)
        finally:
            self.fake._leave()  # before answering, so a client that sends its next request at once fits
        if reply.drop:
            self.close_connection = True
            return
        self._send(reply.status, body, reply.headers)

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout) and closed the connection
            self.close_connection = True


def _estimate_tokens(value: Any) -> int:
    return max(len(json.dumps(value)) // 4, 1)


class FakeOpenAIServer(FakeServer):
    """Speaks ``POST /v1/chat/completions`` (with ``response_format`` and ``logprobs``)."""

    path = "/v1/chat/completions"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (the OpenAI SDK appends ``/chat/completions``)."""
        return f"{self.url}/v1"

    def schema_of(self, request: Any) -> Mapping[str, Any] | None:
        response_format = (request or {}).get("response_format") or {}
        return (response_format.get("json_schema") or {}).get("schema")

    def envelope(self, request: Any, content: str, number: int) -> dict[str, Any]:
        request = request or {}
        prompt, completion = _estimate_tokens(request.get("messages")), max(len(content) // 4, 1)
        logprobs = None
        if request.get("logprobs"):
            pieces = [content[i : i + 4] for i in range(0, len(content), 4)]
            logprobs = {
                "content": [
                    {"token": piece, "logprob": -0.01, "bytes": list(piece.encode()), "top_logprobs": []}
                    for piece in pieces
                ],
                "refusal": None,
            }
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake-model"),
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": logprobs,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }

    def error_body(self, status: int) -> dict[str, Any]:
        kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "server_error")
        return {"error": {"message": f"fake error {status}", "type": kind, "param": None, "code": kind}}


class FakeAnthropicServer(FakeServer):
    """Speaks ``POST /v1/messages`` (forced ``tool_use`` when tools are given)."""

    path = "/v1/messages"  # the Anthropic SDK appends ``/v1/messages`` to ``base_url``

    def schema_of(self, request: Any) -> Mapping[str, Any] | None:
        tools = (request or {}).get("tools") or []
        return tools[0].get("input_schema") if tools else None

    def envelope(self, request: Any, content: str, number: int) -> dict[str, Any]:
        request = request or {}
        prompt = _estimate_tokens([request.get("system"), request.get("messages")])
        completion = max(len(content) // 4, 1)
        block: dict[str, Any] = {"type": "text", "text": content}
        stop_reason = "end_turn"
        tools = request.get("tools") or []
        if tools:
            try:
                block = {
                    "type": "tool_use",
                    "id": f"toolu_fake_{number}",
                    "name": tools[0]["name"],
                    "input": json.loads(content),
                }
                stop_reason = "tool_use"
            except ValueError:
                pass
        return {
            "id": f"msg_fake_{number}",
            "type": "message",
            "role": "assistant",
            "model": request.get("model", "fake-model"),
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion},
        }

    def error_body(self, status: int) -> dict[str, Any]:
        kind = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error"}.get(
            status, "api_error"
        )
        return {"type": "error", "error": {"type": kind, "message": f"fake error {status}"}}
