"""What each structured-output mode sends to an OpenAI-compatible server, and where the answer comes back.

Modes, richest constraint first (:data:`MODES`):

- ``json_schema``: ``response_format = {"type": "json_schema", "json_schema": {name, schema, strict}}``
  (OpenAI, vLLM, SGLang, LM Studio, Ollama's ``/v1``).
- ``json_object_schema``: ``response_format = {"type": "json_object", "schema": schema}``
  (llama-cpp-python's server, which turns the schema into a grammar). Only this mode sends the
  schema's grammar keywords (``pattern``...); the others send
  :attr:`~lusifer.api.backend.LLMRequest.portable_schema`.
- ``json_object``: ``response_format = {"type": "json_object"}``: any JSON object; the schema is
  described in the prompt.
- ``tools``: the schema as the parameters of one function the model is made to call; the answer is the
  call's arguments.
- ``none``: no constraint; the schema is described in the prompt and the validators repair the answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lusifer.api.backend import LLMRequest

MODES = ("json_schema", "json_object_schema", "json_object", "tools", "none")
#: Modes whose request does not carry the schema, so the prompt describes it.
SCHEMA_IN_PROMPT = frozenset({"json_object", "none"})


def structured_arguments(mode: str, request: LLMRequest) -> dict[str, Any]:
    """The Chat Completions arguments that constrain the answer of ``request`` in ``mode``."""
    schema = request.portable_schema
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    if schema is None or mode == "none":
        return {}
    if mode == "json_schema":
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": schema, "strict": True},
            }
        }
    if mode == "json_object_schema":  # the server builds a grammar: the whole schema, pattern included
        return {"response_format": {"type": "json_object", "schema": dict(request.schema or {})}}
    if mode == "tools":
        function = {"name": request.schema_name, "description": "Give the answer.", "parameters": schema}
        return {
            "tools": [{"type": "function", "function": function}],
            "tool_choice": {"type": "function", "function": {"name": request.schema_name}},
        }
    raise ValueError(f"unknown structured-output mode {mode!r}")


def chat_messages(mode: str, request: LLMRequest) -> list[dict[str, str]]:
    """The request's messages; in :data:`SCHEMA_IN_PROMPT` modes the last one also states the schema."""
    messages = [{"role": message.role, "content": message.content} for message in request.messages]
    if mode in SCHEMA_IN_PROMPT and request.schema is not None and messages:
        schema = json.dumps(request.portable_schema, separators=(",", ":"))
        note = f"\n\nAnswer with one JSON object only, following this JSON schema:\n{schema}"
        messages[-1] = {**messages[-1], "content": messages[-1]["content"] + note}
    return messages


def answer_text(message: Any) -> str:
    """The answer in a Chat Completions ``message`` (its JSON object): the first tool call's arguments, else
    the content."""
    tool_calls = message.get("tool_calls")
    if tool_calls:
        return tool_calls[0].get("function").get("arguments") or ""
    return message.get("content") or ""
