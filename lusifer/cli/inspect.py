"""``lusifer domains``, ``lusifer backends``: what is installed (``lusifer plugins``: :mod:`lusifer.cli.plugins`)."""

from __future__ import annotations

import click


@click.command(name="domains")
def domains_command() -> None:
    """List the installed domains, their datasets and feedback scale."""
    from lusifer.registry import domains

    for entry in domains().entries():
        domain = entry.obj
        scale = domain.scale
        click.echo(
            f"{entry.name:<12} {scale.kind} {scale.low}..{scale.high}  datasets: {', '.join(domain.datasets)}"
            f"  [{entry.plugin}]  {domain.description}"
        )


@click.command(name="backends")
def backends_command() -> None:
    """List the installed LLM backends."""
    from lusifer.registry import backends

    for entry in backends().entries():
        backend = entry.obj
        key = f"key: {backend.key_name}" if backend.key_name else "no key"
        click.echo(f"{entry.name:<12} {key:<16} [{entry.plugin}]  {backend.description}")
