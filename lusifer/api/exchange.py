"""One recorded LLM exchange: what was asked, what came back, what it cost. Never holds a key."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Exchange:
    """A call through the call layer, recorded for the run store and the lifecycle hooks."""

    task: str
    backend: str
    model: str
    messages: list[dict[str, str]]
    parameters: dict[str, Any]
    cache_key: str
    user_id: str | None = None
    raw_text: str | None = None
    parsed: dict[str, Any] | None = None
    problems: dict[str, str] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)
    error: str | None = None
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cache_hit: bool = False
    attempts: int = 0
    #: The provider batch that answered (batch mode, billed at the batch price), else None.
    batch_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
