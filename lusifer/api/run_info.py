"""What lifecycle hooks learn about a run, and the profile states a run stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunInfo:
    """A run's identity: id, output directory, configuration snapshot (no keys) and seed."""

    run_id: str
    out: Path
    config: dict[str, Any]
    seed: int


@dataclass
class RunSummary:
    """Counts at the end of a run."""

    users_done: int = 0
    users_failed: int = 0
    #: Users a budget stop left untouched or unfinished (resumed by a rerun with a larger budget).
    users_not_started: int = 0
    ratings: int = 0
    ratings_failed: int = 0
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.users_failed == 0 and self.ratings_failed == 0


@dataclass(frozen=True)
class ProfileState:
    """One stored profile: step 0 is the initial profile, each later step an update."""

    user_id: str
    step: int
    profile: str
    explanation: str
    item_ids: list[str]
    source: str = "history"
