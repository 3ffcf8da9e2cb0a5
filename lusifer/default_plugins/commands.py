"""Registers the built-in CLI commands."""

from __future__ import annotations

import click

from lusifer.api.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    from lusifer.cli.data import data_group
    from lusifer.cli.evaluate import evaluate_command
    from lusifer.cli.inspect import backends_command, domains_command
    from lusifer.cli.keys import keys_group
    from lusifer.cli.logs import logs_command
    from lusifer.cli.models import models_command
    from lusifer.cli.plugins import plugin_group, plugins_group
    from lusifer.cli.report import report_command
    from lusifer.cli.run import estimate_command, merge_command, run_command, show_group
    from lusifer.cli.templates import templates_group
    from lusifer.cli.validate import validate_command

    commands = (
        run_command,
        estimate_command,
        merge_command,
        show_group,
        evaluate_command,
        report_command,
        plugins_group,
        plugin_group,
        domains_command,
        backends_command,
        keys_group,
        data_group,
        validate_command,
        templates_group,
        logs_command,
        models_command,
    )
    for command in commands:
        cli.add_command(command)
