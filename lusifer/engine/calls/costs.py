"""What calls cost: a default price table (USD per million tokens), overridable with ``[prices]``.

The defaults are the vendors' public list prices for standard (non-batch, uncached) usage as published
in March 2026; check https://openai.com/api/pricing and https://www.anthropic.com/pricing before
relying on them, and override a model in ``lusifer.toml``::

    [prices.gpt-4o-mini]
    input = 0.15
    output = 0.60

A dated model name (``gpt-4o-mini-2024-07-18``, ``claude-haiku-4-5-20251001``) uses the price of its
longest listed prefix. An unknown model costs 0.0, with one warning per model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lusifer.api.backend import Backend, Usage
from lusifer.api.settings import Price

#: When the default prices were last checked against the vendors' pricing pages.
PRICES_CHECKED = "2026-03"

DEFAULT_PRICES: dict[str, Price] = {
    name: Price(input=prices[0], output=prices[1])
    for name, prices in {
        # OpenAI
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4o": (2.50, 10.00),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "gpt-5": (1.25, 10.00),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5-nano": (0.05, 0.40),
        "o3": (2.00, 8.00),
        "o3-mini": (1.10, 4.40),
        "o4-mini": (1.10, 4.40),
        # Anthropic
        "claude-haiku-4-5": (1.00, 5.00),
        "claude-sonnet-4-5": (3.00, 15.00),
        "claude-sonnet-4-6": (3.00, 15.00),
        "claude-sonnet-4": (3.00, 15.00),
        "claude-opus-4-5": (5.00, 25.00),
        "claude-opus-4-6": (5.00, 25.00),
        "claude-opus-4-1": (15.00, 75.00),
        "claude-3-5-haiku": (0.80, 4.00),
        "claude-3-haiku": (0.25, 1.25),
        # Built-in
        "offline-content-bias-v1": (0.0, 0.0),
    }.items()
}

_log = logging.getLogger("lusifer.calls")
_warned: set[str] = set()


def price_table(backend: type[Backend] | Backend, configured: Mapping[str, Price]) -> dict[str, Price]:
    """Prices a run uses on top of the defaults: the backend's own, overridden by ``[prices]``."""
    return {**backend.prices, **configured}


def price_for(model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """The price of ``model``: an override, else the default of the model or its longest prefix."""
    for table in (overrides or {}, DEFAULT_PRICES):
        if model in table:
            return table[model]
        prefixes = [name for name in table if model.startswith(name + "-")]
        if prefixes:
            return table[max(prefixes, key=len)]
    return None


def cost(model: str, usage: Usage, overrides: Mapping[str, Price] | None = None) -> float:
    """USD for ``usage`` tokens of ``model`` (0.0 and a one-time warning for an unknown model)."""
    price = price_for(model, overrides)
    if price is None:
        if model not in _warned:
            _warned.add(model)
            _log.warning("no price known for model '%s': its cost counts as 0 (set [prices.\"%s\"])", model, model)
        return 0.0
    return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1_000_000
