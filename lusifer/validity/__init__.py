"""Validity checks: does the simulator reach the same conclusions as real users?

:func:`lusifer.validity.battery.validate` runs a battery of checks on held-out data — recommender-ranking
agreement, within-user ranking, distribution match, discrimination, profile-evolution gain,
invariances, contamination — each beside null controls, and :mod:`lusifer.validity.report` writes
``validity.md``, ``validity.csv`` and plots. Plugins add checks through ``register_validity_checks``.
"""
