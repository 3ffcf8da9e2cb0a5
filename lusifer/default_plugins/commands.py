"""Registers the built-in CLI commands."""

from __future__ import annotations

import click

from lusifer.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    from lusifer.cli.inspect import backends_command, domains_command, plugins_command
    from lusifer.cli.keys import keys_group
    from lusifer.cli.run import run_command, show_group

    for command in (run_command, show_group, plugins_command, domains_command, backends_command, keys_group):
        cli.add_command(command)
