"""``lusifer domains``, ``lusifer backends``: what is installed (``lusifer plugins``: :mod:`lusifer.cli.plugins`)."""

from __future__ import annotations

import click


@click.command(name="domains")
def domains_command() -> None:
    """List the installed domains, their datasets and feedback scale."""
    from lusifer.kernel.registry import domains

    for entry in domains().entries():
        domain = entry.obj
        scale = domain.scale
        click.echo(
            f"{entry.name:<12} {scale.kind} {scale.low}..{scale.high}  datasets: {', '.join(domain.datasets)}"
            f"  [{entry.plugin}]  {domain.description}"
        )


@click.command(name="backends")
@click.option(
    "--probe", "probe_url", metavar="URL", help="Find the structured-output mode an OpenAI-compatible server accepts."
)
@click.option("--model", default="local", show_default=True, help="Model name sent with --probe.")
def backends_command(probe_url: str | None, model: str) -> None:
    """List the installed LLM backends, or probe an OpenAI-compatible server (--probe URL)."""
    from lusifer.kernel.registry import backends

    if probe_url:
        _probe(probe_url, model)
        return
    for entry in backends().entries():
        backend = entry.obj
        key = f"key: {backend.key_name}" if backend.key_name else "no key"
        click.echo(f"{entry.name:<12} {key:<16} [{entry.plugin}]  {backend.description}")


def _probe(url: str, model: str) -> None:
    """Negotiate structured output with ``url``, remember the mode and print what was tried."""
    import asyncio

    from lusifer.api.settings import BackendConfig
    from lusifer.engine.backends.negotiation import ModeStore
    from lusifer.engine.backends.openai_backend import probe_structured_output
    from lusifer.keys import find_key

    negotiator = asyncio.run(
        probe_structured_output(BackendConfig(name="openai", base_url=url, model=model), find_key("openai"))
    )
    for mode, reason in negotiator.rejections.items():
        click.echo(f"{mode:<20} rejected: {reason}")
    click.echo(f"{negotiator.mode:<20} accepted")
    click.echo(
        f"{negotiator.endpoint}: structured output '{negotiator.mode}' (remembered in {ModeStore.default().path})"
    )
