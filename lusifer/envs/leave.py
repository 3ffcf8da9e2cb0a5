"""The user's own leave decision (``leave_decision="llm"``): after each step the simulated user says whether
they keep using the recommender or leave, with a short reason, as Agent4Rec's agents exit with a reason.

One extra request per step (task ``leave``, template ``leave.j2``, falling back to ``default/leave.j2``):
the profile, the slate with the ratings just given and what was picked. The answer is
``{"leave": true | false, "reason": "..."}``, checked by :class:`LeaveValidator`; an unusable answer is
asked again (``run.validation_retries``) and then reported, the step falling back to the rule.
The offline backend answers it with the documented rule: leave when nothing reached the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lusifer.api.backend import LLMRequest
from lusifer.api.errors import BackendError
from lusifer.api.prompt_context import LeaveContext, ShownItem
from lusifer.api.validator import ValidationResult, Validator
from lusifer.engine.validation import text_problem

if TYPE_CHECKING:
    from lusifer.engine.simulator import SimulatedUser, Simulator

#: ``leave_decision`` values: the documented rule (``patience``) or the user's own answer.
LEAVE_DECISIONS = ("rule", "llm")
#: The request task (and template name) of a leave decision.
LEAVE_TASK = "leave"
#: The longest reason accepted, in words.
MAX_REASON_WORDS = 30
_YES, _NO = frozenset({"true", "yes", "leave", "1"}), frozenset({"false", "no", "stay", "0"})


@dataclass(frozen=True)
class LeaveDecision:
    """Whether the user leaves now, and why in their words."""

    leave: bool
    reason: str


def leave_schema() -> dict[str, Any]:
    """JSON schema of a leave answer (usable as strict structured output)."""
    return {
        "type": "object",
        "properties": {"leave": {"type": "boolean"}, "reason": {"type": "string"}},
        "required": ["leave", "reason"],
        "additionalProperties": False,
    }


class LeaveValidator(Validator):
    """``leave`` a boolean (``"yes"``/``"no"``, ``"true"``/``"false"`` repaired) and ``reason`` a short text
    with substance (at most :data:`MAX_REASON_WORDS` words, not the template's placeholder)."""

    name = "leave"
    tasks = (LEAVE_TASK,)

    def validate(self, data: Any, request: LLMRequest) -> ValidationResult:
        result = ValidationResult()
        leave = data.get("leave")
        if isinstance(leave, str) and leave.strip().lower() in _YES | _NO:
            result.repairs.append(f"read {leave!r} as a boolean")
            leave = leave.strip().lower() in _YES
        if isinstance(leave, bool):
            result.value["leave"] = leave
        else:
            result.problems["leave"] = f"not true or false: {leave!r}"
        reason = data.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            result.problems["reason"] = "missing or empty"
        elif len(reason.split()) > MAX_REASON_WORDS:
            result.problems["reason"] = f"too long ({len(reason.split())} words; at most {MAX_REASON_WORDS})"
        else:
            problem = text_problem(reason.strip(), request)
            if problem is None:
                result.value["reason"] = reason.strip()
            else:
                result.problems["reason"] = problem
        return result


def leave_request(
    simulator: Simulator,
    user: SimulatedUser,
    ratings: dict[str, int | None],
    chosen: str | None,
    step: int,
    note: str | None,
) -> LLMRequest:
    """The leave question for ``user`` after a slate (``ratings``: every slate item, None when not rated)."""
    context = LeaveContext(
        user_id=user.user_id,
        user_info=user.user_info,
        scale=simulator.domain.scale,
        item_noun=simulator.domain.item_noun,
        note=note,
        profile=user.profile or "",
        items=tuple(
            ShownItem(item_id=item_id, title=simulator.items[item_id].title, rating=rating)
            for item_id, rating in ratings.items()
        ),
        chosen=simulator.items[chosen].title if chosen is not None else None,
        picked=chosen is not None,
        step=step,
        max_words=MAX_REASON_WORDS,
    )
    return simulator.requests.request(LEAVE_TASK, context, leave_schema(), LEAVE_TASK)


async def ask_leave(
    simulator: Simulator, user: SimulatedUser, ratings: dict[str, int | None], chosen: str | None, step: int
) -> LeaveDecision | str:
    """The user's decision, or why none could be obtained (a failed call or no valid answer)."""
    validators = [LeaveValidator()]
    note, problems = None, {"*": "no answer"}
    for _attempt in range(1 + simulator.config.run.validation_retries):
        request = leave_request(simulator, user, ratings, chosen, step, note)
        try:
            answer = await simulator.calls.call(request, validators, user_id=user.user_id)
        except BackendError as error:
            return f"call failed: {error}"
        validation = answer.validation
        if validation is not None and validation.ok:
            return LeaveDecision(bool(validation.value["leave"]), str(validation.value["reason"]))
        problems = validation.problems if validation is not None else problems
        described = "; ".join(f"{key}: {problem}" for key, problem in problems.items())
        note = f"Your previous answer was unusable ({described}). Answer with the JSON asked for."
    return "no valid answer (" + "; ".join(f"{key}: {problem}" for key, problem in problems.items()) + ")"
