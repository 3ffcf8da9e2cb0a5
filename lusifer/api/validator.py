"""The validator contract: check a parsed answer against the request it answers.

The built-in validators and the JSON parsing live in :mod:`lusifer.engine.validation`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from lusifer.api.errors import LusiferError

if TYPE_CHECKING:
    from lusifer.api.backend import LLMRequest


class OutputError(LusiferError):
    """The model's answer holds no usable JSON object."""


@dataclass
class ValidationResult:
    """Accepted values, problems by key, and the repairs applied."""

    value: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Validator(ABC):
    """Checks a parsed answer for the tasks it names."""

    #: Unique name; domains list the validators they use by name.
    name: ClassVar[str]
    #: Tasks whose answers this validator checks.
    tasks: ClassVar[tuple[str, ...]]

    @abstractmethod
    def validate(self, data: Any, request: LLMRequest) -> ValidationResult:
        """Check ``data`` (parsed JSON) against what ``request`` asked for."""
