"""docs/architecture.md stays true: every module it lists exists, every package is listed, and the rows of
the layered core (api, kernel, engine, runs) name each of their modules; and plugins import only
``lusifer`` and ``lusifer.testing``."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lusifer"
#: Packages whose table row names every module they hold.
FULLY_LISTED = (
    "lusifer/api/",
    "lusifer/kernel/",
    "lusifer/engine/",
    "lusifer/engine/calls/",
    "lusifer/engine/backends/",
    "lusifer/runs/",
)


def _rows() -> dict[str, str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(lusifer/[^`]*)` \| (.*) \|$", text, flags=re.MULTILINE)
    assert rows, "the module table is missing"
    return dict(rows)


def _modules(package: Path) -> set[str]:
    names = {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    return names | {path.parent.name for path in package.glob("*/__init__.py")}


def test_every_listed_module_exists() -> None:
    for path in _rows():
        assert (ROOT / path).exists(), f"docs/architecture.md lists {path}, which does not exist"


def test_every_package_and_top_level_module_is_listed() -> None:
    listed = set(_rows())
    packages = {f"{path.parent.relative_to(ROOT)}/" for path in PACKAGE.rglob("__init__.py")} - {"lusifer/"}
    modules = {f"lusifer/{path.name}" for path in PACKAGE.glob("*.py") if path.stem not in ("__init__", "__main__")}
    assert not packages - listed, f"packages missing from docs/architecture.md: {sorted(packages - listed)}"
    assert not modules - listed, f"modules missing from docs/architecture.md: {sorted(modules - listed)}"


def test_the_core_rows_name_each_module_and_only_real_ones() -> None:
    rows = _rows()
    for path in FULLY_LISTED:
        named = set(re.findall(r"`([a-z_]+)`", rows[path]))
        actual = {name for name in _modules(ROOT / path) if f"{path}{name}/" not in rows}  # own row
        assert not actual - named, f"{path}: modules not described in docs/architecture.md: {sorted(actual - named)}"
        assert not named - actual, (
            f"{path}: docs/architecture.md names modules that do not exist: {sorted(named - actual)}"
        )


def test_plugins_import_only_lusifer_and_lusifer_testing() -> None:
    """Plugins (their source and their tests) see the kernel through ``lusifer`` and ``lusifer.testing`` only."""
    allowed = {"lusifer", "lusifer.testing"}
    files = sorted((ROOT / "plugins").rglob("*.py"))
    assert files, "no plugin files found"
    wrong = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if (name == "lusifer" or name.startswith("lusifer.")) and name not in allowed:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not wrong, "plugins may import only lusifer and lusifer.testing:\n" + "\n".join(wrong)
