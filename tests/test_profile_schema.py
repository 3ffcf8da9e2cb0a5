"""The profile schema carries the substance check as a ``pattern`` for grammar-building servers only.

llama-cpp-python (its server's ``json_object`` + ``schema`` mode, and the in-process plugin) decodes
under a grammar built from the schema, so a ``pattern`` there keeps a weak model from writing markup or
placeholders; vendors' strict modes and schemas stated in a prompt get the schema without it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from pathlib import Path

import pytest
from calls_helpers import SECRET, VALIDATORS, layer, make_config
from pydantic import SecretStr

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.settings import PROFILE_MIN_WORDS
from lusifer.domains.movies.domain import MoviesDomain
from lusifer.engine.backends.anthropic_backend import AnthropicBackend
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.requests import CatalogueItem, Interaction, RequestBuilder
from lusifer.engine.templates import template_environment
from lusifer.engine.validation import ProfileValidator, plain_text_pattern, profile_schema, profile_words_within
from lusifer.testing.fake_servers import EXAMPLE_TEXT, FakeAnthropicServer, FakeOpenAIServer, FakeReply

#: Answers SmolLM2-135M-Instruct gave to profile questions that the validator refuses.
REFUSED = [
    "<pre><code>20,000 Leagues Under the Sea</code></pre>",
    "<pre>\n<table class=",
    "<p>2013</p>",
    "<updated profile>",
    "<json object>",
    "[profile of the person who rated these movies]",
    "{the updated profile goes here in one sentence}",
    "```json the profile of this person```",
    "Enjoys crime films.",
]
#: A profile update answer that passes the validator.
ANSWER = json.dumps({"profile": EXAMPLE_TEXT, "explanation": "The new ratings show it."})


def _profile_request(min_words: int = PROFILE_MIN_WORDS, update: bool = False) -> LLMRequest:
    messages = (Message("system", "You describe movie watchers."), Message("user", "Describe this person's taste."))
    return LLMRequest("profile_update" if update else "profile", messages, profile_schema(update, min_words), "profile")


def test_text_the_pattern_admits_passes_the_substance_check() -> None:
    pattern = re.compile(profile_schema(False)["properties"]["profile"]["pattern"])
    request = _profile_request()
    words = ["likes", "dark", "crime", "films,", "1995", "it's", "(and)", "..."] * 6
    words += ["<b>", "</i>", "[x]", "{y}", "`a`", '"q"', "tab\tbed"]
    separators = [" "] * 40 + ["  ", "\n", "", "\\"]
    generator = random.Random(0)
    admitted = 0
    for _ in range(3000):
        text = generator.choice(words)
        for _ in range(generator.randint(0, 11)):
            text += generator.choice(separators) + generator.choice(words)
        if pattern.fullmatch(text):
            admitted += 1
            assert ProfileValidator().validate({"profile": text}, request).problems == {}, text
    assert admitted > 100  # the sample reaches the admitted side too
    for answer in REFUSED:
        assert ProfileValidator().validate({"profile": answer}, request).problems, answer
        assert not pattern.fullmatch(answer), answer


@pytest.mark.parametrize("min_words", [0, 1, 2, 5, 12])
def test_the_pattern_bounds_the_words_and_their_length(min_words: int) -> None:
    pattern = re.compile(plain_text_pattern(min_words))
    enough = " ".join(["word"] * max(min_words, 1))
    assert pattern.fullmatch(enough) and pattern.fullmatch(enough + " more")
    if min_words > 1:
        assert not pattern.fullmatch(" ".join(["word"] * (min_words - 1)))
    assert not pattern.fullmatch("") and not pattern.fullmatch(" " + enough) and not pattern.fullmatch(enough + " ")
    assert pattern.fullmatch(" ".join(["word"] * 120)) and not pattern.fullmatch(" ".join(["word"] * 121))
    assert not pattern.fullmatch("./1.2.3" + ".1" * 40 + " " + enough)  # one endless "word"


@pytest.mark.parametrize("max_tokens", [300, 512, 1024, 2048])
def test_the_longest_answer_of_a_bounded_re_ask_fits_in_max_tokens(max_tokens: int) -> None:
    words = profile_words_within(max_tokens)
    schema = profile_schema(True, PROFILE_MIN_WORDS, words)["properties"]
    longest = {
        "profile": " ".join(["w" * 30] * words),
        "explanation": " ".join(["w" * 30] * (words // 2)),
    }
    for key, text in longest.items():
        assert re.fullmatch(schema[key]["pattern"], text)  # the longest the grammar admits...
        assert not re.fullmatch(schema[key]["pattern"], text + " w")
    assert len(json.dumps(longest)) <= max_tokens  # ...ends within max_tokens even at one character per token
    assert PROFILE_MIN_WORDS <= words <= 120


def test_the_profile_min_words_setting_reaches_the_schema() -> None:
    builder = RequestBuilder(MoviesDomain(), template_environment(), {"1": CatalogueItem("Heat (1995)", "Heat.")})
    for previous, keys in ((None, ["profile"]), ("Likes crime films of the nineties.", ["profile", "explanation"])):
        schema = builder.profile("7", "", [Interaction("1", 5, 0)], previous, 0).schema
        assert schema is not None and schema["required"] == keys
        assert schema["properties"]["profile"]["pattern"] == plain_text_pattern(PROFILE_MIN_WORDS)
    builder.profile_min_words = 12
    schema = builder.profile("7", "", [Interaction("1", 5, 0)], None, 0).schema
    assert schema is not None and schema["properties"]["profile"]["pattern"] == plain_text_pattern(12)


def test_the_portable_schema_drops_grammar_keywords_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "pattern": "^a+$", "minLength": 3, "maxLength": 9},
            "nested": {"type": "array", "items": {"type": "string", "pattern": "^b$"}},
            "choice": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer", "enum": [1, 2]}]},
        },
        "required": ["pattern", "nested", "choice"],
        "additionalProperties": False,
    }
    request = LLMRequest("profile", (), schema)
    assert request.portable_schema == {
        "type": "object",
        "properties": {
            "pattern": {"type": "string"},
            "nested": {"type": "array", "items": {"type": "string"}},
            "choice": {"anyOf": [{"type": "string"}, {"type": "integer", "enum": [1, 2]}]},
        },
        "required": ["pattern", "nested", "choice"],
        "additionalProperties": False,
    }
    assert schema["properties"]["pattern"]["pattern"] == "^a+$"  # the request's own schema is unchanged
    assert LLMRequest("profile", ()).portable_schema is None


def _sent_schemas(body: dict) -> tuple[object, str]:
    """The schema a Chat Completions or Responses body carries (None when it carries none), and its prompt."""
    if "response_format" in body:
        response_format = body["response_format"]
        schema = response_format.get("json_schema", {}).get("schema") or response_format.get("schema")
    elif "tools" in body:
        schema = body["tools"][0]["function"]["parameters"]
    elif "text" in body:
        schema = body["text"]["format"]["schema"]
    else:
        schema = None
    messages = body.get("messages") or body.get("input")
    return schema, messages[-1]["content"]


@pytest.mark.parametrize(
    ("api", "mode", "pattern_sent"),
    [
        ("chat", "json_schema", False),
        ("chat", "json_object_schema", True),
        ("chat", "json_object", False),
        ("chat", "tools", False),
        ("chat", "none", False),
        ("responses", "auto", False),
    ],
)
def test_only_the_grammar_mode_sends_the_pattern(tmp_path: Path, api: str, mode: str, pattern_sent: bool) -> None:
    request = _profile_request(update=True)
    with FakeOpenAIServer(lambda sent: FakeReply(content=ANSWER)) as server:
        config = make_config(tmp_path, name="openai", base_url=server.base_url, structured_output=mode, api=api)

        async def go():
            calls = layer(OpenAIBackend(config.backend), config)
            try:
                return await calls.call(request, VALIDATORS)
            finally:
                await calls.aclose()

        result = asyncio.run(go())
        body = server.requests[-1].json
    assert result.validation.ok, result.validation.problems
    schema, prompt = _sent_schemas(body)
    expected = dict(request.schema or {}) if pattern_sent else request.portable_schema
    if mode in ("json_object", "none"):
        assert schema is None and '"required":["profile","explanation"]' in prompt
    else:
        assert schema == expected
    assert ("pattern" in str(body)) is pattern_sent


def test_anthropic_tools_get_the_portable_schema(tmp_path: Path) -> None:
    request = _profile_request()
    with FakeAnthropicServer(lambda sent: FakeReply(content=ANSWER)) as server:
        config = make_config(tmp_path, name="anthropic", base_url=server.base_url)

        async def go():
            calls = layer(AnthropicBackend(config.backend, SecretStr(SECRET)), config)
            try:
                return await calls.call(request, VALIDATORS)
            finally:
                await calls.aclose()

        result = asyncio.run(go())
        (tool,) = server.requests[-1].json["tools"]
    assert result.validation.ok
    assert tool["input_schema"] == request.portable_schema and "pattern" not in str(tool)
