"""Docs as tests: every hook has a heading in docs/plugins/hooks.md and is exercised by a test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lusifer.api.hookspecs import hook_names

REPO = Path(__file__).resolve().parents[1]
HOOKS_DOC = REPO / "docs" / "plugins" / "hooks.md"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_documented(hook: str) -> None:
    headings = re.findall(r"^## (\w+)$", HOOKS_DOC.read_text(), flags=re.MULTILINE)
    assert hook in headings, f"docs/plugins/hooks.md has no '## {hook}' heading"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_test(hook: str) -> None:
    tests = [path for path in (REPO / "tests").glob("test_*.py") if path.name != Path(__file__).name]
    assert any(f"def {hook}(" in path.read_text() for path in tests), f"no test implements the hook {hook}"


def test_documented_hooks_exist() -> None:
    headings = re.findall(r"^## (\w+)$", HOOKS_DOC.read_text(), flags=re.MULTILINE)
    assert sorted(headings) == sorted(hook_names())
