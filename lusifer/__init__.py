"""Lusifer: simulate the users of a recommender system with large language models.

What a plugin author needs is importable from here (``from lusifer import Domain, Backend, hookimpl``):
the contracts of :mod:`lusifer.api` and the few helpers plugins share (data paths, downloads, keys,
vendor-error translation); Python callers find :func:`load_config`, :func:`open_session` and the Gymnasium
ids (:func:`register_envs`, :func:`env_id`) here too.
The layers behind them are described in ``docs/architecture.md``. Names outside the contracts are
imported on first use, so ``import lusifer`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lusifer.api.backend import Backend, LLMRequest, LLMResponse, Message, Usage
from lusifer.api.domain import CLICK, RATING_COLUMNS, STAR_RATING, Dataset, Domain, FeedbackScale, Split
from lusifer.api.errors import (
    BackendError,
    BudgetExceededError,
    ConfigError,
    DataError,
    KeyMissingError,
    LusiferError,
    NotFoundError,
    PluginError,
    RetryableError,
)
from lusifer.api.evaluator import Evaluator
from lusifer.api.exchange import Exchange
from lusifer.api.hookspecs import hookimpl
from lusifer.api.prompt_context import (
    CandidateItem,
    FeedbackContext,
    ItemFeatures,
    ItemView,
    LeaveContext,
    ProfileContext,
    PromptContext,
    RatedItem,
)
from lusifer.api.run_info import CallCounters, ProfileState, RunInfo, RunSummary
from lusifer.api.settings import BackendConfig, DataConfig, LusiferConfig, Price, Section
from lusifer.api.validator import OutputError, ValidationResult, Validator
from lusifer.api.validity import ValidityCheck, ValidityData
from lusifer.api.version import __version__
from lusifer.kernel import registry as _registry  # noqa: F401  (gives plugin_settings the registered models)

if TYPE_CHECKING:
    from lusifer.download import MARKER, unpacking_into
    from lusifer.download import download as download_file
    from lusifer.engine.backends.errors import (
        RETRYABLE_STATUSES,
        RateLimitedError,
        redact,
        retry_after_seconds,
        translate_sdk_error,
    )
    from lusifer.engine.validation import feedback_context
    from lusifer.envs import env_id, register_envs
    from lusifer.kernel.registry import unknown_name_message
    from lusifer.kernel.settings import load_config
    from lusifer.keys import find_key, require_key
    from lusifer.paths import data_cache_dir, user_dir
    from lusifer.runs.session import Session, open_session

#: Helpers imported on first use: name -> module.
_LAZY = {
    "MARKER": "lusifer.download",
    "download_file": "lusifer.download",  # not `download`: that name is the module lusifer.download
    "unpacking_into": "lusifer.download",
    "RETRYABLE_STATUSES": "lusifer.engine.backends.errors",
    "RateLimitedError": "lusifer.engine.backends.errors",
    "redact": "lusifer.engine.backends.errors",
    "retry_after_seconds": "lusifer.engine.backends.errors",
    "translate_sdk_error": "lusifer.engine.backends.errors",
    "feedback_context": "lusifer.engine.validation",
    "find_key": "lusifer.keys",
    "require_key": "lusifer.keys",
    "unknown_name_message": "lusifer.kernel.registry",
    "load_config": "lusifer.kernel.settings",
    "open_session": "lusifer.runs.session",
    "Session": "lusifer.runs.session",
    "env_id": "lusifer.envs",
    "register_envs": "lusifer.envs",
    "data_cache_dir": "lusifer.paths",
    "user_dir": "lusifer.paths",
}


#: Exported names that differ from the helper's own name.
_RENAMED = {"download_file": "download"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lusifer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


__all__ = [
    "CLICK",
    "MARKER",
    "RATING_COLUMNS",
    "RETRYABLE_STATUSES",
    "STAR_RATING",
    "Backend",
    "BackendConfig",
    "BackendError",
    "BudgetExceededError",
    "CallCounters",
    "CandidateItem",
    "ConfigError",
    "DataConfig",
    "DataError",
    "Dataset",
    "Domain",
    "Evaluator",
    "Exchange",
    "FeedbackContext",
    "FeedbackScale",
    "ItemFeatures",
    "ItemView",
    "KeyMissingError",
    "LLMRequest",
    "LLMResponse",
    "LeaveContext",
    "LusiferConfig",
    "LusiferError",
    "Message",
    "NotFoundError",
    "OutputError",
    "PluginError",
    "Price",
    "ProfileContext",
    "ProfileState",
    "PromptContext",
    "RateLimitedError",
    "RatedItem",
    "RetryableError",
    "RunInfo",
    "RunSummary",
    "Section",
    "Session",
    "Split",
    "Usage",
    "ValidationResult",
    "Validator",
    "ValidityCheck",
    "ValidityData",
    "__version__",
    "data_cache_dir",
    "download_file",
    "env_id",
    "feedback_context",
    "find_key",
    "hookimpl",
    "load_config",
    "open_session",
    "redact",
    "register_envs",
    "require_key",
    "retry_after_seconds",
    "translate_sdk_error",
    "unknown_name_message",
    "unpacking_into",
    "user_dir",
]
