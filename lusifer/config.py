"""Configuration layering: defaults < ``lusifer.toml`` < ``LUSIFER_*`` env < CLI flags.

Environment variables address any key: ``LUSIFER_<SECTION>__<KEY>`` (e.g. ``LUSIFER_BACKEND__MODEL``)
or ``LUSIFER_<KEY>`` for top-level keys (``LUSIFER_SEED``). Process switches such as
``LUSIFER_DEBUG`` or ``LUSIFER_DATA_DIR`` are not configuration keys and are skipped here.
The sections themselves are the models of :mod:`lusifer.api.settings`; plugin sections
``[plugins.<name>]`` are checked against the models in ``plugin_models``, which the kernel passes
(:func:`lusifer.kernel.settings.load_config`, the loader everything else calls).
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lusifer.api.errors import ConfigError
from lusifer.api.settings import PLUGIN_MODELS, LusiferConfig, SettingsModels, renamed_keys_upgraded

_log = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "lusifer.toml"
ENV_PREFIX = "LUSIFER_"
#: ``LUSIFER_*`` variables that are process switches, not configuration keys.
PROCESS_VARIABLES = {
    "LOAD_PLUGINS",
    "DISABLE_PLUGINS",
    "TRACE_PLUGINS",
    "STRICT_PLUGINS",
    "DEBUG",
    "HOME",
    "DATA_DIR",
    "TEST_GGUF",  # the real-model tests' GGUF file (lusifer.testing.local_model)
    "REQUIRE_LOCAL_MODEL",
    "PROGRESS_INTERVAL",  # seconds between progress lines in logs (lusifer.runs.progress_lines)
    "REQUIRE_BROWSER",  # CI: the run explorer's browser test fails instead of skipping without Chromium
    "EXPLORER_SCREENSHOT",  # where the browser test saves its screenshot of the run explorer
    "SHARED_DIR",  # the tests' shared data folder (tests/conftest.py)
}


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file; a missing or malformed file is a ConfigError naming it."""
    try:
        with open(path, "rb") as handle:
            table: dict[str, Any] = tomllib.load(handle)  # tomli (Python 3.10) is untyped
            return table
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {error.start}: {error.reason}); save it as UTF-8"
        ) from None


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Configuration keys from ``LUSIFER_*`` variables, as a nested dict of strings."""
    environ = dict(os.environ) if environ is None else environ
    result: dict[str, Any] = {}
    for variable, value in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        key = variable[len(ENV_PREFIX) :]
        if key in PROCESS_VARIABLES or not key:
            continue
        *sections, leaf = key.lower().split("__")
        target = result
        for section in sections:
            target = target.setdefault(section, {})
        target[leaf] = _parse_env_value(value)
    return result


def _parse_env_value(value: str) -> Any:
    if value.startswith(("[", "{")):
        import json

        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; nested dicts merge, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    plugin_models: SettingsModels | None = None,
) -> LusiferConfig:
    """Build the configuration from all layers (no default dataset filled in: the kernel does that).

    :param config_file: explicit ``--config`` file; otherwise ``./lusifer.toml`` if it exists.
    :param overrides: values from CLI flags (highest priority), nested like the TOML file;
        ``None`` values are ignored so unset flags do not mask lower layers.
    :param environ: environment to read ``LUSIFER_*`` from (default: ``os.environ``).
    :param plugin_models: the models of the ``[plugins.*]`` sections; None leaves them unchecked.
    """
    layers: dict[str, Any] = {}
    if config_file is None and Path(DEFAULT_CONFIG_FILE).is_file():
        config_file = Path(DEFAULT_CONFIG_FILE)
    if config_file is not None:
        layers = renamed_keys_upgraded(read_toml(Path(config_file)), str(config_file))
    from_env = renamed_keys_upgraded(env_overrides(environ), "environment", ENV_PREFIX)
    layers = deep_merge(layers, from_env)
    flags = renamed_keys_upgraded(_drop_none(overrides or {}), "configuration")
    layers = deep_merge(layers, flags)
    try:
        return LusiferConfig.model_validate(layers, context={PLUGIN_MODELS: plugin_models})
    except ValidationError as error:
        raise ConfigError(_describe(error, config_file, from_env, flags)) from None


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _drop_none(value)
            if value:
                cleaned[key] = value
        elif value is not None:
            cleaned[key] = value
    return cleaned


def _describe(
    error: ValidationError,
    config_file: Path | None,
    from_env: dict[str, Any] | None = None,
    flags: dict[str, Any] | None = None,
) -> str:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        problem = f"{location}: {item['msg']}"
        variable = _env_variable(item["loc"], from_env or {}, flags or {})
        if variable is not None:
            problem += f" (set by {variable}={_leaf(item['loc'], from_env or {})!r})"
        problems.append(problem)
    source = f" (from {config_file}, LUSIFER_* variables or flags)" if config_file else ""
    return f"invalid configuration{source}: " + "; ".join(problems)


def _leaf(location: tuple[Any, ...], layer: dict[str, Any]) -> Any:
    value: Any = layer
    for part in location:
        if not isinstance(value, dict) or str(part) not in value:
            return None
        value = value[str(part)]
    return value


def _env_variable(location: tuple[Any, ...], from_env: dict[str, Any], flags: dict[str, Any]) -> str | None:
    """The ``LUSIFER_*`` variable that set the value at ``location`` (unless a flag overrode it)."""
    parts = [str(part) for part in location]
    for length in range(len(parts), 0, -1):  # the value itself, or the section it belongs to (unknown keys)
        prefix = tuple(parts[:length])
        if _leaf(prefix, from_env) is not None and _leaf(prefix, flags) is None:
            if isinstance(_leaf(prefix, from_env), dict):
                return None
            return ENV_PREFIX + "__".join(part.upper() for part in prefix)
    return None
