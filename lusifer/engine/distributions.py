"""Rating distributions: one probability per scale point instead of a single integer.

Where a distribution comes from depends on the backend (its ``distribution_method``):

- ``"model"`` (offline backend): the backend's own model puts a discretised normal around its
  unrounded prediction and answers it under ``"distributions"`` in the JSON.
- ``"logprobs"`` (OpenAI and compatible servers): the answer's tokens are read *token-aware*: the token
  holding each item's rating is located in the answer text, and its ``top_logprobs`` alternatives
  that spell a scale point (``"4"``, ``" 4"``, or with the same punctuation around it, ``"4}"``) are
  summed and renormalised; the mass outside the scale is reported. A rating split over two tokens
  (``"1"`` + ``"0"`` on a 1..10 scale) combines the first token's alternatives with the second's
  (the continuations of the chosen first token; other first tokens count as complete numbers). A
  rating over more tokens, or one whose tokens carry no alternatives, gets no distribution.
- ``"verbalised"`` (Anthropic): the model is asked for a probability per scale point in the JSON;
  each distribution must sum to 1 ± :data:`SUM_TOLERANCE`.

A logprobs server that returns no log-probabilities, or none with alternatives (it ignores
``logprobs`` or ``top_logprobs``), is detected on its first answer: :class:`DistributionReader` warns
once and switches the run's later requests to the verbalised method.

A distribution is a ``{scale point: probability}`` dict over every point of the scale.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lusifer.api.backend import LLMRequest, LLMResponse, Message
from lusifer.api.validator import OutputError
from lusifer.engine.validation import feedback_context, parse_json

log = logging.getLogger(__name__)

Distribution = dict[int, float]

#: The two output modes of a run (``run.feedback_output``).
OUTPUT_MODES = ("value", "distribution")
#: A verbalised distribution may miss 1 by this much (it is then renormalised).
SUM_TOLERANCE = 0.01
#: Alternatives asked of a logprobs backend per token (the most OpenAI allows).
TOP_LOGPROBS = 20
#: Answer tokens assumed per scale point of a verbalised distribution (``"4": 0.25,`` is 6-8 tokens in
#: OpenAI's and Anthropic's tokenizers), and for its id and braces; a pilot run's calibration replaces them.
TOKENS_PER_PROBABILITY = 6
TOKENS_PER_VERBALISED_ITEM = 4

VERBALISED_INSTRUCTION = (
    'Also give, for every id, the probability of each possible value under "distributions": '
    '{{"ratings": {{"<id>": <value>}}, "distributions": {{"<id>": {{{example}}}}}}}. '
    "The probabilities of one id must sum to 1."
)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def discretised_normal(mean: float, sd: float, points: Sequence[int]) -> Distribution:
    """A normal N(mean, sd²) binned onto ``points`` (bins of width 1, the end bins open)."""
    edges = [-math.inf, *(point + 0.5 for point in points[:-1]), math.inf]
    cdf = [0.0 if edge == -math.inf else 1.0 if edge == math.inf else _normal_cdf((edge - mean) / sd) for edge in edges]
    return {point: max(cdf[index + 1] - cdf[index], 0.0) for index, point in enumerate(points)}


def expected(distribution: Mapping[int, float]) -> float:
    """The mean of a distribution."""
    return sum(point * probability for point, probability in distribution.items())


def spread(distribution: Mapping[int, float]) -> float:
    """The standard deviation of a distribution."""
    mean = expected(distribution)
    return math.sqrt(max(sum(p * (point - mean) ** 2 for point, p in distribution.items()), 0.0))


def normalised(masses: Mapping[int, float], points: Sequence[int]) -> Distribution | None:
    """``masses`` over every point, scaled to sum to 1 (None when there is no mass at all)."""
    total = sum(masses.get(point, 0.0) for point in points)
    if total <= 0:
        return None
    return {point: masses.get(point, 0.0) / total for point in points}


# token log-probabilities -------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenDistribution:
    """A rating token's distribution and the share of its listed alternatives outside the scale."""

    distribution: Distribution
    outside_mass: float


_NUMBER = re.compile(r"(\D*?)(\d+)(\D*)")


def _digits(token: str) -> tuple[str, bool] | None:
    """The one digit run of ``token`` and whether it reaches the token's end (a number that may go on);
    None for a token with no digits or several runs."""
    match = _NUMBER.fullmatch(token)
    return (match[2], match[3] == "") if match else None


def _probabilities(alternatives: Iterable[Mapping[str, Any]]) -> list[tuple[str, float]]:
    return [(str(alternative["token"]), math.exp(float(alternative["logprob"]))) for alternative in alternatives]


def from_top_logprobs(
    alternatives: Iterable[Mapping[str, Any]],
    points: Sequence[int],
    continuation: Iterable[Mapping[str, Any]] | None = None,
    chosen: str | None = None,
) -> TokenDistribution | None:
    """Map a token's ``top_logprobs`` onto the scale: ``"4"``, ``" 4"`` and ``"4}"`` all count for 4.

    ``continuation``: the alternatives of the next token when the rating is split over two tokens;
    they extend the ``chosen`` first token's digits (``"1"`` + ``"0"`` is 10; ``"1"`` + ``","`` is 1).
    """
    masses: dict[int, float] = {}
    outside = 0.0
    following = _probabilities(continuation or [])
    total_following = sum(probability for _, probability in following)
    for token, probability in _probabilities(alternatives):
        number = _digits(token)
        if number is None:
            outside += probability
            continue
        digits, open_ended = number
        if open_ended and token == chosen and total_following > 0:
            values = []
            for next_token, next_probability in following:
                more = re.match(r"\d+", next_token)
                values.append((int(digits + more[0]) if more else int(digits), next_probability / total_following))
        else:
            values = [(int(digits), 1.0)]
        for value, share in values:
            if value in points:
                masses[value] = masses.get(value, 0.0) + probability * share
            else:
                outside += probability * share
    distribution = normalised(masses, points)
    if distribution is None:
        return None
    inside = sum(masses.values())
    return TokenDistribution(distribution, outside / (inside + outside))


def _value_spans(text: str, item_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Where each id's rating digits sit in the answer text (``"id": 4`` or ``"id": "4"``)."""
    spans = {}
    for item_id in item_ids:
        match = re.search(r'"' + re.escape(item_id) + r'"\s*:\s*"?(-?\d+)', text)
        if match:
            spans[item_id] = match.span(1)
    return spans


def from_logprobs(
    text: str, logprobs: Sequence[Mapping[str, Any]], item_ids: Iterable[str], points: Sequence[int]
) -> dict[str, TokenDistribution]:
    """Per item id, the distribution of the token(s) holding its rating (ids whose rating spans more than
    two tokens, shares a token with other digits, or has no alternatives are left out)."""
    tokens = [str(entry["token"]) for entry in logprobs]
    if "".join(tokens) != text:
        return {}
    starts, offset = [], 0
    for token in tokens:
        starts.append(offset)
        offset += len(token)

    def holding(position: int) -> int:
        return next(i for i, start in enumerate(starts) if start <= position < start + len(tokens[i]))

    result = {}
    for item_id, (begin, end) in _value_spans(text, item_ids).items():
        first, last = holding(begin), holding(end - 1)
        alternatives = logprobs[first].get("top")
        number = _digits(tokens[first])
        if not alternatives or number is None or last > first + 1:
            continue
        if last == first:
            parsed = from_top_logprobs(alternatives, points) if number[0] == text[begin:end] else None
        else:  # split over two tokens: the second's alternatives continue the first's digits
            continuation = logprobs[last].get("top")
            parsed = from_top_logprobs(alternatives, points, continuation, tokens[first]) if continuation else None
        if parsed is not None:
            result[item_id] = parsed
    return result


# verbalised distributions ------------------------------------------------------------------------


def from_verbalised(
    answer: Mapping[str, Any], item_ids: Iterable[str], points: Sequence[int]
) -> tuple[dict[str, Distribution], dict[str, str]]:
    """The ``"distributions"`` of a JSON answer, and a problem per id whose distribution is unusable."""
    given = answer.get("distributions")
    given = given if isinstance(given, Mapping) else {}
    result, problems = {}, {}
    for item_id in item_ids:
        entry = given.get(item_id)
        if not isinstance(entry, Mapping):
            problems[item_id] = "no distribution"
            continue
        try:
            masses = {int(point): float(probability) for point, probability in entry.items()}
        except (TypeError, ValueError):
            problems[item_id] = f"distribution is not numbers: {entry!r}"
            continue
        if set(masses) - set(points) or any(p < 0 for p in masses.values()):
            problems[item_id] = f"distribution has points off the scale or negative: {entry!r}"
        elif abs(sum(masses.values()) - 1.0) > SUM_TOLERANCE:
            problems[item_id] = f"distribution sums to {sum(masses.values()):.3f}, not 1"
        else:
            result[item_id] = normalised(masses, points) or {}
    return result, problems


def verbalised_answer_tokens(points: Sequence[int]) -> int:
    """Answer tokens a verbalised distribution adds per rated item (an estimate)."""
    return TOKENS_PER_VERBALISED_ITEM + TOKENS_PER_PROBABILITY * len(points)


def verbalised_request(request: LLMRequest) -> LLMRequest:
    """``request`` also asking for a probability per scale point and id (prompt and schema)."""
    context = feedback_context(request)
    points = context.scale.points
    example = ", ".join(f'"{point}": <p>' for point in points)
    instruction = VERBALISED_INSTRUCTION.format(example=example)
    messages = list(request.messages)
    last = messages[-1]
    messages[-1] = Message(last.role, f"{last.content}\n\n{instruction}")
    schema = None
    if request.schema is not None:
        schema = json.loads(json.dumps(request.schema))
        probability = {"type": "number", "minimum": 0, "maximum": 1}
        one = {
            "type": "object",
            "properties": {str(point): probability for point in points},
            "required": [str(point) for point in points],
            "additionalProperties": False,
        }
        ids = list(context.item_ids)
        schema["properties"]["distributions"] = {
            "type": "object",
            "properties": {item_id: one for item_id in ids},
            "required": ids,
            "additionalProperties": False,
        }
        schema["required"] = [*schema["required"], "distributions"]
    return replace(request, messages=tuple(messages), schema=schema)


def distribution_request(request: LLMRequest, method: str) -> LLMRequest:
    """A feedback request in distribution mode for a backend whose ``distribution_method`` is ``method``."""
    context = feedback_context(request).model_copy(
        update={"feedback_output": "distribution", "distribution_method": method}
    )
    if method == "verbalised":
        request = verbalised_request(request)
    return replace(request, context=context)


# reading a response ----------------------------------------------------------------------------------


#: Warning when a logprobs server gives no usable log-probabilities (the reader then falls back).
IGNORED_LOGPROBS = (
    "the server returned no {what} (it ignores them): these ratings have no distribution; "
    "the next requests ask for verbalised distributions instead"
)


@dataclass
class DistributionReader:
    """Reads the distributions out of feedback responses; warns once per kind of problem.

    ``method`` is what the next requests ask for (:func:`distribution_request`): it starts as the
    backend's ``distribution_method`` and becomes ``"verbalised"`` once a logprobs server proves to
    ignore ``logprobs`` or ``top_logprobs``.
    """

    method: str
    warned: set[str] = field(default_factory=set)

    def read(
        self, request: LLMRequest, response: LLMResponse | None, accepted: Iterable[str]
    ) -> dict[str, Distribution]:
        """Distributions of the ``accepted`` ids (ids without a usable one are left out)."""
        ids = [str(item_id) for item_id in accepted]
        if response is None or not ids:
            return {}
        context = feedback_context(request)
        points = context.scale.points
        if (context.distribution_method or self.method) == "logprobs":
            if not response.logprobs or not any(entry.get("top") for entry in response.logprobs):
                self._fall_back("logprobs" if not response.logprobs else "top_logprobs")
                return {}
            parsed = from_logprobs(response.text, response.logprobs, ids, points)
            if len(parsed) < len(ids):
                self._warn("some ratings were not one or two tokens with top_logprobs: those have no distribution")
            return {item_id: entry.distribution for item_id, entry in parsed.items()}
        try:
            answer, _ = parse_json(response.text)
        except OutputError:
            return {}
        distributions, problems = from_verbalised(answer, ids, points)
        if problems:
            self._warn(f"unusable distributions in the answer (e.g. {next(iter(problems.values()))})")
        return distributions

    def _fall_back(self, what: str) -> None:
        self.method = "verbalised"
        self._warn(IGNORED_LOGPROBS.format(what=what))

    def _warn(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            log.warning(message)
