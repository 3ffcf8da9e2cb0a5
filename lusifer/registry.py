"""Typed, cached lookups over what plugins registered, and the lifecycle-event facade.

Core code never calls the untyped ``pm.hook.*`` directly: it asks this module, e.g.
``get_domain("movies")`` or ``get_backend("openai")``. Each registry is built once per process.
"""

from __future__ import annotations

import difflib
import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from lusifer.errors import NotFoundError, PluginError
from lusifer.plugins import get_plugin_manager

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lusifer.backends.base import Backend
    from lusifer.domains.base import Domain
    from lusifer.evaluation.metrics import Evaluator
    from lusifer.exchange import Exchange
    from lusifer.run_info import RunInfo, RunSummary
    from lusifer.validation import Validator

T = TypeVar("T")


@dataclass(frozen=True)
class Registered(Generic[T]):
    """One registered object and the plugin that registered it."""

    name: str
    obj: T
    plugin: str


class Registry(Generic[T]):
    """Named objects of one kind (domain, backend, ...), with helpful errors for unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registered[T]] = {}

    def add(self, name: str, obj: T, plugin: str) -> None:
        """Add ``obj``; a name registered twice is an error naming both plugins."""
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin '{plugin}' registered a {self.kind} without a name: {obj!r}")
        previous = self._entries.get(name)
        if previous is not None:
            raise PluginError(
                f"{self.kind} '{name}' is registered twice: by plugin '{previous.plugin}' "
                f"and by plugin '{plugin}'; disable one with LUSIFER_DISABLE_PLUGINS"
            )
        self._entries[name] = Registered(name, obj, plugin)

    def get(self, name: str) -> T:
        """The object registered as ``name``; unknown names list what is installed."""
        entry = self._entries.get(name)
        if entry is None:
            raise NotFoundError(unknown_name_message(self.kind, name, self.names()))
        return entry.obj

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Registered[T]]:
        return [self._entries[name] for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    """``Unknown domain 'movis'. Did you mean 'movies'? Installed: movies, news.``"""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    installed = ", ".join(known) if known else "none"
    return f"Unknown {kind} '{name}'.{hint} Installed: {installed}."


def _trace(message: str) -> None:
    if os.environ.get("LUSIFER_TRACE_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}:
        print(f"lusifer trace: {message}", file=sys.stderr)


def _collect(hook_name: str, kind: str, name_of: Any = lambda obj: obj.name) -> Registry[Any]:
    """Call every implementation of a ``register_*`` hook, remembering which plugin gave what."""
    registry: Registry[Any] = Registry(kind)
    hook = getattr(get_plugin_manager().hook, hook_name)
    for implementation in reversed(hook.get_hookimpls()):  # built-ins first, then external plugins

        def register(obj: Any, *, _plugin: str = implementation.plugin_name) -> None:
            name = name_of(obj)
            _trace(f"{hook_name}: plugin '{_plugin}' registered {kind} '{name}'")
            registry.add(name, obj, _plugin)

        implementation.function(register=register)
    return registry


@functools.cache
def domains() -> Registry[Domain]:
    return _collect("register_domains", "domain")


@functools.cache
def backends() -> Registry[type[Backend]]:
    return _collect("register_backends", "backend")


@functools.cache
def validators() -> Registry[Validator]:
    return _collect("register_validators", "validator")


@functools.cache
def evaluators() -> Registry[Evaluator]:
    return _collect("register_evaluators", "evaluator")


@functools.cache
def template_dirs() -> tuple[Registered[Path], ...]:
    """Template directories, highest priority first: external plugins before built-ins."""
    from lusifer.plugins import BUILTIN_PLUGINS

    found: list[Registered[Path]] = []
    hook = get_plugin_manager().hook.register_prompt_templates
    for implementation in hook.get_hookimpls():
        implementation.function(
            register=lambda path, _plugin=implementation.plugin_name: found.append(
                Registered(str(path), Path(path), _plugin)
            )
        )
    return tuple(sorted(found, key=lambda entry: entry.plugin in BUILTIN_PLUGINS))


@functools.cache
def settings_models() -> Registry[type[BaseModel]]:
    """Pydantic models of the plugins' ``[plugins.<name>]`` configuration sections."""
    registry: Registry[type[BaseModel]] = Registry("settings section")
    hook = get_plugin_manager().hook.register_settings
    for implementation in reversed(hook.get_hookimpls()):
        implementation.function(
            register=lambda name, model, _plugin=implementation.plugin_name: registry.add(name, model, _plugin)
        )
    return registry


def get_domain(name: str) -> Domain:
    """The domain registered as ``name`` (e.g. ``movies``)."""
    return domains().get(name)


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as ``name`` (e.g. ``openai``)."""
    return backends().get(name)


def get_validator(name: str) -> Validator:
    return validators().get(name)


def get_evaluator(name: str) -> Evaluator:
    return evaluators().get(name)


def clear_registries() -> None:
    """Forget every cached registry (called by :func:`lusifer.plugins.clear_caches`)."""
    for cached in (domains, backends, validators, evaluators, template_dirs, settings_models):
        cached.cache_clear()


# Lifecycle events ---------------------------------------------------------------------------------


def emit_run_started(run: RunInfo) -> None:
    get_plugin_manager().hook.run_started(run=run)


def emit_exchange_recorded(exchange: Exchange) -> None:
    get_plugin_manager().hook.exchange_recorded(exchange=exchange)


def emit_run_finished(run: RunInfo, summary: RunSummary) -> None:
    get_plugin_manager().hook.run_finished(run=run, summary=summary)
