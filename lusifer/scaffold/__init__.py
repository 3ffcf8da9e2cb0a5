"""``lusifer plugin new NAME --kind KIND``: write a complete, installable plugin package.

The package holds a ``pyproject.toml`` with the ``lusifer`` entry point, the module with its hook
implementations, tests using :mod:`lusifer.testing`, a README and a GitHub Actions workflow. Files are
rendered from the jinja2 templates in ``templates/<kind>/`` and ``templates/common/``; a domain also
gets the kernel's default prompt templates as a starting point and a small sample dataset.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from lusifer.api.errors import ConfigError
from lusifer.api.version import __version__

KINDS = ("domain", "backend", "evaluator", "templates")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
#: Generated path (``{module}`` and ``{name}`` filled in) -> template, per kind.
COMMON_FILES = {
    "pyproject.toml": "common/pyproject.toml.j2",
    "README.md": "common/README.md.j2",
    ".github/workflows/test.yml": "common/workflow.yml.j2",
    "tests/conftest.py": "common/conftest.py.j2",
}
KIND_FILES = {
    "domain": {
        "{module}/__init__.py": "domain/hooks.py.j2",
        "{module}/domain.py": "domain/domain.py.j2",
        "{module}/data/users.csv": "domain/users.csv.j2",
        "{module}/data/items.csv": "domain/items.csv.j2",
        "{module}/data/ratings.csv": "domain/ratings.csv.j2",
        "tests/test_{module}.py": "domain/test.py.j2",
    },
    "backend": {
        "{module}/__init__.py": "backend/hooks.py.j2",
        "{module}/backend.py": "backend/backend.py.j2",
        "tests/fake_chat_server.py": "backend/fake_chat_server.py.j2",
        "tests/test_{module}.py": "backend/test.py.j2",
    },
    "evaluator": {
        "{module}/__init__.py": "evaluator/hooks.py.j2",
        "{module}/metrics.py": "evaluator/metrics.py.j2",
        "tests/test_{module}.py": "evaluator/test.py.j2",
    },
    "templates": {
        "{module}/__init__.py": "templates/hooks.py.j2",
        "{module}/prompts/movies/system.j2": "templates/system.j2.j2",
        "tests/test_{module}.py": "templates/test.py.j2",
    },
}
#: Prompt tasks a new domain gets, copied from the kernel's ``default`` templates.
TASKS = ("system", "profile", "profile_update", "feedback")


def names(name: str) -> dict[str, str]:
    """The names derived from a plugin name (``books`` -> ``lusifer-plugin-books``, ``BooksDomain``)."""
    if not NAME_PATTERN.match(name):
        raise ConfigError(f"plugin name {name!r}: use lowercase letters, digits and single hyphens, e.g. 'books'")
    title = "".join(part.title() for part in name.split("-"))
    return {
        "name": name,
        "module": f"lusifer_plugin_{name.replace('-', '_')}",
        "distribution": f"lusifer-plugin-{name}",
        "title": title,
        "env_name": title,
        "lusifer_version": __version__,
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_plugin(name: str, kind: str, out: Path | None = None) -> Path:
    """Write the package of plugin ``name`` of ``kind`` into ``out`` (default ``./lusifer-plugin-NAME``)."""
    if kind not in KINDS:
        raise ConfigError(f"plugin kind {kind!r}: choose one of {', '.join(KINDS)}")
    context = {**names(name), "kind": kind}
    target = Path(out) if out is not None else Path(context["distribution"])
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} exists and is not empty; choose another --out")
    environment = _environment()
    for path, template in {**COMMON_FILES, **KIND_FILES[kind]}.items():
        destination = target / path.format(**context)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(environment.get_template(template).render(**context), encoding="utf-8")
    if kind == "domain":
        _copy_default_prompts(target / context["module"] / "prompts" / name)
    return target


def _copy_default_prompts(folder: Path) -> None:
    """The kernel's ``default`` templates, verbatim: they speak of ``item_noun`` and the scale."""
    import lusifer.prompts

    source = Path(lusifer.prompts.__file__).parent / "default"
    folder.mkdir(parents=True, exist_ok=True)
    for task in TASKS:
        (folder / f"{task}.j2").write_text((source / f"{task}.j2").read_text(encoding="utf-8"), encoding="utf-8")
