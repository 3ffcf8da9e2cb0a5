"""Typed, cached lookups over what plugins registered, and the lifecycle-event facade.

Core code never calls the untyped ``pm.hook.*`` directly: it asks this module, e.g.
``get_domain("movies")`` or ``get_backend("openai")``. Each registry is built once per process.
"""

from __future__ import annotations

import difflib
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from lusifer.api.errors import NotFoundError, PluginError
from lusifer.api.settings import provide_plugin_models
from lusifer.kernel.plugins import env_flag, forget_plugin_manager, get_plugin_manager

if TYPE_CHECKING:
    import click
    from pydantic import BaseModel

    from lusifer.api.backend import Backend
    from lusifer.api.domain import Domain
    from lusifer.api.evaluator import Evaluator
    from lusifer.api.exchange import Exchange
    from lusifer.api.run_info import RunInfo, RunSummary
    from lusifer.api.validator import Validator
    from lusifer.api.validity import ValidityCheck

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
    if env_flag("LUSIFER_TRACE_PLUGINS"):
        print(f"lusifer trace: {message}", file=sys.stderr)


@dataclass(frozen=True)
class RegistrationFailure:
    """A plugin whose ``register_*`` hook raised or passed the wrong kind of object; nothing it
    registered through that hook is kept."""

    plugin: str
    hook: str
    error: str


_failures: list[RegistrationFailure] = []


def registration_failures() -> list[RegistrationFailure]:
    """Failures of the registries built so far in this process (see :func:`build_all`)."""
    return list(_failures)


def _described(obj: object) -> str:
    """``the class BooksDomain``, ``an instance of Other``, ``the str 'magazines'``."""
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    if isinstance(obj, (str, bytes, int, float, Path)) or obj is None:
        return f"the {type(obj).__name__} {obj!r}"
    return f"an instance of {type(obj).__name__}"


def _fail_soft(plugin: str, hook_name: str, error: Exception) -> None:
    """Record a broken registration and warn, or raise under ``LUSIFER_STRICT_PLUGINS=1``."""
    message = str(error) if isinstance(error, PluginError) else f"{type(error).__name__}: {error}"
    if env_flag("LUSIFER_STRICT_PLUGINS"):
        raise PluginError(f"plugin '{plugin}' failed in {hook_name}: {message}") from error
    _failures.append(RegistrationFailure(plugin, hook_name, message))
    print(
        f"lusifer: warning: plugin '{plugin}' failed in {hook_name} ({message}); "
        f"nothing it registered there is used; disable it with LUSIFER_DISABLE_PLUGINS={plugin}",
        file=sys.stderr,
    )


def _call_register_hook(
    hook_name: str, check: Callable[..., Any], add: Callable[..., None], *, builtins_first: bool = True
) -> None:
    """Call every implementation of ``hook_name`` (built-ins first) with a type-checking ``register``.

    ``check(*args)`` returns the checked arguments or raises :class:`PluginError` saying what was
    expected. A plugin that raises or passes a wrong object is skipped with a warning (fail soft);
    what it registered before is dropped, so it never half-registers.
    """
    implementations = getattr(get_plugin_manager().hook, hook_name).get_hookimpls()
    for implementation in reversed(implementations) if builtins_first else implementations:
        plugin = implementation.plugin_name
        accepted: list[tuple[Any, ...]] = []

        def register(*args: Any, _accepted: list[tuple[Any, ...]] = accepted, **kwargs: Any) -> None:
            _accepted.append(check(*args, **kwargs))

        try:
            implementation.function(register=register)
        except Exception as error:  # one broken plugin must not brick the CLI
            _fail_soft(plugin, hook_name, error)
            continue
        for args in accepted:
            add(plugin, *args)


def _base(path: str) -> type:
    """The contract class at ``module:Name``, imported on first use (the registries stay import-light)."""
    import importlib

    module, _, name = path.partition(":")
    found: type = getattr(importlib.import_module(module), name)
    return found


def _hint(obj: object, base: type) -> str:
    """`` (register BooksDomain() instead)`` for a class where an instance is expected, and the reverse."""
    if isinstance(obj, type) and issubclass(obj, base):
        return f" (register {obj.__name__}() instead)"
    if isinstance(obj, base):
        return f" (register the class {type(obj).__name__} instead)"
    return ""


def _collect(hook_name: str, kind: str, base_path: str, *, wants_class: bool = False) -> Registry[Any]:
    """Build the registry of one ``register_*`` hook whose ``register`` takes one named object: an
    instance of the class at ``base_path`` (or, with ``wants_class``, a subclass of it)."""
    registry: Registry[Any] = Registry(kind)
    base = _base(base_path)
    dotted = base_path.replace(":", ".")
    expected = f"a subclass of {dotted} (the class itself)" if wants_class else f"an instance of {dotted}"

    def check(*args: Any, **kwargs: Any) -> tuple[Any]:
        if len(args) != 1 or kwargs:
            count = len(args) + len(kwargs)
            raise PluginError(f"{hook_name} called register with {count} arguments; expected {expected}")
        (obj,) = args
        fits = (isinstance(obj, type) and issubclass(obj, base)) if wants_class else isinstance(obj, base)
        if not fits:
            hint = "" if isinstance(obj, type) == wants_class else _hint(obj, base)
            raise PluginError(f"{hook_name} passed {_described(obj)}; expected {expected}{hint}")
        if not isinstance(getattr(obj, "name", None), str) or not obj.name:
            raise PluginError(f"{hook_name} passed a {kind} without a name ({_described(obj)}); set its 'name'")
        return (obj,)

    def add(plugin: str, obj: Any) -> None:
        _trace(f"{hook_name}: plugin '{plugin}' registered {kind} '{obj.name}'")
        registry.add(obj.name, obj, plugin)

    _call_register_hook(hook_name, check, add)
    return registry


@functools.cache
def domains() -> Registry[Domain]:
    return _collect("register_domains", "domain", "lusifer.api.domain:Domain")


@functools.cache
def backends() -> Registry[type[Backend]]:
    return _collect("register_backends", "backend", "lusifer.api.backend:Backend", wants_class=True)


@functools.cache
def validators() -> Registry[Validator]:
    return _collect("register_validators", "validator", "lusifer.api.validator:Validator")


@functools.cache
def evaluators() -> Registry[Evaluator]:
    return _collect("register_evaluators", "evaluator", "lusifer.api.evaluator:Evaluator")


def check_template_dir(path: object) -> Path:
    """``path`` as a folder laid out as ``<domain>/<task>.j2``; a missing or flat folder is a PluginError."""
    if not isinstance(path, (str, os.PathLike)):
        raise PluginError(f"register_prompt_templates passed {_described(path)}; expected a folder path")
    folder = Path(path)
    if not folder.is_dir():
        raise PluginError(f"register_prompt_templates passed {folder}, which is not a folder")
    if any(folder.glob("*.j2")) and not any(folder.glob("*/*.j2")):
        raise PluginError(
            f"register_prompt_templates passed {folder}, which holds templates directly; "
            "lay them out as <domain folder>/<task>.j2 and register the folder above"
        )
    return folder


@functools.cache
def template_dirs() -> tuple[Registered[Path], ...]:
    """Template directories, highest priority first: external plugins before built-ins."""
    from lusifer.kernel.plugins import BUILTIN_PLUGINS

    found: list[Registered[Path]] = []

    def check(*args: Any, **kwargs: Any) -> tuple[Path]:
        if len(args) != 1 or kwargs:
            raise PluginError(
                "register_prompt_templates called register with the wrong arguments; expected register(path)"
            )
        return (check_template_dir(args[0]),)

    _call_register_hook(
        "register_prompt_templates",
        check,
        lambda plugin, folder: found.append(Registered(str(folder), folder, plugin)),
        builtins_first=False,
    )
    return tuple(sorted(found, key=lambda entry: entry.plugin in BUILTIN_PLUGINS))


def _settings_check(*args: Any, **kwargs: Any) -> tuple[str, type[BaseModel]]:
    from pydantic import BaseModel

    expected = "register(section_name, model_class) with a pydantic BaseModel subclass"
    if len(args) + len(kwargs) != 2:
        shown = ", ".join([*(repr(arg) for arg in args), *(f"{key}={value!r}" for key, value in kwargs.items())])
        raise PluginError(f"register_settings called register({shown}); expected {expected}")
    name, model = (*args, *kwargs.values())
    if not isinstance(name, str) or not name:
        raise PluginError(f"register_settings passed {_described(name)} as the section name; expected {expected}")
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise PluginError(f"register_settings passed {_described(model)} for section '{name}'; expected {expected}")
    return name, model


@functools.cache
def settings_models() -> Registry[type[BaseModel]]:
    """Pydantic models of the plugins' ``[plugins.<name>]`` configuration sections."""
    registry: Registry[type[BaseModel]] = Registry("settings section")
    _call_register_hook(
        "register_settings", _settings_check, lambda plugin, name, model: registry.add(name, model, plugin)
    )
    return registry


def add_commands(cli: click.Group) -> None:
    """Let every plugin add its commands to ``cli`` (built-ins first); a plugin whose
    ``register_commands`` raises is skipped with a warning and the commands it added are removed."""
    for implementation in reversed(get_plugin_manager().hook.register_commands.get_hookimpls()):
        before = dict(cli.commands)
        try:
            implementation.function(cli=cli)
        except Exception as error:  # one broken plugin must not brick the CLI
            cli.commands.clear()
            cli.commands.update(before)
            _fail_soft(implementation.plugin_name, "register_commands", error)


def build_all() -> None:
    """Build every registry now (``lusifer plugins`` does, to report every registration failure)."""
    for build in (domains, backends, validators, evaluators, template_dirs, settings_models):
        build()


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


def registered_validity_checks() -> list[tuple[str, ValidityCheck]]:
    """``(plugin name, check)`` for every check plugins register through ``register_validity_checks``,
    in load order (the battery adds them after its built-in checks)."""
    found: list[tuple[str, ValidityCheck]] = []
    hook = get_plugin_manager().hook.register_validity_checks
    for implementation in reversed(hook.get_hookimpls()):

        def register(check: ValidityCheck, _plugin: str = implementation.plugin_name) -> None:
            found.append((_plugin, check))

        implementation.function(register=register)
    return found


def clear_registries() -> None:
    """Forget every cached registry (:func:`clear_caches` also forgets the plugin manager)."""
    for cached in (domains, backends, validators, evaluators, template_dirs, settings_models):
        cached.cache_clear()
    _failures.clear()


def clear_caches() -> None:
    """Forget the plugin manager and every registry built from it (tests use this)."""
    forget_plugin_manager()
    clear_registries()


# Lifecycle events ---------------------------------------------------------------------------------


def emit_run_started(run: RunInfo) -> None:
    get_plugin_manager().hook.run_started(run=run)


def emit_exchange_recorded(exchange: Exchange) -> None:
    get_plugin_manager().hook.exchange_recorded(exchange=exchange)


def exchange_recorder(on_exchange: Callable[[Exchange], None] | None = None) -> Callable[[Exchange], None]:
    """What a call layer calls with each exchange: ``on_exchange`` (the store, progress), then the
    ``exchange_recorded`` hook. The call layer itself never touches the plugin manager."""

    def record(exchange: Exchange) -> None:
        if on_exchange is not None:
            on_exchange(exchange)
        emit_exchange_recorded(exchange)

    return record


def emit_run_finished(run: RunInfo, summary: RunSummary) -> None:
    get_plugin_manager().hook.run_finished(run=run, summary=summary)


provide_plugin_models(settings_models)  # DataConfig().plugin_settings(name) finds the registered models
