"""``lusifer templates list | show NAME | export DIR``: see the prompt templates a run uses, and copy them."""

from __future__ import annotations

from pathlib import Path

import click


def _templates() -> dict[str, str]:
    """Every visible template (``<domain>/<task>.j2``) with its text, as a run without --prompts-dir sees it."""
    from lusifer.engine.templates import template_environment

    environment = template_environment(None)
    loader = environment.loader
    assert loader is not None
    return {name: loader.get_source(environment, name)[0] for name in environment.list_templates(extensions=["j2"])}


def _named(name: str) -> tuple[str, str]:
    from lusifer.api.errors import NotFoundError
    from lusifer.kernel.registry import unknown_name_message

    templates = _templates()
    full = name if name.endswith(".j2") else f"{name}.j2"
    if full not in templates:
        raise NotFoundError(unknown_name_message("template", name, [key[:-3] for key in templates]))
    return full, templates[full]


@click.group(name="templates")
def templates_group() -> None:
    """The prompt templates (built-in and from plugins); copy them to start a --prompts-dir."""


@templates_group.command(name="list")
def list_templates() -> None:
    """Print every template as DOMAIN/TASK (default/TASK is the fallback of every domain)."""
    for name in _templates():
        click.echo(name[:-3])


@templates_group.command(name="show")
@click.argument("name")
def show_template(name: str) -> None:
    """Print the template NAME (e.g. movies/feedback)."""
    click.echo(_named(name)[1])


@templates_group.command(name="export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite templates already in FOLDER.")
def export_templates(folder: Path, force: bool) -> None:
    """Write every template to FOLDER/<domain>/<task>.j2, ready to edit and pass as --prompts-dir FOLDER."""
    from lusifer.api.errors import ConfigError

    templates = _templates()
    existing = [name for name in templates if (folder / name).exists()]
    if existing and not force:
        raise ConfigError(f"{folder} already holds {', '.join(existing[:3])}: pass --force to overwrite")
    for name, text in templates.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {len(templates)} templates to {folder}; run with --prompts-dir {folder}")
