"""``lusifer plugins`` (what is installed, what each registered, what failed), ``lusifer plugins check
NAME`` (the contract checkers on an installed plugin) and ``lusifer plugin new NAME`` (the scaffold)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lusifer.kernel.registry import RegistrationFailure, Registry


def _registered_by_plugin() -> dict[str, dict[str, list[Any]]]:
    """plugin name -> kind -> registered objects (names for templates), every registry built."""
    from lusifer.kernel import registry

    registry.build_all()
    found: dict[str, dict[str, list[Any]]] = {}
    kinds: dict[str, Registry[Any]] = {
        "domains": registry.domains(),
        "backends": registry.backends(),
        "validators": registry.validators(),
        "evaluators": registry.evaluators(),
        "settings": registry.settings_models(),
    }
    for kind, entries in kinds.items():
        for entry in entries.entries():
            found.setdefault(entry.plugin, {}).setdefault(kind, []).append(entry)
    for entry in registry.template_dirs():
        found.setdefault(entry.plugin, {}).setdefault("templates", []).append(entry)
    return found


@click.group(name="plugins", invoke_without_command=True)
@click.pass_context
def plugins_group(ctx: click.Context) -> None:
    """List plugins as JSON: package, version, hooks, what each registered, and what failed."""
    if ctx.invoked_subcommand is not None:
        return
    from lusifer.api.version import __version__
    from lusifer.kernel import registry
    from lusifer.kernel.plugins import get_plugin_manager, plugin_distribution, plugin_failures

    registered = _registered_by_plugin()
    errors: dict[str, list[dict[str, str]]] = {}
    for failure in registry.registration_failures():
        errors.setdefault(failure.plugin, []).append({"hook": failure.hook, "error": failure.error})
    manager = get_plugin_manager()
    plugins = []
    for name, plugin in sorted(manager.list_name_plugin(), key=lambda pair: str(pair[0])):
        distribution = plugin_distribution(name)
        plugins.append(
            {
                "name": name,
                "package": distribution[0] if distribution else "lusifer",
                "version": distribution[1] if distribution else __version__,
                "builtin": distribution is None,
                "hooks": sorted(caller.name for caller in manager.get_hookcallers(plugin) or []),
                "registered": {
                    kind: [entry.name for entry in entries] for kind, entries in registered.get(name, {}).items()
                },
                "errors": errors.get(name, []),
            }
        )
    failures = [{"name": failure.name, "error": failure.error} for failure in plugin_failures()]
    click.echo(json.dumps({"plugins": plugins, "failed": failures}, indent=2))


def _contract_checks(
    registered: dict[str, list[Any]], data_dir: Path | None, dataset: str | None, base_url: str | None
) -> Iterator[tuple[str, Callable[[], str]]]:
    """(label, check) pairs for what one plugin registered; a check returns a one-line summary."""
    from lusifer.api.settings import BackendConfig
    from lusifer.kernel.settings import load_config
    from lusifer.testing import check_backend, check_domain, check_evaluator, check_templates

    for entry in registered.get("domains", []):
        domain = entry.obj

        def domain_check(domain: Any = domain) -> str:
            name = dataset or (domain.datasets[0] if domain.datasets else "")
            data, split = check_domain(domain, name, load_config(overrides={"data": {"path": data_dir}}).data)
            check_templates(domain, data)
            return (
                f"{name}: {len(data.users)} users, {len(data.items)} items, {len(data.ratings)} ratings; "
                f"split {split.fold} {len(split.train)}/{len(split.test)}; prompts render"
            )

        yield f"domain {entry.name}", domain_check
    for entry in registered.get("backends", []):
        backend = entry.obj
        if base_url is None:
            yield f"backend {entry.name}", partial(_backend_class_summary, backend)
            continue

        def backend_check(backend: Any = backend) -> str:
            response = check_backend(backend, BackendConfig(name=backend.name, base_url=base_url))
            return f"answered with model {response.model!r}"

        yield f"backend {entry.name}", backend_check
    for entry in registered.get("evaluators", []):

        def evaluator_check(evaluator: Any = entry.obj) -> str:
            return f"{check_evaluator(evaluator):.4f} on a sample"

        yield f"evaluator {entry.name}", evaluator_check
    for entry in registered.get("templates", []):
        yield f"templates {entry.name}", lambda: "folder laid out as <domain>/<task>.j2"


def _backend_class_summary(backend: Any) -> str:
    """What can be checked of a backend class without calling a server."""
    import inspect

    from lusifer.api.backend import Backend

    assert issubclass(backend, Backend), "a backend must subclass lusifer.api.backend.Backend"
    assert not inspect.isabstract(backend), f"{backend.__name__} leaves abstract methods unimplemented"
    assert inspect.iscoroutinefunction(backend.acomplete), "acomplete must be an async def"
    key = f"key '{backend.key_name}'" if backend.key_name else "no key"
    return f"class ok ({key}, default model {backend.default_model!r}); pass --base-url URL to call a server"


@plugins_group.command(name="check")
@click.argument("name")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Unpacked dataset folder for the domain check.")
@click.option("--dataset", help="Dataset to load (default: each domain's first).")
@click.option("--base-url", help="Server to call the backends at (e.g. a local test server); else not called.")
def check_command(name: str, data_dir: Path | None, dataset: str | None, base_url: str | None) -> None:
    """Run the lusifer.testing contract checkers on everything plugin NAME registered."""
    from lusifer.api.errors import NotFoundError
    from lusifer.kernel import registry
    from lusifer.kernel.plugins import get_plugin_manager
    from lusifer.kernel.registry import unknown_name_message

    names = sorted(str(plugin_name) for plugin_name, _ in get_plugin_manager().list_name_plugin())
    if name not in names:
        raise NotFoundError(unknown_name_message("plugin", name, names))
    registered = _registered_by_plugin().get(name, {})
    failed: list[RegistrationFailure | Exception] = []
    for failure in registry.registration_failures():
        if failure.plugin == name:
            failed.append(failure)
            click.echo(f"FAIL  {failure.hook}: {failure.error}")
    checks = list(_contract_checks(registered, data_dir, dataset, base_url))
    for label, check in checks:
        try:
            click.echo(f"ok    {label}: {check()}")
        except Exception as error:  # report every check, then fail
            failed.append(error)
            click.echo(f"FAIL  {label}: {type(error).__name__}: {error}")
    if not checks and not failed:
        click.echo(f"plugin '{name}' registered nothing to check")
    if failed:
        raise SystemExit(1)


@click.group(name="plugin")
def plugin_group() -> None:
    """Write a new plugin package."""


@plugin_group.command(name="new")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["domain", "backend", "evaluator", "templates"]),
    default="domain",
    show_default=True,
    help="What the plugin provides.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to create (default: ./lusifer-plugin-NAME).",
)
def new_command(name: str, kind: str, out: Path | None) -> None:
    """Write an installable plugin package NAME: pyproject with the entry point, module, tests, README, CI."""
    from lusifer.scaffold import render_plugin

    target = render_plugin(name, kind, out)
    click.echo(f"Wrote {target}. Next: pip install -e {target} && pytest {target}")
