"""The ``lusifer`` command-line interface (click).

Commands come from plugins through ``register_commands`` — the built-in ones too
(:mod:`lusifer.default_plugins.commands`). Importing this module stays light: vendor SDKs, pandas,
surprise and gymnasium are imported inside the commands that need them.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
from typing import Any

import click

from lusifer.api.errors import LusiferError
from lusifer.api.version import __version__


def debug_enabled() -> bool:
    return os.environ.get("LUSIFER_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


#: What to do about an operating-system error, by errno.
_OS_ADVICE = {
    errno.ENOSPC: "the disk is full: free space and rerun the same command (stored work is kept)",
    errno.EROFS: "the file system is read-only: choose a writable folder (e.g. --out)",
    errno.EACCES: "permission denied: choose a folder you can write (e.g. --out, or evaluate --out)",
    errno.EPERM: "operation not permitted: choose a folder you can write (e.g. --out, or evaluate --out)",
}


def one_line(error: BaseException) -> str | None:
    """The one-line message for an error the CLI reports instead of a traceback (None: a bug, re-raise)."""
    from lusifer.api.redaction import redact_credentials

    if isinstance(error, LusiferError):
        message = str(error)
    elif isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        advice = _OS_ADVICE.get(error.errno or 0, "fix the file or folder named and rerun")
        message = f"{where}{error.strerror or error} ({advice})"
    elif isinstance(error, sqlite3.DatabaseError):
        text = str(error)
        if "full" in text:
            advice = "the disk is full: free space and rerun (stored work is kept)"
        elif "readonly" in text or "read-only" in text:
            advice = "the folder is read-only: choose a writable one"
        else:
            advice = "a database file is damaged: use a new --out, or --no-cache for the response cache"
        message = f"SQLite: {text} ({advice})"
    else:
        return None
    return redact_credentials(message)


class LusiferGroup(click.Group):
    """A click group that turns expected errors into one line on stderr and exit code 1.

    Expected are :class:`LusiferError` (bad input, configuration, data) and the environment's own
    failures: a full disk, a read-only or unwritable folder, a damaged SQLite file. Messages pass
    through :func:`lusifer.api.redaction.redact_credentials`.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (LusiferError, OSError, sqlite3.DatabaseError) as error:
            message = one_line(error)
            if debug_enabled() or message is None:
                raise
            raise click.ClickException(f"{message} (LUSIFER_DEBUG=1 shows the traceback)") from None


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
    from lusifer.kernel.registry import add_commands

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
