"""The plugin guides show real code: excerpts in writing-plugins.md are the example plugins' source as it
is now, and the snippets of hooks.md run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "plugins"
BLOCK = re.compile(r"^( *)```(\w+)\n(.*?)^\1```$", re.DOTALL | re.MULTILINE)
ELISION = "..."


def _blocks(name: str, languages: set[str]) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return [match[3] for match in BLOCK.finditer(text) if match[2] in languages]


def _source_files() -> dict[Path, list[str]]:
    """Stripped non-blank lines of every source file of the example plugins."""
    files = {}
    for path in sorted((REPO / "plugins").glob("*/**/*")):
        if path.is_file() and path.suffix in {".py", ".j2", ".toml"}:
            files[path] = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return files


def _chunks(block: str) -> list[list[str]]:
    """The block's runs of lines between elisions (a line containing ``...``), stripped, blanks dropped."""
    chunks: list[list[str]] = [[]]
    for line in block.splitlines():
        if ELISION in line:
            chunks.append([])
        elif line.strip():
            chunks[-1].append(line.strip())
    return [chunk for chunk in chunks if chunk]


def _is_import(line: str) -> bool:
    return line.startswith(("from ", "import "))


def _found(chunk: list[str], lines: list[str]) -> bool:
    """The chunk's import lines anywhere in the file, its other lines one after another (imports aside)."""
    if not {line for line in chunk if _is_import(line)} <= set(lines):
        return False
    body = [line for line in chunk if not _is_import(line)]
    code = [line for line in lines if not _is_import(line)]
    return not body or any(code[i : i + len(body)] == body for i in range(len(code) - len(body) + 1))


@pytest.mark.parametrize("block", _blocks("writing-plugins.md", {"python", "toml", "jinja"}))
def test_writing_plugins_excerpts_are_the_plugins_code(block: str) -> None:
    files = _source_files()
    for chunk in _chunks(block):
        assert any(_found(chunk, lines) for lines in files.values()), f"not in any example plugin: {chunk[:3]}"


@pytest.mark.parametrize("block", _blocks("hooks.md", {"python"}))
def test_hooks_snippets_run_and_register(block: str) -> None:
    namespace: dict[str, object] = {}
    try:
        exec(compile(block, "hooks.md", "exec"), namespace)
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("lusifer_plugin_"):
            raise
        pytest.skip(f"{error.name} is not installed (the example plugins are installed in CI's second pass)")
    hooks = [value for value in namespace.values() if callable(value) and hasattr(value, "lusifer_impl")]
    assert hooks, "the snippet implements no hook"
    registered: list[object] = []
    for hook in hooks:
        hook(register=registered.append)
    assert registered
