"""Lusifer's parts as a plugin's tests use them: the ``lusifer`` command in process, the call layer a run
puts around a backend, and the prompt builder a run of a domain renders with.

:func:`invoke_cli` is the one place below the CLI that imports it (``pyproject.toml`` names the
exception): a plugin's tests run the real commands, error handling included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from lusifer.api.settings import CacheConfig, LusiferConfig
from lusifer.engine.calls import CallLayer
from lusifer.engine.inputs import item_texts
from lusifer.engine.requests import RequestBuilder
from lusifer.engine.templates import template_environment
from lusifer.kernel.registry import get_domain
from lusifer.runs.session import call_settings

if TYPE_CHECKING:
    from click.testing import Result

    from lusifer.api.backend import Backend
    from lusifer.api.domain import Dataset
    from lusifer.api.exchange import Exchange


def invoke_cli(
    *arguments: str,
    input: str | None = None,
    env: Mapping[str, str | None] | None = None,
    catch_exceptions: bool = True,
) -> Result:
    """Run ``lusifer ARGUMENTS`` in this process, plugin commands included; the result has ``exit_code``
    and ``output`` (stdout and stderr). ``catch_exceptions=False`` lets a bug's traceback through."""
    from click.testing import CliRunner

    from lusifer.cli import cli, load_plugin_commands

    load_plugin_commands()
    return CliRunner().invoke(cli, list(arguments), input=input, env=env, catch_exceptions=catch_exceptions)


def call_layer(
    backend: Backend,
    config: LusiferConfig | None = None,
    on_exchange: Callable[[Exchange], None] | None = None,
    *,
    backoff_base: float = 0.01,
) -> CallLayer:
    """The call layer (cache, limits, retries, validation, cost, recording) a run of ``config`` puts around
    ``backend``; without ``config``, ``backend.config`` with the response cache off. Retries wait from
    ``backoff_base`` seconds (doubling, with jitter) after any ``Retry-After``. ``await layer.call(request,
    validators)`` answers a request; ``layer.stats`` counts; ``await layer.aclose()`` closes the backend."""
    if config is None:
        config = LusiferConfig(backend=backend.config, cache=CacheConfig(enabled=False))
    return CallLayer(backend, call_settings(config), on_exchange, backoff_base=backoff_base)


def request_builder(domain: str, dataset: Dataset, prompts_dir: Path | None = None) -> RequestBuilder:
    """The prompt builder a run of the registered ``domain`` on ``dataset`` uses (its templates, or those
    of ``prompts_dir``): ``.profile(...)`` and ``.feedback(...)`` render its requests."""
    registered = get_domain(domain)
    return RequestBuilder(registered, template_environment(prompts_dir), item_texts(dataset.items, registered))
