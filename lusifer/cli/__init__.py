"""The ``lusifer`` command-line interface (click).

Commands come from plugins through ``register_commands`` — the built-in ones too
(:mod:`lusifer.default_plugins.commands`). Importing this module stays light: vendor SDKs, pandas,
surprise and gymnasium are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from lusifer import __version__
from lusifer.errors import LusiferError


def debug_enabled() -> bool:
    return os.environ.get("LUSIFER_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


class LusiferGroup(click.Group):
    """A click group that turns a :class:`LusiferError` into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LusiferError as error:
            if debug_enabled():
                raise
            raise click.ClickException(f"{error} (LUSIFER_DEBUG=1 shows the traceback)") from None


@click.group(cls=LusiferGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lusifer")
def cli() -> None:
    """Lusifer: simulated users for recommender systems, powered by LLMs.

    Start with `lusifer run` (offline backend, no API key needed), then `lusifer evaluate RUN_DIR`.
    """


_commands_loaded = False


def load_plugin_commands() -> None:
    """Let every plugin add its commands to :data:`cli` (once per process)."""
    global _commands_loaded
    if _commands_loaded:
        return
    from lusifer.registry import add_commands

    add_commands(cli)
    _commands_loaded = True


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and ``python -m lusifer``."""
    try:
        load_plugin_commands()
    except LusiferError as error:
        if debug_enabled():
            raise
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    cli.main(args=argv, prog_name="lusifer")
