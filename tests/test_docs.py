"""Docs as tests: every hook has a heading in docs/plugins/hooks.md and is exercised by a test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lusifer.api.hookspecs import hook_names
from lusifer.api.prompt_context import context_models

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


# docs/plugins/prompts.md documents every field of the typed prompt contexts and every filter -----------

PROMPTS_DOC = REPO / "docs" / "plugins" / "prompts.md"


def _prompt_doc_sections() -> dict[str, set[str]]:
    """The ``- `name``` entries under each heading, by the context classes the heading names."""
    import lusifer.api.prompt_context as contexts

    sections: dict[str, set[str]] = {}
    for heading, body in re.findall(r"^#{2,3} (.+)\n((?:(?!#{2,3} ).*\n?)*)", PROMPTS_DOC.read_text(), re.MULTILINE):
        for name in re.findall(r"`(\w+)`", heading):
            if isinstance(getattr(contexts, name, None), type):
                sections.setdefault(name, set()).update(re.findall(r"^- `(\w+)`", body, re.MULTILINE))
    return sections


def _fields(model: type) -> set[str]:
    return set(getattr(model, "__pydantic_fields__", {}))


@pytest.mark.parametrize("model", context_models(), ids=lambda model: model.__name__)
def test_every_prompt_context_field_is_documented(model: type) -> None:
    sections = _prompt_doc_sections()
    documented = set().union(*(sections.get(klass.__name__, set()) for klass in model.__mro__))
    missing = sorted(_fields(model) - documented)
    assert not missing, f"docs/plugins/prompts.md does not document {model.__name__} fields {missing}"


def test_documented_prompt_fields_exist() -> None:
    import lusifer.api.prompt_context as contexts

    for name, entries in _prompt_doc_sections().items():
        model = getattr(contexts, name)
        unknown = entries - _fields(model)
        assert not unknown, f"docs/plugins/prompts.md lists {sorted(unknown)} under {name}, which has no such field"


def test_every_template_filter_is_documented() -> None:
    import jinja2

    from lusifer.engine.templates import template_environment

    text = PROMPTS_DOC.read_text().split("## Filters", 1)[1].split("\n## ", 1)[0]
    own = set(template_environment().filters) - set(jinja2.Environment().filters)
    missing = sorted(name for name in own if f"- `{name}(" not in text)
    assert own and not missing, f"docs/plugins/prompts.md does not document the filters {missing}"


def test_docs_named_in_the_code_exist() -> None:
    named = {
        match
        for path in (REPO / "lusifer").rglob("*.py")
        for match in re.findall(r"docs/[\w/.-]+\.md", path.read_text(encoding="utf-8"))
    }
    assert named and not sorted(path for path in named if not (REPO / path).is_file())
