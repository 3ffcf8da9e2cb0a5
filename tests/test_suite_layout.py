"""The test suite collects the same way under ``pytest`` and ``python -m pytest``."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_tests_import_their_helpers_by_module_name() -> None:
    """``from calls_helpers import ...`` (pytest puts ``tests/`` on the path either way), never ``tests.*``,
    which only ``python -m pytest`` can import."""
    pattern = re.compile(r"^(from|import) tests\b", re.MULTILINE)
    offenders = sorted(path.name for path in TESTS.glob("*.py") if pattern.search(path.read_text(encoding="utf-8")))
    assert not offenders, f"these test modules import helpers as tests.*: {offenders}"
