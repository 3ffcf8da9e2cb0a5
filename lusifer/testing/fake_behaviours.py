"""Behaviours of weak and slow model servers, as responders for the fake servers of
:mod:`lusifer.testing.fake_servers`::

    model = SerialModel(good_answers, generation_s=0.2)       # one request at a time, like llama.cpp
    with FakeOpenAIServer(RejectsResponseFormat(model)) as server:
        ...
        model.generated, model.max_waiting                     # answers generated, most requests queued

Each wraps another responder (what the model means to answer) and changes how or what it answers:

- :class:`SerialModel` generates one answer at a time for a fixed time, and goes on generating an
  answer whose client has given up (a single-process server does not notice a disconnect);
- :class:`RejectsResponseFormat` answers a ``response_format`` it does not support with HTTP 500 and
  a request validation error as its body, as llama-cpp-python's server does;
- :class:`JunkProfiles` answers the first profile requests with placeholders, HTML or a bare title;
- :func:`with_raw_newlines` puts raw newlines inside the JSON strings of an answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from lusifer.testing.fake_servers import FakeReply, Responder, llama_cpp_rejection


def is_profile_request(request: Any) -> bool:
    """Whether an OpenAI-style request asks for a profile (its schema or its prompt names ``profile``)."""
    response_format = (request or {}).get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    if schema:
        return "profile" in schema.get("properties", {})
    messages = (request or {}).get("messages") or [{}]
    return '"profile"' in str(messages[-1].get("content", ""))


class SerialModel:
    """Answers one request at a time, each after ``generation_s`` seconds of "generation".

    Requests that arrive while another is generating wait in line; a request whose client has
    disconnected is generated all the same, and its answer thrown away, as on a real serial server.

    :param answer: the responder giving the answer text once it is generated.
    """

    def __init__(self, answer: Responder, generation_s: float) -> None:
        self.answer = answer
        self.generation_s = generation_s
        self.generated = 0
        self.waiting = 0
        self.max_waiting = 0
        self._engine = threading.Lock()
        self._counts = threading.Lock()

    def __call__(self, request: Any) -> FakeReply:
        with self._counts:
            self.waiting += 1
            self.max_waiting = max(self.max_waiting, self.waiting)
        with self._engine:
            with self._counts:
                self.waiting -= 1
            time.sleep(self.generation_s)
            reply = self.answer(request)
            with self._counts:
                self.generated += 1
        return reply


class RejectsResponseFormat:
    """Answers through ``answer``, except a ``response_format`` whose type is not ``supported``: HTTP 500
    with a request validation error as the body (what llama-cpp-python 0.3 does for ``json_schema``)."""

    def __init__(self, answer: Responder, supported: Iterable[str] = ("text", "json_object")) -> None:
        self.answer = answer
        self.supported = frozenset(supported)
        self.rejected = 0

    def __call__(self, request: Any) -> FakeReply:
        rejection = llama_cpp_rejection(request, self.supported)
        if rejection is not None:
            self.rejected += 1
            return rejection
        return self.answer(request)


class JunkProfiles:
    """Answers the first profile requests with the given junk texts in turn, then through ``answer``.

    The default junk is what a 135M-parameter model wrote: the template's placeholder, HTML, a title.
    """

    DEFAULT_JUNK = ("<updated profile>", "<pre><code>likes movies</code></pre>", "Toy Story (1995)")

    def __init__(self, answer: Responder, junk: Iterable[str] = DEFAULT_JUNK) -> None:
        self.answer = answer
        self.junk = deque(junk)
        self.junk_sent = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any) -> FakeReply:
        if is_profile_request(request):
            with self._lock:
                text = self.junk.popleft() if self.junk else None
                self.junk_sent += text is not None
            if text is not None:
                return FakeReply(content=json.dumps({"profile": text, "explanation": "It changed."}))
        return self.answer(request)


def with_raw_newlines(answer: Responder) -> Responder:
    """A responder whose JSON answers carry raw newlines inside strings (``Invalid control character``
    for a strict parser): the last space of every top-level string of several words becomes a newline."""

    def respond(request: Any) -> FakeReply:
        reply = answer(request)
        if reply.content is None:
            return reply
        data = json.loads(reply.content)
        spread = {key: _break_last_space(value) if isinstance(value, str) else value for key, value in data.items()}
        raw = json.dumps(spread).replace("\\n", "\n")
        return FakeReply(status=reply.status, content=raw, headers=reply.headers, delay=reply.delay)

    return respond


def _break_last_space(text: str) -> str:
    head, space, tail = text.rpartition(" ")
    return f"{head}\n{tail}" if space else text
