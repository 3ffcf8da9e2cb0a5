"""The plugin contract: every hook a Lusifer plugin can implement.

Registry hooks hand the plugin a ``register`` callable; the plugin calls it once per object it
provides and does nothing else. Built-in domains, backends, templates, validators and evaluators are
registered through these same hooks (see :mod:`lusifer.default_plugins`). Lifecycle hooks are events:
every implementation is called, return values are ignored.

Each hook has a heading in ``docs/plugins/hooks.md``; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click
    from pydantic import BaseModel

    from lusifer.api.backend import Backend
    from lusifer.api.domain import Domain
    from lusifer.api.evaluator import Evaluator
    from lusifer.api.exchange import Exchange
    from lusifer.api.run_info import RunInfo, RunSummary
    from lusifer.api.validator import Validator
    from lusifer.api.validity import ValidityCheck

PROJECT_NAME = "lusifer"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_domains(register: Callable[[Domain], None]) -> None:
    """Register domains: a domain loads a dataset's users, items and feedback and names its scale.

    :param register: call ``register(domain)`` with a :class:`lusifer.api.domain.Domain` instance;
        its ``name`` must be unique across all plugins.
    """


@hookspec
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register LLM backend classes (instantiated per run with their settings and API key).

    :param register: call ``register(backend_class)`` with a subclass of
        :class:`lusifer.api.backend.Backend`; its ``name`` must be unique across all plugins.
    """


@hookspec
def register_prompt_templates(register: Callable[[Path], None]) -> None:
    """Register a directory of jinja2 templates, laid out as ``<domain>/<task>.j2``.

    Templates from plugins override the built-in ones of the same name; a user's ``--prompts-dir``
    overrides both.

    :param register: call ``register(path)`` with a directory.
    """


@hookspec
def register_validators(register: Callable[[Validator], None]) -> None:
    """Register output validators that parse, check and repair what a model answered.

    :param register: call ``register(validator)`` with a :class:`lusifer.api.validator.Validator`.
    """


@hookspec
def register_evaluators(register: Callable[[Evaluator], None]) -> None:
    """Register metrics comparing simulated with true feedback (RMSE, AUC, ...).

    :param register: call ``register(evaluator)`` with a :class:`lusifer.api.evaluator.Evaluator`.
    """


@hookspec
def register_validity_checks(register: Callable[[ValidityCheck], None]) -> None:
    """Register checks that ``lusifer validate`` runs after the built-in battery.

    :param register: call ``register(check)`` with a :class:`lusifer.api.validity.ValidityCheck`;
        its ``name`` must be unique.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``lusifer`` command-line interface.

    :param cli: the top-level click group; call ``cli.add_command(...)`` or use ``@cli.command()``.
    """


@hookspec
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the pydantic model validating a plugin's ``[plugins.<name>]`` configuration section.

    :param register: call ``register(section_name, model_class)``.
    """


@hookspec
def run_started(run: RunInfo) -> None:
    """Called once when a simulation run starts (after its configuration is validated).

    :param run: the run's id, directory, configuration snapshot and seed.
    """


@hookspec
def exchange_recorded(exchange: Exchange) -> None:
    """Called after every LLM exchange of a run (including cache hits and failed calls).

    :param exchange: the recorded exchange: task, messages, model, raw text, parsed output,
        validation problems, latency, tokens, cost. It never holds an API key.
    """


@hookspec
def run_finished(run: RunInfo, summary: RunSummary) -> None:
    """Called once when a run ends, successfully or not.

    :param run: the same object passed to :func:`run_started`.
    :param summary: counts of users done and failed, calls, tokens, cost and cache hits.
    """


def hook_names() -> list[str]:
    """Names of all hooks in this contract, in definition order."""
    return [name for name, value in globals().items() if callable(value) and hasattr(value, "lusifer_spec")]


__all__: list[Any] = ["hook_names", "hookimpl", "hookspec"]
