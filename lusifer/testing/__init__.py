"""Helpers and contract checkers for plugin authors.

- :func:`check_domain`, :func:`check_templates`, :func:`check_backend` and :func:`check_evaluator` (in
  :mod:`lusifer.testing.contracts`) check a plugin's objects against the kernel contracts, like
  Gymnasium's ``check_env``; ``lusifer plugins check NAME`` runs them on an installed plugin.
- :mod:`lusifer.testing.fake_servers` runs fake OpenAI- and Anthropic-protocol servers on loopback for
  testing backends and runs without network.
- :mod:`lusifer.testing.http` serves files (or any GET answer) on loopback, for testing downloads and
  HTTP data APIs.
- :func:`lusifer.testing.isolation.isolated_lusifer` keeps a test away from the real user's keys, cache,
  downloads and plugin settings.
"""

from lusifer.testing.contracts import check_backend, check_domain, check_evaluator, check_templates

__all__ = ["check_backend", "check_domain", "check_evaluator", "check_templates"]
