"""What lifecycle hooks learn about a run, the counters of its calls, and the profile states a run stores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class RunInfo:
    """A run's identity: id, output directory, configuration snapshot (no keys) and seed."""

    run_id: str
    out: Path
    config: dict[str, Any]
    seed: int


@dataclass
class CallCounters:
    """What LLM calls used: the call layer's totals, a run's (:attr:`RunSummary.counters`) and an RL
    step's (the ``info`` of ``step`` and ``reset``).

    The call layer counts every request it sent in ``calls`` (retries included); the environment counts
    its step's exchanges (cache hits included). ``retries``, ``errors``, ``rate_limited`` (429 answers)
    and ``timeouts`` are the call layer's diagnostics; :attr:`REPORTED` are the counters a run and a step
    report (``summary.json``, ``lusifer run``, the step ``info``).
    """

    #: The counters ``summary.json``, ``lusifer run`` and the environment's ``info`` report, in that order.
    REPORTED: ClassVar[tuple[str, ...]] = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd")

    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    rate_limited: int = 0
    timeouts: int = 0

    def add(self, other: CallCounters) -> None:
        """Add ``other``'s counts to these."""
        for name in _COUNTER_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self, names: Iterable[str] | None = None) -> dict[str, int | float]:
        """The counters by name: all of them, or ``names`` in that order (e.g. :attr:`REPORTED`)."""
        return {name: getattr(self, name) for name in (_COUNTER_NAMES if names is None else names)}


_COUNTER_NAMES = tuple(counter.name for counter in fields(CallCounters))


@dataclass
class RunSummary:
    """Counts at the end of a run (of this invocation, for a resumed run)."""

    users_done: int = 0
    users_failed: int = 0
    #: Users a budget stop left untouched or unfinished (resumed by a rerun with a larger budget).
    users_not_started: int = 0
    ratings: int = 0
    ratings_failed: int = 0
    #: What the run's calls used; ``calls``, ``cache_hits``, ... below read it.
    counters: CallCounters = field(default_factory=CallCounters)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.users_failed == 0 and self.ratings_failed == 0

    @property
    def calls(self) -> int:
        """Requests sent to the backend, retries included."""
        return self.counters.calls

    @property
    def cache_hits(self) -> int:
        return self.counters.cache_hits

    @property
    def prompt_tokens(self) -> int:
        return self.counters.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.counters.completion_tokens

    @property
    def cost_usd(self) -> float:
        return self.counters.cost_usd

    def counts(self) -> dict[str, int | float]:
        """The counts without ``failures`` (``summary.json``'s ``last_invocation``)."""
        users = ("users_done", "users_failed", "users_not_started", "ratings", "ratings_failed")
        return {**{name: getattr(self, name) for name in users}, **self.counters.as_dict(CallCounters.REPORTED)}


@dataclass(frozen=True)
class ProfileState:
    """One stored profile: step 0 is the initial profile, each later step an update."""

    user_id: str
    step: int
    profile: str
    explanation: str
    item_ids: list[str]
    source: str = "history"
