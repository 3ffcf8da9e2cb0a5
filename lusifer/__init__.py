"""Lusifer: simulate the users of a recommender system with large language models.

The kernel is small: it defines the plugin contracts (:mod:`lusifer.hookspecs`), loads plugins
(:mod:`lusifer.plugins`) and offers typed registries (:mod:`lusifer.registry`). Everything concrete —
domains, LLM backends, prompt templates, validators, evaluators — is registered by plugins, the
built-in ones included (:mod:`lusifer.default_plugins`).
"""

__version__ = "0.1.0"

from lusifer.errors import LusiferError  # noqa: E402  (kept light: no heavy imports here)
from lusifer.hookspecs import hookimpl  # noqa: E402

__all__ = ["LusiferError", "__version__", "hookimpl"]
