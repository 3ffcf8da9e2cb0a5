"""API keys: ``keys.json`` (mode 0600) in the user dir, with an environment-variable fallback.

Lookup order: an explicit key (``--key``) > a stored key (``lusifer keys set NAME``) > the vendor's
environment variable (``OPENAI_API_KEY``, ...). Keys are returned as :class:`pydantic.SecretStr`
so that printing, logging or serialising them shows ``**********``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from lusifer.api.errors import KeyMissingError, LusiferError, NotFoundError
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


_warned_paths: set[Path] = set()


def _warn_if_readable_by_others(path: Path) -> None:
    """One warning per process when ``keys.json`` may be read by other users of the machine."""
    if os.name != "posix" or path in _warned_paths:
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        _warned_paths.add(path)
        print(
            f"lusifer: warning: {path} is readable by other users (mode {mode:o}); run: chmod 600 {path}",
            file=sys.stderr,
        )


def _read() -> dict[str, str]:
    path = keys_path()
    if not path.exists():
        return {}
    _warn_if_readable_by_others(path)
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
    _write(keys)


def _write(keys: dict[str, str]) -> None:
    """Replace the stored keys with ``keys`` (file mode 0600)."""
    path = keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=2, sort_keys=True)
    os.chmod(path, 0o600)


def stored_key(name: str) -> str:
    """The stored key ``name``; :class:`NotFoundError` naming the stored ones when absent."""
    keys = _read()
    if name not in keys:
        raise NotFoundError(f"no stored key '{name}' (stored: {', '.join(sorted(keys)) or 'none'})")
    return keys[name]


def remove_key(name: str) -> None:
    """Forget the stored key ``name`` (:class:`NotFoundError` when absent)."""
    keys = _read()
    stored_key(name)
    del keys[name]
    _write(keys)


def stored_key_names() -> list[str]:
    """Names of the stored keys (never their values)."""
    return sorted(_read())


def _variables(name: str, env_variables: Sequence[str]) -> tuple[str, ...]:
    if env_variables:
        return tuple(env_variables)
    return (ENV_VARIABLES[name],) if name in ENV_VARIABLES else ()


def find_key(name: str, explicit: str | SecretStr | None = None, env_variables: Sequence[str] = ()) -> SecretStr | None:
    """The key ``name`` by lookup order, or None.

    :param env_variables: variables to try in order after the stored key (default: the well-known one
        for ``name`` in :data:`ENV_VARIABLES`).
    """
    if explicit:
        return explicit if isinstance(explicit, SecretStr) else SecretStr(explicit)
    stored = _read().get(name)
    if stored:
        return SecretStr(stored)
    for variable in _variables(name, env_variables):
        if os.environ.get(variable):
            return SecretStr(os.environ[variable])
    return None


def require_key(name: str, explicit: str | SecretStr | None = None, env_variables: Sequence[str] = ()) -> SecretStr:
    """Like :func:`find_key`, but a missing key is an error saying how to provide one."""
    key = find_key(name, explicit, env_variables)
    if key is None:
        variables = _variables(name, env_variables)
        via_env = f" or set {' or '.join(variables)}" if variables else ""
        raise KeyMissingError(f"no API key for '{name}': run 'lusifer keys set {name}'{via_env}")
    return key


def key_source(name: str, key: SecretStr | None, env_variables: Sequence[str] = ()) -> str:
    """Where ``key`` (as :func:`find_key` found it) came from, for error messages; never the key itself."""
    if key is None:
        return "no key was sent"
    value = key.get_secret_value()
    if _read().get(name) == value:
        return f"the key stored with 'lusifer keys set {name}'"
    for variable in _variables(name, env_variables):
        if os.environ.get(variable) == value:
            return f"the environment variable {variable}"
    return "the --key option"
