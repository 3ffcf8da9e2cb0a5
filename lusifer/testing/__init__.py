"""Helpers and contract checkers for plugin authors.

- :func:`check_domain` and :func:`check_backend` (in :mod:`lusifer.testing.contracts`) check a plugin's
  objects against the kernel contracts, like Gymnasium's ``check_env``.
- :mod:`lusifer.testing.fake_servers` runs fake OpenAI- and Anthropic-protocol servers on loopback for
  testing backends and runs without network.
- :mod:`lusifer.testing.http` serves files (or any GET answer) on loopback, for testing downloads and
  HTTP data APIs.
- :func:`lusifer.testing.isolation.isolated_lusifer` keeps a test away from the real user's keys, cache,
  downloads and plugin settings.
"""

from lusifer.testing.contracts import check_backend, check_domain

__all__ = ["check_backend", "check_domain"]
