"""The one error hierarchy. The CLI prints ``str(error)`` as a single actionable line."""

from __future__ import annotations


class LusiferError(Exception):
    """Base class of every error Lusifer raises on purpose (bad input, configuration, plugins)."""


class ConfigError(LusiferError):
    """Invalid configuration: unknown keys, wrong types, unreadable config file."""


class PluginError(LusiferError):
    """A plugin failed to load, registered a duplicate name, or implements an unknown hook."""


class NotFoundError(LusiferError):
    """An unknown domain, backend, evaluator, dataset, user or item was asked for."""


class DataError(LusiferError):
    """A data file is missing or malformed; the message names the file and, where known, the line."""


class KeyMissingError(LusiferError):
    """An API key is needed but none was given, stored or found in the environment."""


class BackendError(LusiferError):
    """An LLM call failed for good (after retries) or a backend is misconfigured."""


class BudgetExceededError(LusiferError):
    """The run would exceed its ``--budget-usd`` limit; completed work is kept."""


class RetryableError(BackendError):
    """A failure worth retrying: rate limit (429), server error (5xx), timeout, dropped connection.

    Backends raise it from their SDK's exceptions; the call layer retries it with backoff and honours
    ``retry_after`` (seconds) when the server sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
