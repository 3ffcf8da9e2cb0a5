"""``lusifer models``: each backend's default model and the models with a known price."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from lusifer.api.settings import Price


def _price(name: str, table: Mapping[str, Price]) -> str:
    from lusifer.engine.calls.costs import price_for

    price = price_for(name, table)
    return "price unknown" if price is None else f"${price.input:g} in / ${price.output:g} out per 1M tokens"


@click.command(name="models")
def models_command() -> None:
    """List each backend's default model, then every model with a known price (override with [prices])."""
    from lusifer.engine.calls.costs import DEFAULT_PRICES, PRICES_CHECKED
    from lusifer.kernel.registry import backends

    entries = backends().entries()
    table: dict[str, Price] = dict(DEFAULT_PRICES)
    for entry in entries:
        table.update(entry.obj.prices)
    click.echo("Default model of each backend (--backend NAME; --model picks another):")
    for entry in entries:
        model = entry.obj.default_model
        click.echo(f"  {entry.name:<12} {model or '(none)':<28} {_price(model, table)}")
    click.echo(f"Models with a known price (list prices checked {PRICES_CHECKED}; any other name also works):")
    for name in sorted(table):
        click.echo(f"  {name:<28} {_price(name, table)}")
