"""API keys: ``keys.json`` (mode 0600) in the user dir, with an environment-variable fallback.

Lookup order: an explicit key (``--key``) > a stored key (``lusifer keys set NAME``) > the vendor's
environment variable (``OPENAI_API_KEY``, ...). Keys are returned as :class:`pydantic.SecretStr`
so that printing, logging or serialising them shows ``**********``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import SecretStr

from lusifer.errors import KeyMissingError, LusiferError
from lusifer.paths import user_dir

#: Environment variable consulted for each well-known key name.
ENV_VARIABLES = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "tmdb": "TMDB_API_KEY",
}


def keys_path() -> Path:
    """Where stored keys live."""
    return user_dir() / "keys.json"


def _read() -> dict[str, str]:
    path = keys_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise LusiferError(f"{path} is not valid JSON; fix or delete it, then run 'lusifer keys set'") from None
    if not isinstance(data, dict):
        raise LusiferError(f"{path} must hold a JSON object of name -> key")
    return {str(name): str(value) for name, value in data.items()}


def set_key(name: str, value: str) -> None:
    """Store ``value`` as key ``name``; the file is created with mode 0600."""
    if not value.strip():
        raise LusiferError("refusing to store an empty key")
    keys = _read()
    keys[name] = value.strip()
    path = keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=2, sort_keys=True)
    os.chmod(path, 0o600)


def stored_key_names() -> list[str]:
    """Names of the stored keys (never their values)."""
    return sorted(_read())


def find_key(name: str, explicit: str | SecretStr | None = None, env_variable: str | None = None) -> SecretStr | None:
    """The key ``name`` by lookup order, or None."""
    if explicit:
        return explicit if isinstance(explicit, SecretStr) else SecretStr(explicit)
    stored = _read().get(name)
    if stored:
        return SecretStr(stored)
    variable = env_variable or ENV_VARIABLES.get(name)
    if variable and os.environ.get(variable):
        return SecretStr(os.environ[variable])
    return None


def require_key(name: str, explicit: str | SecretStr | None = None, env_variable: str | None = None) -> SecretStr:
    """Like :func:`find_key`, but a missing key is an error saying how to provide one."""
    key = find_key(name, explicit, env_variable)
    if key is None:
        variable = env_variable or ENV_VARIABLES.get(name)
        via_env = f" or set {variable}" if variable else ""
        raise KeyMissingError(f"no API key for '{name}': run 'lusifer keys set {name}'{via_env}")
    return key
