"""docs/plugins/reference.md is generated from the code and must match it."""

from __future__ import annotations

from pathlib import Path

from lusifer.api.hookspecs import hook_names
from lusifer.plugin_reference import render_reference

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "plugins" / "reference.md"


def test_reference_matches_the_code() -> None:
    expected = render_reference()
    assert REFERENCE.read_text(encoding="utf-8") == expected, (
        "docs/plugins/reference.md is out of date: run `python -m lusifer.plugin_reference > docs/plugins/reference.md`"
    )


def test_reference_lists_every_hook_signature_and_the_classes_plugins_use() -> None:
    text = render_reference()
    for hook in hook_names():
        assert f"### `{hook}`" in text and f"def {hook}(" in text
    classes = ("Domain", "Dataset", "FeedbackScale", "Backend", "LLMRequest", "LLMResponse", "Validator", "Evaluator")
    for name in classes:
        assert f"### `{name}`" in text
    assert "- `load(self, dataset: str, config: DataConfig) -> Dataset` (abstract: implement it)" in text
    assert "`brief(text: str, words: int = 40) -> str`" in text
    assert "check_domain(domain: Domain, dataset: str, config: DataConfig | None = None)" in text
