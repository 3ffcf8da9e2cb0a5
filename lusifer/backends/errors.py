"""Turning vendor SDK exceptions into Lusifer's, without leaking keys.

The OpenAI and Anthropic SDKs share one exception shape (``APIStatusError`` with ``status_code`` and
``response``; ``APIConnectionError`` and its subclass ``APITimeoutError`` for the network), so one
translation serves both. Messages pass through :func:`redact` because SDK errors may quote request
details.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lusifer.errors import BackendError, RetryableError

if TYPE_CHECKING:
    from pydantic import SecretStr

#: Statuses worth retrying besides 5xx: request timeout, conflict/lock, rate limit.
RETRYABLE_STATUSES = frozenset({408, 409, 429})

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s'\",]+"),
    re.compile(r"(?i)((?:x-)?api[-_]key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),
)


class RateLimitedError(RetryableError):
    """The server answered 429: retried like any :class:`RetryableError`, and counted as rate limited."""


def redact(text: str, secret: SecretStr | str | None = None) -> str:
    """``text`` with ``secret`` and anything that looks like an API key replaced by ``***``."""
    value = secret.get_secret_value() if secret is not None and not isinstance(secret, str) else secret
    if value:
        text = text.replace(value, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: (match.group(1) if match.groups() else "") + "***", text)
    return text


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if sent."""
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(float(value) / divisor, 0.0)
        except ValueError:
            pass
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        return max(moment.timestamp() - time.time(), 0.0)
    return None


def translate_sdk_error(error: Exception, vendor: str, secret: SecretStr | str | None) -> BackendError:
    """The Lusifer error for an OpenAI/Anthropic SDK exception (the caller raises it ``from None``)."""
    status = getattr(error, "status_code", None)
    detail = getattr(error, "message", None) or str(error) or type(error).__name__
    if status is None:  # connection error, timeout, or a response that could not be parsed
        return RetryableError(redact(f"{vendor}: {type(error).__name__}: {detail}", secret))
    message = redact(f"{vendor} API error {status}: {detail}", secret)
    response = getattr(error, "response", None)
    retry_after = retry_after_seconds(getattr(response, "headers", None))
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after)
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableError(message, retry_after=retry_after)
    return BackendError(message)
