"""Loading plugins: external entry points (group ``lusifer``) first, built-ins last.

Environment variables:

- ``LUSIFER_LOAD_PLUGINS``: comma-separated allow-list of external plugins (empty: load none).
- ``LUSIFER_DISABLE_PLUGINS``: comma-separated names of external plugins not to load.
- ``LUSIFER_TRACE_PLUGINS=1``: print every hook call to stderr.
- ``LUSIFER_STRICT_PLUGINS=1``: a plugin that fails to load is an error instead of a warning.

Pluggy calls implementations last-registered-first, so built-ins answer before external plugins.
The manager is built once per process; :func:`lusifer.kernel.registry.clear_caches` forgets it (for tests).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass
from types import ModuleType

import pluggy

from lusifer.api import hookspecs
from lusifer.api.errors import PluginError

ENTRY_POINT_GROUP = "lusifer"

#: Built-in plugins, registered by the kernel exactly like external ones.
BUILTIN_PLUGINS: dict[str, str] = {
    "lusifer.movies": "lusifer.default_plugins.movies",
    "lusifer.backends": "lusifer.default_plugins.backends",
    "lusifer.validators": "lusifer.default_plugins.validators",
    "lusifer.evaluators": "lusifer.default_plugins.evaluators",
    "lusifer.templates": "lusifer.default_plugins.templates",
    "lusifer.commands": "lusifer.default_plugins.commands",
}


@dataclass(frozen=True)
class PluginFailure:
    """An external plugin that was not loaded, and why."""

    name: str
    error: str


_failures: list[PluginFailure] = []


def _env_names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def env_flag(variable: str) -> bool:
    """Whether a switch such as ``LUSIFER_STRICT_PLUGINS`` is on (``1``, ``true``, ``yes``, ``on``)."""
    return os.environ.get(variable, "").strip().lower() in {"1", "true", "yes", "on"}


def _unknown_hooks(plugin: ModuleType | object) -> list[str]:
    """Hook implementations of ``plugin`` that match no hookspec, with a did-you-mean hint."""
    known = hookspecs.hook_names()
    problems = []
    for attribute in dir(plugin):
        function = getattr(plugin, attribute, None)
        if callable(function) and hasattr(function, f"{hookspecs.PROJECT_NAME}_impl") and attribute not in known:
            close = difflib.get_close_matches(attribute, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"'{attribute}' is not a Lusifer hook{hint}")
    return problems


def _register_external(manager: pluggy.PluginManager, name: str, load: object) -> None:
    module = load() if callable(load) else load
    problems = _unknown_hooks(module)
    if problems:
        raise PluginError("; ".join(problems))
    try:
        manager.register(module, name=name)
    except pluggy.PluginValidationError as error:
        raise PluginError(str(error)) from error


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    allow = _env_names("LUSIFER_LOAD_PLUGINS")
    deny = _env_names("LUSIFER_DISABLE_PLUGINS") or set()
    strict = env_flag("LUSIFER_STRICT_PLUGINS")
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        name = entry_point.name
        if (allow is not None and name not in allow) or name in deny or manager.has_plugin(name):
            continue
        try:
            _register_external(manager, name, entry_point.load)
            distribution = getattr(entry_point, "dist", None)
            if distribution is not None:
                _distributions[name] = (distribution.metadata["Name"], distribution.version)
        except Exception as error:  # one broken plugin must not brick the CLI
            message = f"{type(error).__name__}: {error}"
            if strict:
                raise PluginError(f"plugin '{name}' failed to load: {message}") from error
            _failures.append(PluginFailure(name, message))
            print(
                f"lusifer: warning: plugin '{name}' failed to load ({message}); "
                f"disable it with LUSIFER_DISABLE_PLUGINS={name}",
                file=sys.stderr,
            )


_distributions: dict[str, tuple[str, str]] = {}


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager with external and built-in plugins registered."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    _load_entry_points(manager)
    for name, module_name in BUILTIN_PLUGINS.items():
        manager.register(importlib.import_module(module_name), name=name)
    manager.check_pending()
    if env_flag("LUSIFER_TRACE_PLUGINS"):
        manager.trace.root.setwriter(lambda message: print(message, end="", file=sys.stderr))
        manager.enable_tracing()
    return manager


def plugin_failures() -> list[PluginFailure]:
    """External plugins that failed to load in this process."""
    get_plugin_manager()
    return list(_failures)


def plugin_distribution(name: str) -> tuple[str, str] | None:
    """``(distribution name, version)`` of an external plugin, or None for built-ins."""
    get_plugin_manager()
    return _distributions.get(name)


def forget_plugin_manager() -> None:
    """Forget the plugin manager (:func:`lusifer.kernel.registry.clear_caches` also forgets the registries)."""
    get_plugin_manager.cache_clear()
    _failures.clear()
    _distributions.clear()
