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
closes the connection without answering, ``cut=True`` in the middle of the body.

Recorded requests keep their path, headers and JSON, with ``Authorization``, ``x-api-key`` and
``api-key`` values redacted.

``FakeOpenAIServer(structured_output=...)`` plays how a server treats structured-output fields
(:data:`STRUCTURED_OUTPUT_BEHAVIOURS`): ``"openai"`` accepts them all (forced tools answer with a
tool call); ``"llama_cpp"`` rejects ``response_format`` of type ``json_schema`` with the HTTP 500 that
llama-cpp-python's server gives and honours ``{"type": "json_object", "schema": ...}``;
``"ignores_response_format"`` accepts and ignores them, answering like an unconstrained chatty model
(the JSON in a code fence after a sentence); ``"tools_only"`` rejects any ``response_format`` with a
400 and answers forced tools with a tool call. Rejections come before the responder is asked.

Both servers also speak their vendor's batch API (OpenAI: ``POST /v1/files``, ``POST /v1/batches``,
``GET /v1/batches/{id}``, ``GET /v1/files/{id}/content``; Anthropic: ``POST /v1/messages/batches``,
``GET /v1/messages/batches/{id}`` and its ``results_url``). A batch reports ``in_progress`` for its
first ``batch_polls`` status requests, then ends; its requests are answered then, in order, exactly
like single requests (injected replies first, then the responder), without latency. ``batches`` maps
each batch id to its :class:`FakeBatch`.
"""

from __future__ import annotations

import email.message
import email.parser
import json
import random
import re
import select
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from typing import Self

REDACTED = "[REDACTED]"
#: The string of default answers: long enough to pass as a profile (validators reject one-word texts).
EXAMPLE_TEXT = "A plain example text, long enough to pass as an answer."
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
    :param cut: send the headers (with the whole body's ``Content-Length``) and half the body, then close
        the connection: a connection dropped mid-response.
    :param hang: never answer; hold the request (and its place in flight) until the client disconnects,
        as a server that aborts abandoned requests does.
    :param logprobs: OpenAI only: the answer's tokens (``{"token", "logprob", "top_logprobs"}`` each,
        spelling ``content``) when the request asks for log-probabilities.
    """

    status: int = 200
    content: str | None = None
    json: Any = None
    raw: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    cut: bool = False
    hang: bool = False
    logprobs: list[dict[str, Any]] | None = None


class RequestHeaders(dict[str, str]):
    """Request headers with their names as sent, looked up in any case (HTTP header names are
    case-insensitive, and clients differ: the SDKs' aiohttp transport sends them in lower case)."""

    def _name(self, name: object) -> object:
        wanted = name.lower() if isinstance(name, str) else name
        return next((sent for sent in self if sent.lower() == wanted), name)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(cast(str, self._name(name)))

    def __contains__(self, name: object) -> bool:
        return super().__contains__(self._name(name))

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(cast(str, self._name(name)), default)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received (secret header values redacted)."""

    path: str
    headers: RequestHeaders
    json: Any


@dataclass
class FakeBatch:
    """A submitted batch: its requests as ``(custom_id, request JSON)``, status requests so far, results."""

    requests: list[tuple[str, Any]]
    polls: int = 0
    results: list[tuple[str, FakeReply, Any, int]] | None = None


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
    return EXAMPLE_TEXT


class FakeServer(ABC):
    """Base of the fake vendor servers; subclasses define the protocol (path, envelope, errors)."""

    path = "/"

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths answered like model requests (injected replies, the responder, latency)."""
        return (self.path,)

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        max_concurrency: int | None = None,
        batch_polls: int = 1,
        seed: int = 0,
    ) -> None:
        self.responder = responder
        self.batch_polls = batch_polls
        self.batches: dict[str, FakeBatch] = {}
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
        self._server = _Server(("127.0.0.1", 0), handler)
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

    @abstractmethod
    def schema_of(self, request: Any) -> Mapping[str, Any] | None:
        """The JSON schema the request asks the answer to follow, if any."""

    @abstractmethod
    def envelope(self, request: Any, content: str, number: int) -> dict[str, Any]:
        """A successful response body carrying ``content``."""

    @abstractmethod
    def error_body(self, status: int) -> dict[str, Any]:
        """The vendor's error body for ``status``."""

    def route(self, method: str, path: str, headers: Mapping[str, str], data: bytes) -> tuple[int, Any] | None:
        """Answer a request outside the main path: ``(status, JSON body or bytes)``, or None for a 404."""
        return None

    # batches ------------------------------------------------------------------------------------------

    def _new_batch(self, requests: list[tuple[str, Any]]) -> str:
        with self._lock:
            batch_id = f"batch_fake_{len(self.batches) + 1}"
            self.batches[batch_id] = FakeBatch(requests)
        return batch_id

    def _poll(self, batch_id: str) -> FakeBatch | None:
        """Count a status request; answer the batch's requests once it has been polled enough."""
        batch = self.batches.get(batch_id)
        if batch is None:
            return None
        with self._lock:
            batch.polls += 1
            if batch.polls <= self.batch_polls or batch.results is not None:
                return batch
            planned = []
            for custom_id, payload in batch.requests:
                self._counter += 1
                self.requests.append(RecordedRequest(f"batch:{batch_id}", RequestHeaders(), payload))
                planned.append((custom_id, self._faults.popleft() if self._faults else None, payload, self._counter))
        results = []
        for custom_id, reply, payload, number in planned:
            try:
                reply = reply or self._respond(payload)
            except Exception as error:
                reply = FakeReply(status=500, json={"error": {"message": f"responder failed: {error!r}"}})
            results.append((custom_id, reply, payload, number))
        batch.results = results
        return batch

    # internals ----------------------------------------------------------------------------------------

    def _admit(self, path: str, headers: Mapping[str, str], payload: Any) -> tuple[FakeReply | None, int, float]:
        """Record the request, count it in flight, and pick a 429 or an injected reply (None: respond)."""
        with self._lock:
            self._counter += 1
            number = self._counter
            redacted = RequestHeaders(
                (name, _redact_header(value) if name.lower() in _SECRET_HEADERS else value)
                for name, value in headers.items()
            )
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


class _Server(ThreadingHTTPServer):
    #: Connections waiting to be accepted; the default of 5 drops SYNs when many clients connect at once.
    request_queue_size = 128


def _redact_header(value: str) -> str:
    scheme, _, rest = value.partition(" ")
    return f"{scheme} {REDACTED}" if rest else REDACTED


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    fake: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._route("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        if len(data) < length:  # the client went away mid-body: a real server never sees this request
            self.close_connection = True
            return
        if self.path.split("?")[0] not in self.fake.paths:
            self._route("POST", data)
            return
        try:
            payload = json.loads(data) if data else None
        except ValueError:
            payload = None
        reply, number, wait = self.fake._admit(self.path, dict(self.headers.items()), payload)
        try:
            try:
                reply = reply or self.fake._respond(payload)
            except Exception as error:
                reply = FakeReply(status=500, json={"error": {"message": f"responder failed: {error!r}"}})
            if reply.hang:
                self._wait_for_disconnect()
                self.close_connection = True
                return
            time.sleep(wait + reply.delay)
            body = b"" if reply.drop else self.fake._body(reply, payload, number)
        finally:
            self.fake._leave()  # before answering, so a client that sends its next request at once fits
        if reply.drop:
            self.close_connection = True
            return
        self._send(reply.status, body, reply.headers, cut=reply.cut)

    def _wait_for_disconnect(self, limit: float = 600.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            try:
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return  # the client closed the connection
            except OSError:
                return

    def _route(self, method: str, data: bytes) -> None:
        answer = self.fake.route(method, self.path.split("?")[0], dict(self.headers.items()), data)
        if answer is None:
            self._send(404, json.dumps({"error": {"message": f"no route {method} {self.path}"}}).encode(), {})
            return
        status, body = answer
        if isinstance(body, bytes):
            self._send(status, body, {}, "application/octet-stream")
        else:
            self._send(status, json.dumps(body).encode(), {})

    def _send(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        content_type: str = "application/json",
        *,
        cut: bool = False,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if cut else body)
        except OSError:  # the client gave up (timeout) and closed the connection
            self.close_connection = True
        if cut:
            self.wfile.flush()
            self.close_connection = True


def _estimate_tokens(value: Any) -> int:
    return max(len(json.dumps(value)) // 4, 1)


def _multipart_file(headers: Mapping[str, str], data: bytes) -> bytes:
    """The ``file`` field of a ``multipart/form-data`` body."""
    content_type = next(value for name, value in headers.items() if name.lower() == "content-type")
    message = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + data)
    for part in message.get_payload():  # a multipart body's payload is its list of parts
        if isinstance(part, email.message.Message) and part.get_param("name", header="content-disposition") == "file":
            return cast(bytes, part.get_payload(decode=True))  # decoded, a leaf part's payload is bytes
    raise ValueError("no file field in the upload")


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


# structured-output behaviours of OpenAI-compatible servers -------------------------------------------

STRUCTURED_OUTPUT_BEHAVIOURS = ("openai", "llama_cpp", "ignores_response_format", "tools_only")
LLAMA_CPP_REJECTION_MESSAGE = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"site-packages/llama_cpp/server/app.py\", "
    "line 376, in create_chat_completion\n    POST /v1/chat/completions"
)
#: The body llama-cpp-python's server (0.3.36) answers, with HTTP 500, to a ``json_schema`` response_format.
LLAMA_CPP_JSON_SCHEMA_REJECTION = {
    "error": {
        "message": LLAMA_CPP_REJECTION_MESSAGE,
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
}
TOOLS_ONLY_REJECTION = {
    "error": {
        "message": "response_format is not supported by this server",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": "unsupported_parameter",
    }
}


def llama_cpp_rejection(request: Any, supported: Iterable[str] = ("text", "json_object")) -> FakeReply | None:
    """What llama-cpp-python's server answers to a ``response_format`` type outside ``supported``: HTTP 500
    with a request validation error as the body; None when it takes the request. The one fake of that
    rejection (``FakeOpenAIServer(structured_output="llama_cpp")`` and
    :class:`lusifer.testing.fake_behaviours.RejectsResponseFormat` both answer with it)."""
    kind = ((request or {}).get("response_format") or {}).get("type")
    if kind is not None and kind not in tuple(supported):
        return FakeReply(status=500, json=LLAMA_CPP_JSON_SCHEMA_REJECTION)
    return None


def _structured_output_rejection(behaviour: str, request: Any) -> FakeReply | None:
    """The error a server with ``behaviour`` answers to ``request``'s structured-output fields, if any."""
    kind = ((request or {}).get("response_format") or {}).get("type")
    if behaviour == "llama_cpp":
        return llama_cpp_rejection(request)
    if behaviour == "tools_only" and kind is not None:
        return FakeReply(status=400, json=TOOLS_ONLY_REJECTION)
    return None


def _requested_schema(request: Any) -> Mapping[str, Any] | None:
    """The schema in ``response_format`` (``json_schema``, or llama.cpp's ``json_object`` + ``schema``), a tool,
    or the Responses API's ``text.format``."""
    request = request or {}
    if "input" in request:
        return ((request.get("text") or {}).get("format") or {}).get("schema")
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema")
    if response_format.get("schema") is not None:
        schema: Mapping[str, Any] = response_format["schema"]
        return schema
    tools = request.get("tools") or []
    return (tools[0].get("function") or {}).get("parameters") if tools else None


def _tool_call_message(request: Any, content: str, number: int) -> dict[str, Any]:
    """An assistant message calling the request's first tool with ``content`` as its arguments."""
    name = request["tools"][0]["function"]["name"]
    call = {"id": f"call_fake_{number}", "type": "function", "function": {"name": name, "arguments": content}}
    return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}


class FakeOpenAIServer(FakeServer):
    """Speaks ``POST /v1/chat/completions`` (``response_format``, tools and ``logprobs``) and
    ``POST /v1/responses`` (``text.format``, ``include=["message.output_text.logprobs"]``, ``top_logprobs``).

    :param structured_output: one of :data:`STRUCTURED_OUTPUT_BEHAVIOURS` (see the module's docstring).
    :param ignores_logprobs: answer without ``logprobs`` even when asked (as some servers do); otherwise
        asked-for log-probabilities come as 4-character tokens without ``top_logprobs`` alternatives.
    """

    path = "/v1/chat/completions"
    responses_path = "/v1/responses"

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, self.responses_path)

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        structured_output: str = "openai",
        ignores_logprobs: bool = False,
        **options: Any,
    ) -> None:
        if structured_output not in STRUCTURED_OUTPUT_BEHAVIOURS:
            raise ValueError(f"structured_output must be one of {STRUCTURED_OUTPUT_BEHAVIOURS}")
        super().__init__(responder, **options)
        self.structured_output = structured_output
        self.ignores_logprobs = ignores_logprobs
        self.files: dict[str, bytes] = {}
        self._inputs: dict[str, str] = {}
        self._outputs: dict[str, tuple[str | None, str | None]] = {}

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (the OpenAI SDK appends ``/chat/completions``)."""
        return f"{self.url}/v1"

    def schema_of(self, request: Any) -> Mapping[str, Any] | None:
        return _requested_schema(request)

    def _respond(self, payload: Any) -> FakeReply:
        rejection = _structured_output_rejection(self.structured_output, payload)
        if rejection is not None:
            return rejection
        if self.structured_output == "ignores_response_format" and self.responder is None:
            example = json.dumps(example_for_schema(self.schema_of(payload)))
            return FakeReply(content=f"Sure! Here is my answer:\n```json\n{example}\n```")
        return super()._respond(payload)

    def _body(self, reply: FakeReply, request: Any, number: int) -> bytes:
        if reply.logprobs is None or reply.raw is not None or reply.json is not None or reply.status >= 400:
            return super()._body(reply, request, number)
        return json.dumps(self.envelope(request, reply.content or "", number, reply.logprobs)).encode()

    def _tokens(self, request: Any, content: str, logprobs: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """The answer's tokens when ``request`` asks for log-probabilities (``logprobs``, or else 4-character
        pieces without alternatives); None when it does not or the server ignores them."""
        asked = request.get("logprobs") or "message.output_text.logprobs" in (request.get("include") or [])
        if not asked or self.ignores_logprobs:
            return None
        pieces = [content[i : i + 4] for i in range(0, len(content), 4)]
        return logprobs or [
            {"token": piece, "logprob": -0.01, "bytes": list(piece.encode()), "top_logprobs": []} for piece in pieces
        ]

    def envelope(
        self, request: Any, content: str, number: int, logprobs: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        request = request or {}
        if "input" in request:
            return self._responses_envelope(request, content, number, logprobs)
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if request.get("tools") and self.structured_output != "ignores_response_format":
            message = _tool_call_message(request, content, number)
        prompt, completion = _estimate_tokens(request.get("messages")), max(len(content) // 4, 1)
        tokens = self._tokens(request, content, logprobs)
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake-model"),
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": {"content": tokens, "refusal": None} if tokens is not None else None,
                    "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }

    def _responses_envelope(
        self, request: Any, content: str, number: int, logprobs: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        """A Responses API body: one ``message`` output item holding ``content`` as ``output_text``."""
        prompt, completion = _estimate_tokens(request.get("input")), max(len(content) // 4, 1)
        tokens = self._tokens(request, content, logprobs) or []
        part = {"type": "output_text", "text": content, "annotations": [], "logprobs": tokens}
        item = {"id": f"msg_fake_{number}", "type": "message", "role": "assistant", "status": "completed"}
        return {
            "id": f"resp_fake_{number}",
            "object": "response",
            "created_at": int(time.time()),
            "model": request.get("model", "fake-model"),
            "status": "completed",
            "output": [{**item, "content": [part]}],
            "parallel_tool_calls": False,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + completion,
            },
        }

    def error_body(self, status: int) -> dict[str, Any]:
        kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "server_error")
        return {"error": {"message": f"fake error {status}", "type": kind, "param": None, "code": kind}}

    _BATCH = re.compile(r"^/v1/batches/([^/]+)$")
    _CONTENT = re.compile(r"^/v1/files/([^/]+)/content$")

    def route(self, method: str, path: str, headers: Mapping[str, str], data: bytes) -> tuple[int, Any] | None:
        if (method, path) == ("POST", "/v1/files"):
            file_id = self._add_file(_multipart_file(headers, data))
            return 200, self._file_object(file_id, "batch")
        if (method, path) == ("POST", "/v1/batches"):
            request = json.loads(data)
            lines = [json.loads(line) for line in self.files[request["input_file_id"]].decode().splitlines() if line]
            batch_id = self._new_batch([(line["custom_id"], line["body"]) for line in lines])
            self._inputs[batch_id] = request["input_file_id"]
            return 200, self._batch_object(batch_id)
        batch_match, content_match = self._BATCH.match(path), self._CONTENT.match(path)
        if method == "GET" and batch_match and self._poll(batch_match[1]) is not None:
            return 200, self._batch_object(batch_match[1])
        if method == "GET" and content_match and content_match[1] in self.files:
            return 200, self.files[content_match[1]]
        return None

    def _add_file(self, content: bytes) -> str:
        with self._lock:
            file_id = f"file-fake-{len(self.files) + 1}"
            self.files[file_id] = content
        return file_id

    def _file_object(self, file_id: str, purpose: str) -> dict[str, Any]:
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(self.files[file_id]),
            "created_at": int(time.time()),
            "filename": f"{file_id}.jsonl",
            "purpose": purpose,
            "status": "processed",
        }

    def _batch_object(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        if batch.results is not None and batch_id not in self._outputs:
            good: list[str] = []
            bad: list[str] = []
            for custom_id, reply, payload, number in batch.results:
                if reply.drop:
                    continue
                body: Any = reply.raw if reply.raw is not None else reply.json
                if body is None and reply.status >= 400:
                    body = self.error_body(reply.status)
                elif body is None:
                    body = self.envelope(payload, reply.content or "", number)
                line = {
                    "id": f"batch_req_{number}",
                    "custom_id": custom_id,
                    "response": {"status_code": reply.status, "request_id": f"req_{number}", "body": body},
                    "error": None,
                }
                (bad if reply.status >= 400 else good).append(json.dumps(line))
            files = [self._add_file("\n".join(part).encode()) if part else None for part in (good, bad)]
            self._outputs[batch_id] = (files[0], files[1])
        output_file, error_file = self._outputs.get(batch_id, (None, None))
        done = batch.results is not None
        failed = sum(1 for _, reply, _, _ in batch.results or [] if reply.status >= 400 or reply.drop)
        return {
            "id": batch_id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": self._inputs.get(batch_id, ""),
            "completion_window": "24h",
            "status": "completed" if done else "in_progress",
            "created_at": int(time.time()),
            "output_file_id": output_file,
            "error_file_id": error_file,
            "request_counts": {
                "total": len(batch.requests),
                "completed": len(batch.requests) - failed if done else 0,
                "failed": failed,
            },
        }


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
        kinds = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
        kind = {**kinds, 529: "overloaded_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": f"fake error {status}"}}

    _BATCH = re.compile(r"^/v1/messages/batches/([^/]+?)(/results)?$")

    def route(self, method: str, path: str, headers: Mapping[str, str], data: bytes) -> tuple[int, Any] | None:
        if (method, path) == ("POST", "/v1/messages/batches"):
            requests = json.loads(data)["requests"]
            batch_id = self._new_batch([(request["custom_id"], request["params"]) for request in requests])
            return 200, self._batch_object(batch_id)
        match = self._BATCH.match(path)
        if method != "GET" or not match or match[1] not in self.batches:
            return None
        if not match[2]:
            self._poll(match[1])
            return 200, self._batch_object(match[1])
        batch = self.batches[match[1]]
        if batch.results is None:
            return 404, self.error_body(404)
        lines = []
        for custom_id, reply, payload, number in batch.results:
            if reply.drop:
                continue
            if reply.status >= 400:
                result: dict[str, Any] = {"type": "errored", "error": reply.json or self.error_body(reply.status)}
            else:
                message = reply.json or self.envelope(payload, reply.content or "", number)
                result = {"type": "succeeded", "message": message}
            lines.append(json.dumps({"custom_id": custom_id, "result": result}))
        return 200, "\n".join(lines).encode()

    def _batch_object(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        done = batch.results is not None
        errored = sum(1 for _, reply, _, _ in batch.results or [] if reply.status >= 400)
        counts = {"processing": 0 if done else len(batch.requests), "succeeded": 0, "errored": errored}
        counts.update(canceled=0, expired=sum(1 for _, reply, _, _ in batch.results or [] if reply.drop))
        if done:
            counts["succeeded"] = len(batch.requests) - errored - counts["expired"]
        now = time.time()
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if done else "in_progress",
            "request_counts": counts,
            "created_at": _iso(now),
            "expires_at": _iso(now + 86400),
            "ended_at": _iso(now) if done else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch_id}/results" if done else None,
        }
