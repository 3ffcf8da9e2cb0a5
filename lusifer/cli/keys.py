"""``lusifer keys``: store API keys outside the project, in a 0600 file in the user dir."""

from __future__ import annotations

import click


@click.group(name="keys")
def keys_group() -> None:
    """Manage stored API keys (lookup: --key > stored key > environment variable)."""


@keys_group.command(name="set")
@click.argument("name")
@click.option("--value", hidden=True, help="The key (prefer the hidden prompt).")
def keys_set(name: str, value: str | None) -> None:
    """Store the key NAME (e.g. openai, anthropic, tmdb), asked for with a hidden prompt or read from a pipe.

    ``pass show openai | lusifer keys set openai`` reads the key from standard input's first line.
    """
    import sys

    from lusifer.api.errors import ConfigError
    from lusifer.keys import set_key

    if value is None and not sys.stdin.isatty():
        value = sys.stdin.readline().strip()
        if not value:
            raise ConfigError(f"no key for {name} on standard input (pipe the key, or run without a pipe)")
    if value is None:
        value = click.prompt(f"Enter key for {name}", hide_input=True)
    set_key(name, value)
    click.echo(f"Stored key '{name}'.")


@keys_group.command(name="list")
def keys_list() -> None:
    """List the names of stored keys (never their values)."""
    from lusifer.keys import stored_key_names

    for name in stored_key_names():
        click.echo(name)


@keys_group.command(name="path")
def keys_path_command() -> None:
    """Print where keys are stored."""
    from lusifer.keys import keys_path

    click.echo(str(keys_path()))


@keys_group.command(name="get")
@click.argument("name")
def keys_get(name: str) -> None:
    """Print the stored key NAME (for `export OPENAI_API_KEY=$(lusifer keys get openai)`)."""
    from lusifer.keys import stored_key

    click.echo(stored_key(name))


@keys_group.command(name="remove")
@click.argument("name")
def keys_remove(name: str) -> None:
    """Forget the stored key NAME."""
    from lusifer.keys import remove_key

    remove_key(name)
    click.echo(f"Removed key '{name}'.")
