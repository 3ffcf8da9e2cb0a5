"""Lusifer: simulate the users of a recommender system with large language models.

The kernel is small: it defines the plugin contracts (:mod:`lusifer.api.hookspecs`), loads plugins
(:mod:`lusifer.kernel.plugins`) and offers typed registries (:mod:`lusifer.kernel.registry`). Everything concrete —
domains, LLM backends, prompt templates, validators, evaluators — is registered by plugins, the
built-in ones included (:mod:`lusifer.default_plugins`).
"""

__version__ = "0.1.0"

from lusifer.api.errors import LusiferError
from lusifer.api.hookspecs import hookimpl

__all__ = ["LusiferError", "__version__", "hookimpl"]
