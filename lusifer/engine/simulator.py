"""The simulated user: an evolving, explainable profile (phase 1) and feedback on items (phase 2).

:class:`Simulator` works on :class:`SimulatedUser` objects. Batch runs (:mod:`lusifer.runs.runner`)
call :meth:`Simulator.build_profiles` then :meth:`Simulator.rate`; online use (the RL environment) calls
:meth:`Simulator.simulate_feedback`, which also folds new feedback into the profile every
``run.refresh_every`` interactions, with an explanation, exactly like phase 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lusifer.api.errors import BackendError, BudgetExceededError, LusiferError
from lusifer.api.run_info import ProfileState
from lusifer.api.settings import PROFILE_MAX_WORDS
from lusifer.engine.calls.layer import CUT_AT_MAX_TOKENS
from lusifer.engine.distributions import DistributionReader, distribution_request
from lusifer.engine.ports import ProfileStore
from lusifer.engine.requests import CatalogueItem, Interaction, RequestBuilder
from lusifer.engine.templates import template_environment
from lusifer.engine.validation import profile_words_within
from lusifer.kernel.registry import get_validator

if TYPE_CHECKING:
    from lusifer.api.domain import Domain
    from lusifer.api.settings import LusiferConfig
    from lusifer.engine.calls import CallLayer


#: Profile text of a user with no history yet (cold start).
NO_PROFILE = "Nothing is known about this person's taste yet."
#: Start of the failure reason of items a budget stop left unasked.
NOT_STARTED = "not started"
#: In the failure reason of a profile step whose model repeated a refused answer (asking again cannot help).
REPEATED_ANSWER = "the model gave the same answer again when told why it was refused"


class ProfileError(LusiferError):
    """A profile step could not be obtained (the user cannot be simulated further)."""


@dataclass
class SimulatedUser:
    """A user's evolving state: feedback history and every profile state so far.

    Add feedback with :meth:`add` so that the running totals behind :meth:`stats` stay in step.
    """

    user_id: str
    user_info: str
    history: list[Interaction]
    profiles: list[ProfileState] = field(default_factory=list)
    pending: list[Interaction] = field(default_factory=list)
    _rating_sum: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rating_sum = float(sum(entry.rating for entry in self.history))

    @property
    def profile(self) -> str | None:
        """The latest profile text (None before phase 1)."""
        return self.profiles[-1].profile if self.profiles else None

    def add(self, interaction: Interaction) -> None:
        """Append new feedback to the history and to what the next profile refresh folds in."""
        self.history.append(interaction)
        self.pending.append(interaction)
        self._rating_sum += interaction.rating

    def stats(self) -> dict[str, float] | None:
        """Mean and count of the user's feedback so far (shown in the feedback prompt); O(1)."""
        if not self.history:
            return None
        return {"mean": round(self._rating_sum / len(self.history), 2), "count": len(self.history)}


@dataclass
class FeedbackResult:
    """Feedback on the requested items: values, and failed items with their reason."""

    ratings: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    profile_update: ProfileState | None = None
    #: Distribution mode: a probability per scale point of each rated item that has one.
    distributions: dict[str, dict[int, float]] = field(default_factory=dict)


class Simulator:
    """Simulates users of one domain through one call layer.

    :param items: text of every item that may appear in a prompt, by item id (string).
    :param community: ``{"mean", "count"}`` of the training slice's feedback per item id.
    :param store: where profile states are persisted as they complete (None: not persisted).
    """

    def __init__(
        self,
        domain: Domain,
        calls: CallLayer,
        config: LusiferConfig,
        items: dict[str, CatalogueItem],
        community: dict[str, dict[str, float]],
        store: ProfileStore | None = None,
    ) -> None:
        self.domain = domain
        self.calls = calls
        self.config = config
        self.items = items
        self.community = community
        self.store = store
        min_words = max(config.validation.profile_min_words, domain.profile_min_words)
        self.requests = RequestBuilder(domain, template_environment(config.prompts_dir), items, min_words)
        self.validators = [get_validator(name) for name in domain.validator_names()]
        self.distributions: DistributionReader | None = None
        if config.run.feedback_output == "distribution":
            self.distributions = DistributionReader(type(calls.backend).distribution_method)

    # phase 1 ------------------------------------------------------------------------------------
    async def build_profiles(self, user: SimulatedUser) -> None:
        """Build the profile from the history, one batch per step, resuming from stored steps."""
        size = self.config.data.profile_step_size
        batches = [user.history[start : start + size] for start in range(0, len(user.history), size)]
        if self.store is not None and not user.profiles:
            user.profiles = [state for state in self.store.profiles(user.user_id) if state.source == "history"]
        for step in range(len(user.profiles), len(batches)):
            await self._profile_step(user, batches[step], source="history")

    async def _profile_step(self, user: SimulatedUser, batch: list[Interaction], source: str) -> ProfileState:
        """One profile step, re-asked with the reason while the answer is unusable; a model that answers the
        JSON asked for with the same refused content twice is not asked again (the next re-ask would be the
        same request). A repeated answer that is not JSON at all may be a passing fault and is re-asked. An
        answer cut at the token limit is re-asked for a profile short enough to fit (a grammar-constrained
        model can fill any number of tokens with the words the schema admits)."""
        step = len(user.profiles)
        note = None
        refused: str | None = None
        max_words = PROFILE_MAX_WORDS
        for _attempt in range(1 + self.config.run.validation_retries):
            request = self.requests.profile(user.user_id, user.user_info, batch, user.profile, step, note, max_words)
            try:
                result = await self.calls.call(request, self.validators, user_id=user.user_id)
            except BackendError as error:
                raise ProfileError(f"profile step {step} of user {user.user_id}: {error}") from error
            validation = result.validation
            if validation is not None and validation.ok:
                explanation = validation.value.get("explanation") or f"Initial profile from {len(batch)} items."
                state = ProfileState(
                    user.user_id, step, validation.value["profile"], explanation, [e.item_id for e in batch], source
                )
                user.profiles.append(state)
                if self.store is not None:
                    self.store.add_profile(state)
                return state
            problems = validation.problems if validation is not None else {"*": "no answer"}
            if refused is not None and result.exchange.raw_text == refused and "*" not in problems:
                raise ProfileError(
                    f"profile step {step} of user {user.user_id}: no valid answer ({_describe(problems)}); "
                    f"{REPEATED_ANSWER}: try a larger model"
                )
            refused = result.exchange.raw_text
            note = "Your previous answer was unusable (" + _describe(problems) + "). Answer with the JSON asked for."
            if problems.get("*", "").startswith(CUT_AT_MAX_TOKENS):
                fits = profile_words_within(self.config.backend.max_tokens, self.requests.profile_min_words)
                max_words = min(max_words, fits)
                note = (
                    "Your previous answer was cut off at the token limit before its JSON ended. "
                    f"Answer with the JSON asked for, the profile in at most {max_words} words."
                )
        raise ProfileError(f"profile step {step} of user {user.user_id}: no valid answer ({_describe(problems)})")

    # phase 2 ------------------------------------------------------------------------------------
    async def rate(self, user: SimulatedUser, item_ids: list[str]) -> FeedbackResult:
        """The user's feedback on ``item_ids``, several items per call; never invents a value."""
        if user.profile is None and user.history:
            raise ProfileError(f"user {user.user_id} has no profile yet: build it first")
        result = FeedbackResult()
        size = self.config.run.items_per_call
        for start in range(0, len(item_ids), size):
            await self._rate_chunk(user, item_ids[start : start + size], result)
        return result

    async def _rate_chunk(self, user: SimulatedUser, chunk: list[str], result: FeedbackResult) -> None:
        remaining, problems, note = list(chunk), {}, None
        recent = user.history[-self.config.data.context_items :] if self.config.data.context_items else []
        stats = user.stats()
        for _attempt in range(1 + self.config.run.validation_retries):
            request = self.requests.feedback(
                user.user_id, user.user_info, user.profile or NO_PROFILE, recent, remaining, stats, self.community, note
            )
            if self.distributions is not None:
                request = distribution_request(request, self.distributions.method)
            try:
                answer = await self.calls.call(request, self.validators, user_id=user.user_id)
            except BackendError as error:
                result.failures.update({item_id: f"call failed: {error}" for item_id in remaining})
                return
            except BudgetExceededError as error:  # keep what earlier attempts and chunks answered
                result.failures.update({item_id: f"{NOT_STARTED}: {error}" for item_id in remaining})
                return
            validation = answer.validation
            accepted = validation.value if validation is not None else {}
            general = validation.problems.get("*") if validation is not None else "no answer"
            result.ratings.update({item_id: accepted[item_id] for item_id in remaining if item_id in accepted})
            if self.distributions is not None:
                taken = [item_id for item_id in remaining if item_id in accepted]
                result.distributions.update(self.distributions.read(request, answer.response, taken))
            problems = {
                item_id: (validation.problems.get(item_id) if validation else None) or general or "missing"
                for item_id in remaining
                if item_id not in accepted
            }
            remaining = [item_id for item_id in remaining if item_id not in accepted]
            if not remaining:
                return
            note = (
                f"Your previous answer had problems ({_describe(problems)}). "
                f"Give a value for exactly these ids: {', '.join(remaining)}."
            )
        result.failures.update(problems)

    # online use ---------------------------------------------------------------------------------
    async def simulate_feedback(self, user: SimulatedUser, item_ids: list[str]) -> FeedbackResult:
        """Feedback on new recommendations, appended to the user's history (see :meth:`observe`).

        A profile refresh that fails does not lose the feedback: it is reported in
        ``failures["profile"]`` and tried again with the next interactions.
        """
        result = await self.rate(user, item_ids)
        stopped = [reason for reason in result.failures.values() if reason.startswith(NOT_STARTED)]
        if stopped:  # online use stops at the budget as before
            raise BudgetExceededError(stopped[0][len(NOT_STARTED) + 2 :])
        feedback = {item: result.ratings[item] for item in item_ids if item in result.ratings}
        try:
            result.profile_update = await self.observe(user, feedback)
        except ProfileError as error:
            result.failures["profile"] = str(error)
        return result

    async def observe(self, user: SimulatedUser, feedback: dict[str, int]) -> ProfileState | None:
        """Append ``feedback`` to the history; every ``run.refresh_every`` new interactions, fold them
        into the profile with an explanation (returned; None when no refresh happened).

        :raises ProfileError: the refresh failed; the feedback is kept and folded in at the next refresh.
        """
        last_time = user.history[-1].timestamp if user.history else 0
        for offset, (item_id, value) in enumerate(feedback.items()):
            user.add(Interaction(item_id, value, last_time + offset + 1))
        if len(user.pending) < self.config.run.refresh_every:
            return None
        state = await self._profile_step(user, user.pending, source="online")
        user.pending = []
        return state


def _describe(problems: dict[str, str], limit: int = 5) -> str:
    shown = [f"{key}: {reason}" if key != "*" else reason for key, reason in list(problems.items())[:limit]]
    more = len(problems) - limit
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
