"""Turning vendor SDK exceptions into Lusifer's, without leaking keys: one classification for all.

The OpenAI and Anthropic SDKs share one exception shape (``APIStatusError`` with ``status_code``,
``body`` and ``response``; ``APIConnectionError`` and its subclass ``APITimeoutError`` for the network),
so one translation serves both. :func:`classify` decides what a failure is from its status, its body
and the vendor's error type, in one place:

========================  ===============================================  ==========================
kind                      examples                                         what the call layer does
========================  ===============================================  ==========================
``rejected``              400, 404, 422; a 5xx whose body is a request      never retried unchanged:
                          validation error (``Input should be 'text'...``)  :class:`RequestRejectedError`
``auth``                  401, 403, an exhausted quota                      stops the run: :class:`AuthError`
``rate_limit``            429                                               retried, in-flight limit halved
``overloaded``            503, 529, ``overloaded_error``                    retried, in-flight limit halved
``transient``             other 5xx, 408, 409, timeouts, dropped            retried with backoff
                          connections, malformed bodies
========================  ===============================================  ==========================

Messages pass through :func:`redact` because SDK errors may quote request details.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from lusifer.api.errors import BackendError, LusiferError, RetryableError

if TYPE_CHECKING:
    from pydantic import SecretStr

#: Statuses worth retrying besides 5xx: request timeout, conflict/lock, rate limit.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
#: Statuses of a server that is busy rather than broken (Anthropic sends 529 when overloaded).
OVERLOADED_STATUSES = frozenset({503, 529})
#: Vendor error types (``error.type`` / ``error.code``) that say the request itself is at fault.
REJECTED_TYPES = frozenset(
    {"invalid_request_error", "BadRequestError", "literal_error", "not_found_error", "unsupported_value"}
)
#: Vendor error types that say the account, not the request, is at fault.
ACCOUNT_TYPES = frozenset({"insufficient_quota", "authentication_error", "permission_error", "invalid_api_key"})
#: What a server error body says when it is a request validation error (llama.cpp, FastAPI, vLLM).
_REJECTION_TEXT = re.compile(
    r"(?i)validation error|input should be|extra inputs are not permitted|field required|not supported"
    r"|unsupported|unrecognized (?:request )?argument|unknown (?:parameter|field)|invalid (?:value|request|type)"
)

#: Part of every rejected request's message, so that reports can tell "rerun" from "change the request".
REJECTED_ADVICE = "the server refused this request, so sending it again unchanged cannot help"

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s'\",]+"),
    re.compile(r"(?i)((?:x-)?api[-_]key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),
)


class ErrorKind(str, Enum):  # noqa: UP042 - str() stays "ErrorKind.X", as before
    """What a failed call was, and so whether and how it is tried again (see the module table)."""

    REJECTED = "rejected"
    AUTH = "auth"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    TRANSIENT = "transient"


class RateLimitedError(RetryableError):
    """The server answered 429: retried like any :class:`RetryableError`, and counted as rate limited."""


class OverloadedError(RetryableError):
    """The server is overloaded (503, 529): retried, and the in-flight limit is lowered like for a 429."""


class RequestRejectedError(BackendError):
    """The server refused this request's shape or content: sending it again unchanged cannot help.

    :param server_message: what the server said (redacted), for code that changes the request and tries
        again, e.g. a backend negotiating another ``structured_output`` mode.
    :param status: the HTTP status, when there was one.
    """

    def __init__(self, message: str, server_message: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.server_message = server_message
        self.status = status


class RunStoppedError(LusiferError):
    """Every further call would fail the same way: the run stops at the first one (completed work is kept).

    Not a :class:`BackendError`, so that nothing treats it as one failed item.
    """


class AuthError(RunStoppedError):
    """The key was refused (401, 403) or the account cannot pay: every further call would fail too."""


class ConnectFailedError(RetryableError):
    """No connection could be made to ``url`` (refused, unknown host, no network).

    The call layer retries it only once the endpoint has answered in this run (a server restarting);
    otherwise, or when the retries run out, it stops the run with :class:`EndpointUnreachableError`.
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class EndpointUnreachableError(RunStoppedError):
    """Nothing answers at the backend's URL: every call would fail, so the run stops once, naming it."""


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


def vendor_error(body: Any) -> tuple[str | None, str]:
    """The vendor's error type (``type`` or ``code``) and message from an error body, if it has them.

    Accepts OpenAI's ``{"error": {"message", "type", "code"}}`` (or its inner dict, as the SDK keeps it)
    and Anthropic's ``{"type": "error", "error": {"type", "message"}}``.
    """
    if not isinstance(body, Mapping):
        return None, str(body) if body else ""
    inner = body.get("error", body)
    if not isinstance(inner, Mapping):
        return None, str(inner)
    kinds = [inner.get(name) for name in ("code", "type")]
    kind = next((str(value) for value in kinds if isinstance(value, str) and value and value != "error"), None)
    return kind, str(inner.get("message") or inner.get("detail") or "")


def classify(status: int | None, message: str = "", vendor_type: str | None = None) -> ErrorKind:
    """What a failure is, from its HTTP status (None: no answer), its message or body text, and type."""
    if status is None:
        return ErrorKind.TRANSIENT
    if status in (401, 403) or vendor_type in ACCOUNT_TYPES:
        return ErrorKind.AUTH
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status in OVERLOADED_STATUSES or vendor_type == "overloaded_error":
        return ErrorKind.OVERLOADED
    if status in RETRYABLE_STATUSES:
        return ErrorKind.TRANSIENT
    if status >= 500 and vendor_type not in REJECTED_TYPES and not _REJECTION_TEXT.search(message):
        return ErrorKind.TRANSIENT
    return ErrorKind.REJECTED


def error_for(
    kind: ErrorKind,
    message: str,
    *,
    server_message: str = "",
    status: int | None = None,
    retry_after: float | None = None,
) -> BackendError | AuthError:
    """The exception for a failure of ``kind``; ``message`` is already redacted."""
    if kind is ErrorKind.REJECTED:
        change = "backend.structured_output, max_tokens, the model name or base URL"
        return RequestRejectedError(
            f"{message} ({REJECTED_ADVICE}: change what is sent: {change})", server_message, status
        )
    if kind is ErrorKind.AUTH:
        return AuthError(message)
    if kind is ErrorKind.RATE_LIMIT:
        return RateLimitedError(message, retry_after=retry_after)
    if kind is ErrorKind.OVERLOADED:
        return OverloadedError(message, retry_after=retry_after)
    return RetryableError(message, retry_after=retry_after)


def translate_sdk_error(error: Exception, vendor: str, secret: SecretStr | str | None) -> BackendError | AuthError:
    """The Lusifer error for an OpenAI/Anthropic SDK exception (the caller raises it ``from None``)."""
    status = getattr(error, "status_code", None)
    detail = getattr(error, "message", None) or str(error) or type(error).__name__
    if status is None:  # connection error, timeout, or a response that could not be parsed
        message = redact(f"{vendor}: {type(error).__name__}: {detail}", secret)
        url = _unreachable_url(error)
        return RetryableError(message) if url is None else ConnectFailedError(message, redact(url, secret))
    vendor_type, server_message = vendor_error(getattr(error, "body", None))
    kind = classify(status, f"{server_message} {detail}", vendor_type)
    response = getattr(error, "response", None)
    return error_for(
        kind,
        redact(f"{vendor} API error {status}: {detail}", secret),
        server_message=redact(server_message or detail, secret),
        status=status,
        retry_after=retry_after_seconds(getattr(response, "headers", None)),
    )


def _unreachable_url(error: Exception) -> str | None:
    """The URL (without credentials) that no connection could be made to, when ``error`` is that.

    The SDKs raise their connection error from the HTTP client's ``ConnectError`` (matched by name: an
    SDK may bundle its own copy of the HTTP client); a connection dropped later is another error.
    """
    from lusifer.api.redaction import redact_url

    if not any(kind.__name__ == "ConnectError" for kind in type(error.__cause__).__mro__):
        return None
    request = getattr(error, "request", None)
    return redact_url(str(request.url)) if request is not None else "the backend's URL"
