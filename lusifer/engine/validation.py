"""Parse, validate and repair what a model answered.

:func:`parse_json` recovers a JSON object from the raw text (code fences and prose around it are
safe to strip, and raw control characters such as newlines inside strings are accepted). A
:class:`Validator` then checks the object against the request: it returns the
accepted values, the problems per key (so that only those are asked again) and the repairs it made.
Nothing is invented: a value that cannot be repaired safely is a problem, never a guess.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from lusifer.api.backend import LLMRequest
from lusifer.api.prompt_context import FeedbackContext, ProfileContext
from lusifer.api.settings import PROFILE_MAX_WORDS, PROFILE_MIN_WORDS
from lusifer.api.validator import OutputError, ValidationResult, Validator

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result and result[key] != value:
            result.setdefault("__duplicates__", []).append(key)
        result[key] = value
    return result


def _loads(candidate: str, repairs: list[str]) -> Any:
    """``json.loads``, falling back to a lenient parse that accepts raw newlines and tabs in strings."""
    try:
        return json.loads(candidate, object_pairs_hook=_reject_duplicates)
    except ValueError as error:
        if "control character" not in str(error):
            raise
    data = json.loads(candidate, object_pairs_hook=_reject_duplicates, strict=False)
    repairs.append("accepted raw control characters inside strings")
    return data


def parse_json(text: str) -> tuple[dict[str, Any], list[str]]:
    """The JSON object in ``text`` and the repairs needed to find it.

    Raises :class:`OutputError` when no object can be recovered.
    """
    repairs: list[str] = []
    candidate = text.strip()
    fenced = _FENCE.search(candidate)
    if fenced:
        candidate = fenced.group(1).strip()
        repairs.append("removed code fence")
    try:
        data = _loads(candidate, repairs)
    except ValueError:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start < 0 or end <= start:
            raise OutputError(f"no JSON object in the answer: {_preview(text)}") from None
        try:
            data = _loads(candidate[start : end + 1], repairs)
        except json.JSONDecodeError as error:
            raise OutputError(f"malformed JSON in the answer ({error.msg}): {_preview(text)}") from None
        repairs.append("removed text around the JSON object")
    if not isinstance(data, dict):
        raise OutputError(f"the answer is JSON but not an object: {_preview(text)}")
    return data, repairs


def _preview(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


def as_int(value: Any) -> int | None:
    """``4``, ``4.0`` and ``"4"`` are 4; anything else (3.5, "four", True) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.0+)?\s*", value):
        return int(float(value))
    return None


def feedback_context(request: LLMRequest) -> FeedbackContext:
    """The request's feedback context.

    :raises TypeError: the request carries none (a ``feedback`` request must be built by the request
        builder, or with a :class:`~lusifer.api.prompt_context.FeedbackContext`).
    """
    if not isinstance(request.context, FeedbackContext):
        raise TypeError(f"a '{request.task}' request needs a FeedbackContext, not {type(request.context).__name__}")
    return request.context


class FeedbackValidator(Validator):
    """Every requested item exactly once, an integer on the domain's scale, no unknown ids.

    Reads the request's :class:`~lusifer.api.prompt_context.FeedbackContext`: ``item_ids`` (the requested
    ids) and ``scale``. Accepts ``{"ratings": {id: value}}``
    as the schema asks, and repairs a bare ``{id: value}`` object or a list of
    ``{"item_id": .., "rating": ..}`` records.
    """

    name = "feedback"
    tasks = ("feedback",)

    def validate(self, data: Any, request: LLMRequest) -> ValidationResult:
        result = ValidationResult()
        context = feedback_context(request)
        expected = list(context.item_ids)
        low, high = context.scale.low, context.scale.high
        duplicates = set(data.pop("__duplicates__", []))
        answers = self._answers(data, result)
        duplicates |= set(answers.pop("__duplicates__", []))
        unknown = sorted(set(answers) - set(expected))
        if unknown:
            result.repairs.append(f"ignored unknown ids {unknown}")
        for item_id in expected:
            if item_id in duplicates:
                result.problems[item_id] = "answered more than once with different values"
            elif item_id not in answers:
                result.problems[item_id] = "missing from the answer"
            else:
                value = as_int(answers[item_id])
                if value is None:
                    result.problems[item_id] = f"not an integer: {answers[item_id]!r}"
                elif not low <= value <= high:
                    result.problems[item_id] = f"{value} is outside {low}..{high}"
                else:
                    if value != answers[item_id]:
                        result.repairs.append(f"converted {answers[item_id]!r} to {value}")
                    result.value[item_id] = value
        return result

    @staticmethod
    def _answers(data: dict[str, Any], result: ValidationResult) -> dict[str, Any]:
        ratings = data.get("ratings")
        if isinstance(ratings, dict):
            return {str(key): value for key, value in ratings.items()}
        if isinstance(ratings, list):
            result.repairs.append("read a list of records")
            records = {}
            for record in ratings:
                if isinstance(record, dict) and "item_id" in record:
                    records[str(record["item_id"])] = record.get("rating", record.get("value"))
            return records
        result.repairs.append("read ids at the top level")
        return {str(key): value for key, value in data.items()}


#: Words a profile needs unless ``validation.profile_min_words`` or the domain asks for more.
_MARKUP = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>|```")
_PLACEHOLDER = re.compile(r"\s*(?:<[^<>]{0,60}>|\[[^\[\]]{0,60}\]|\{[^{}]{0,60}\}|\.{3}|…)\s*")
_PLACEHOLDER_WORDS = frozenset({"profile", "updated profile", "one sentence", "n/a", "none", "todo", "tbd"})


_WORD = re.compile(r"\w+")
_YEAR_SUFFIX = re.compile(r" \d{4}$")


def _words(text: str) -> str:
    """``text`` lower-cased with punctuation dropped and spaces collapsed, for comparisons."""
    return " ".join(_WORD.findall(text.lower()))


class QuestionText:
    """The texts of ``request`` an answer must not merely repeat, normalised once (on first use) for all the
    texts of one answer: the titles of the rated items, and the prompt without the previous profile."""

    def __init__(self, request: LLMRequest) -> None:
        self.request = request
        self.context = request.context if isinstance(request.context, ProfileContext) else None

    @functools.cached_property
    def titles(self) -> set[str]:
        """The rated items' titles, with and without a trailing year."""
        titles = {_words(entry.title) for entry in self.context.batch} if self.context else set()
        return titles | {_YEAR_SUFFIX.sub("", title) for title in titles}

    @functools.cached_property
    def prompt(self) -> str:
        """The prompt's words, the previous profile (which an update may keep) cut out."""
        prompt = _words(" ".join(message.content for message in self.request.messages))
        previous = _words(self.context.previous_profile or "") if self.context else ""
        return prompt.replace(previous, " ") if previous else prompt

    def problem(self, text: str, min_words: int = 0) -> str | None:
        """Why ``text`` is not a real answer (see :func:`text_problem`), or None."""
        flat = _words(text)
        if _PLACEHOLDER.fullmatch(text) or flat in _PLACEHOLDER_WORDS:
            return f"{_preview(text, 40)} is the template's placeholder, not an answer: write the text itself"
        markup = _MARKUP.search(text)
        if markup:
            return f"contains markup ({markup.group(0)!r}): answer in plain text"
        if flat in self.titles:
            return f"{_preview(text, 40)} is the title of one rated item, not a description of the person's taste"
        if len(flat.split()) >= 3 and flat in self.prompt:
            return "repeats text of the question instead of answering it"
        count = len(text.split())
        if count < min_words:
            return f"too short ({count} words; at least {min_words} expected): describe the person's taste"
        return None


def text_problem(text: str, request: LLMRequest, min_words: int = 0) -> str | None:
    """Why ``text`` is not a real answer (placeholder, markup, an item title, a copy of the prompt,
    fewer than ``min_words`` words), or None when it has substance."""
    return QuestionText(request).problem(text, min_words)


class ProfileValidator(Validator):
    """A ``profile`` text with substance, and for updates a one-sentence ``explanation``.

    A profile must have at least the context's ``profile_min_words`` words (default
    :data:`PROFILE_MIN_WORDS`; the simulator sets it from ``validation.profile_min_words`` and the domain),
    must not be the template's placeholder (``<updated profile>``), markup (``<pre><code>``), the title
    of one rated item, or a copy of the question. Each problem is named, so the re-ask says what to fix.
    """

    name = "profile"
    tasks = ("profile", "profile_update")

    def validate(self, data: Any, request: LLMRequest) -> ValidationResult:
        result = ValidationResult()
        required = ("profile", "explanation") if request.task == "profile_update" else ("profile",)
        context = request.context
        min_words = context.profile_min_words if isinstance(context, ProfileContext) else PROFILE_MIN_WORDS
        question = QuestionText(request)
        for key in required:
            value = data.get(key)
            if not isinstance(value, str) or not value.strip():
                result.problems[key] = "missing or empty"
                continue
            problem = question.problem(value.strip(), min_words if key == "profile" else 0)
            if problem is None:
                result.value[key] = value.strip()
            else:
                result.problems[key] = problem
        if request.task == "profile" and isinstance(data.get("explanation"), str):
            result.value["explanation"] = data["explanation"].strip()
        return result


def feedback_schema(item_ids: list[str], low: int, high: int) -> dict[str, Any]:
    """JSON schema of a feedback answer for exactly these ids (usable as strict structured output)."""
    value = {"type": "integer", "enum": list(range(low, high + 1))}
    return {
        "type": "object",
        "properties": {
            "ratings": {
                "type": "object",
                "properties": {str(item_id): value for item_id in item_ids},
                "required": [str(item_id) for item_id in item_ids],
                "additionalProperties": False,
            }
        },
        "required": ["ratings"],
        "additionalProperties": False,
    }


#: A word of a profile answer as the schema's ``pattern`` admits it: no space, no control character, no
#: character of markup, placeholders or JSON escapes (``<>`[]{}"\``), so a grammar built from the schema
#: cannot produce what :func:`text_problem` refuses as markup or a placeholder; at most 30 characters,
#: so a grammar-constrained model cannot run on in one "word" (SmolLM2 wrote ``./1.2.3.1.1.1...``).
_PLAIN_WORD = r'[^ "\\<>`\[\]{}\x00-\x1F\x7F]{1,30}'
#: Most characters a word of the pattern takes with the space after it.
_PLAIN_WORD_CHARS = 31
#: Characters of a profile answer besides its words: the JSON keys, quotes and braces.
_PROFILE_JSON_CHARS = 40


def profile_words_within(max_tokens: int, min_words: int = PROFILE_MIN_WORDS) -> int:
    """Most profile words whose longest answer under :func:`profile_schema` fits in ``max_tokens`` tokens.

    A token holds at least one character, so an answer of at most ``max_tokens`` characters always ends
    before the limit: the bound for re-asking a grammar-constrained model whose answer was cut (words of
    junk can run a 120-word profile past any ``max_tokens``). Never below ``min_words``.
    """
    per_profile_word = _PLAIN_WORD_CHARS * 1.5  # an update's explanation has half as many words
    words = int((max_tokens - _PROFILE_JSON_CHARS) // per_profile_word)
    return max(min(words, PROFILE_MAX_WORDS), min_words)


def plain_text_pattern(min_words: int, max_words: int = PROFILE_MAX_WORDS) -> str:
    """The ``pattern`` of a plain text of ``min_words`` to ``max_words`` words, single spaces between them."""
    low = max(min_words, 1)
    return f"^{_PLAIN_WORD}( {_PLAIN_WORD}){{{low - 1},{max(max_words, low) - 1}}}$"


def profile_schema(
    with_explanation: bool, min_words: int = PROFILE_MIN_WORDS, max_words: int = PROFILE_MAX_WORDS
) -> dict[str, Any]:
    """JSON schema of a profile answer (``explanation`` required for updates).

    The strings carry a ``pattern`` (:func:`plain_text_pattern`: ``min_words`` to ``max_words`` words for the
    profile, 1 to half as many for the explanation) that servers building a grammar from the schema
    (llama-cpp-python) decode under, so that a weak model can only write what the validator accepts; vendors'
    strict modes get the schema without it (:attr:`~lusifer.api.backend.LLMRequest.portable_schema`).
    """
    properties = {"profile": {"type": "string", "pattern": plain_text_pattern(min_words, max_words)}}
    if with_explanation:
        properties["explanation"] = {"type": "string", "pattern": plain_text_pattern(1, max(max_words // 2, 1))}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
