"""Hiding credentials that are not API keys (URL passwords, secret query parameters, Basic auth).

Used for ``config.json``, the run store, error messages and the cache identity of a backend
(:meth:`lusifer.api.backend.Backend.identity`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters of a URL whose values are credentials.
SECRET_QUERY_PARAMETERS = frozenset(
    {"api_key", "api-key", "apikey", "key", "token", "access_token", "auth", "password", "secret", "sig", "signature"}
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,;:)]")
_BASIC_AUTH = re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{6,}")


def redact_url(url: str) -> str:
    """``url`` without credentials: ``user:password@`` and secret query values become ``***``.

    ``http://user:pass@host:8000/v1?api_key=sk-1&x=2`` -> ``http://***@host:8000/v1?api_key=***&x=2``.
    The endpoint identity (scheme, host, port, path, other parameters) is kept.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return url
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in SECRET_QUERY_PARAMETERS for name, _ in pairs):
            query = urlencode(
                [(name, "***" if name.lower() in SECRET_QUERY_PARAMETERS else value) for name, value in pairs],
                safe="*",
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_credentials(text: str) -> str:
    """``text`` with every URL passed through :func:`redact_url` and HTTP Basic credentials hidden.

    The one helper for credentials that are not API keys (keys have their own redaction): used for
    ``config.json``, the run store and error messages.
    """
    text = _URL.sub(lambda match: redact_url(match.group(0)), text)
    return _BASIC_AUTH.sub(lambda match: match.group(1) + "***", text)
