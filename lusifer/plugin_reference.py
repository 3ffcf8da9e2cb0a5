"""The plugin reference, generated from the code: ``python -m lusifer.plugin_reference > docs/plugins/reference.md``.

It lists every hook with its typed signature and docstring, every public class a plugin builds or
receives (fields, attributes with their ``#:`` comments, methods), the variables and filters prompt
templates get, the errors a plugin raises and the :mod:`lusifer.testing` helpers. A test compares
``docs/plugins/reference.md`` with this output, so the reference cannot drift from the code.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import importlib
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

#: (heading, intro, "module:Name" entries) of the class sections, in reference order.
CLASS_SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Domains",
        "A domain plugin subclasses `Domain` and returns `Dataset` and `Split` objects.",
        (
            "lusifer.api.domain:Domain",
            "lusifer.api.domain:FeedbackScale",
            "lusifer.api.domain:Dataset",
            "lusifer.api.domain:Split",
            "lusifer.api.settings:DataConfig",
        ),
    ),
    (
        "Backends",
        "A backend plugin subclasses `Backend`; Lusifer creates it with a `BackendConfig` and the key.",
        (
            "lusifer.api.backend:Backend",
            "lusifer.api.backend:LLMRequest",
            "lusifer.api.backend:Message",
            "lusifer.api.backend:LLMResponse",
            "lusifer.api.backend:Usage",
            "lusifer.api.settings:BackendConfig",
            "lusifer.api.settings:Price",
        ),
    ),
    (
        "Validators and evaluators",
        "",
        (
            "lusifer.api.validator:Validator",
            "lusifer.api.validator:ValidationResult",
            "lusifer.api.evaluator:Evaluator",
        ),
    ),
    (
        "Lifecycle events",
        "What `run_started`, `exchange_recorded` and `run_finished` receive.",
        (
            "lusifer.api.run_info:RunInfo",
            "lusifer.api.run_info:RunSummary",
            "lusifer.api.run_info:CallCounters",
            "lusifer.api.exchange:Exchange",
        ),
    ),
)
#: Kernel scales a domain can use as they are.
SCALES = ("STAR_RATING", "CLICK")
#: Errors a plugin raises (each a ``LusiferError``: the CLI prints it as one line).
ERRORS = (
    "LusiferError",
    "ConfigError",
    "DataError",
    "NotFoundError",
    "PluginError",
    "KeyMissingError",
    "BackendError",
    "RetryableError",
)
#: Helpers for plugin tests and downloads.
HELPERS = (
    "lusifer.testing.contracts:check_domain",
    "lusifer.testing.contracts:check_templates",
    "lusifer.testing.contracts:check_backend",
    "lusifer.testing.contracts:check_evaluator",
    "lusifer.testing.contracts:sample_feedback_context",
    "lusifer.testing.harness:invoke_cli",
    "lusifer.testing.harness:call_layer",
    "lusifer.testing.harness:request_builder",
    "lusifer.testing.isolation:isolated_lusifer",
    "lusifer.testing.http:serve_files",
    "lusifer.testing.fake_servers:FakeServer",
    "lusifer.testing.fake_servers:FakeOpenAIServer",
    "lusifer.testing.fake_servers:FakeAnthropicServer",
    "lusifer.testing.fake_servers:FakeReply",
    "lusifer.download:download",
    "lusifer.download:unpacking_into",
    "lusifer.paths:data_cache_dir",
    "lusifer.kernel.registry:unknown_name_message",
)


def _load(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


_ROLE = re.compile(r":(?:class|func|mod|meth|data|attr|exc):`(~?)([^`]+)`")


def _markdown(text: str) -> str:
    """reStructuredText inline markup as Markdown: ``x`` and :class:`~a.B` become `x` and `B`."""
    text = _ROLE.sub(lambda match: f"`{match[2].rsplit('.', 1)[-1] if match[1] else match[2]}`", text)
    return text.replace("``", "`")


def _own_doc(function: Any) -> str:
    """The first paragraph of a function's own docstring (not one inherited from a base class)."""
    paragraph = inspect.cleandoc(getattr(function, "__doc__", None) or "").split("\n\n")[0]
    return _markdown(" ".join(paragraph.split()))


def _doc(obj: Any) -> str:
    """The docstring as Markdown; ``:param x:`` lines become a bullet list, ``::`` blocks code fences."""
    text = inspect.getdoc(obj) or ""
    lines: list[str] = []
    in_code = False
    for line in text.splitlines():
        stripped = line.strip()
        if in_code:
            if line.startswith("    ") or not stripped:
                lines.append(line[4:])
                continue
            while lines and not lines[-1]:
                lines.pop()
            lines += ["```", ""]
            in_code = False
        if stripped.endswith("::"):
            lines += [_markdown(line[:-1]), "", "```python"]
            in_code = True
        elif stripped.startswith(":param "):
            name, _, rest = stripped[len(":param ") :].partition(":")
            lines.append(f"- `{name.strip()}`: {_markdown(rest.strip())}")
        elif lines and lines[-1].startswith("- ") and line.startswith("    "):
            lines[-1] += " " + _markdown(stripped)
        else:
            lines.append(_markdown(line))
    if in_code:
        while lines and not lines[-1]:
            lines.pop()
        lines.append("```")
    text = "\n".join(lines).strip()
    while "```python\n\n" in text:
        text = text.replace("```python\n\n", "```python\n")
    return text


def _signature(function: Callable[..., Any], name: str | None = None) -> str:
    signature = inspect.signature(function)
    return f"{name or function.__name__}{signature}".replace("'", "")


def _attribute_comments(cls: type) -> dict[str, str]:
    """``#:`` comments above the class-level assignments of ``cls`` (Sphinx's convention)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        above: list[str] = []
        index = node.lineno - 2
        while index >= 0 and lines[index].strip().startswith("#:"):
            above.insert(0, lines[index].strip()[2:].strip())
            index -= 1
        if above:
            comments[target.id] = " ".join(above)
    return comments


def _default(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return f"{type(value).__name__}(...)"
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    return repr(value)


def _annotations(cls: type) -> dict[str, str]:
    """Annotations of ``cls`` and its bases up to the first non-project class, as written."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("lusifer"):
            found.update({name: str(value) for name, value in vars(klass).get("__annotations__", {}).items()})
    return found


def _fields(cls: type) -> list[str]:
    """Rows ``name: type = default — comment`` for dataclass fields, pydantic fields or class attributes."""
    comments = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("lusifer"):
            comments.update(_attribute_comments(klass))
    rows = []
    if dataclasses.is_dataclass(cls):
        pydantic_fields = getattr(cls, "__pydantic_fields__", {})
        for item in dataclasses.fields(cls):
            info = pydantic_fields.get(item.name)
            if info is not None:  # a pydantic dataclass: defaults and descriptions live in its FieldInfo
                default = "" if info.is_required() else f" = {_default(info.get_default(call_default_factory=True))}"
                rows.append((item.name, f"{item.type}{default}", info.description or comments.get(item.name, "")))
                continue
            if item.default is not dataclasses.MISSING:
                default = f" = {_default(item.default)}"
            elif item.default_factory is not dataclasses.MISSING:
                default = f" = {_default(item.default_factory())}"
            else:
                default = ""
            rows.append((item.name, f"{item.type}{default}", comments.get(item.name, "")))
    elif hasattr(cls, "model_fields"):
        for name, info in cls.model_fields.items():
            annotation = _annotations(cls).get(name, "")
            default = "" if info.is_required() else f" = {_default(info.get_default(call_default_factory=True))}"
            rows.append((name, f"{annotation}{default}", info.description or comments.get(name, "")))
    else:
        for name, annotation in _annotations(cls).items():
            if name.startswith("_"):
                continue
            value = getattr(cls, name, inspect.Parameter.empty)
            default = "" if value is inspect.Parameter.empty else f" = {_default(value)}"
            rows.append((name, f"{annotation}{default}", comments.get(name, "")))
    return [f"- `{name}: {kind}`" + (f" — {_markdown(comment)}" if comment else "") for name, kind, comment in rows]


def _methods(cls: type) -> Iterator[str]:
    """Public methods and properties (cached ones too) defined by ``cls`` itself (not inherited from elsewhere)."""
    for name, member in vars(cls).items():
        if name.startswith("_") and name != "__call__":
            continue
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if isinstance(member, (property, functools.cached_property)):
            summary = _own_doc(member.fget if isinstance(member, property) else member.func)
            yield f"- property `{name}`" + (f" — {summary}" if summary else "")
        elif inspect.isfunction(function) and function.__qualname__.startswith(f"{cls.__qualname__}."):
            prefix = "async " if inspect.iscoroutinefunction(function) else ""
            prefix += "classmethod " if isinstance(member, classmethod) else ""
            marker = " (abstract: implement it)" if getattr(function, "__isabstractmethod__", False) else ""
            summary = _own_doc(function)
            yield f"- {prefix}`{_signature(function, name)}`{marker}" + (f" — {summary}" if summary else "")


def _class_section(reference: str) -> list[str]:
    cls = _load(reference)
    lines = [f"### `{cls.__name__}`", "", f"`{reference.replace(':', '.')}`", "", _doc(cls), ""]
    fields = _fields(cls)
    if fields:
        lines += ["Fields and attributes:", "", *fields, ""]
    methods = list(_methods(cls))
    if methods:
        lines += ["Methods:", "", *methods, ""]
    return lines


def _hooks() -> list[str]:
    from lusifer.api import hookspecs

    lines = ["## Hooks", "", _doc(hookspecs), ""]
    for name in hookspecs.hook_names():
        function = getattr(hookspecs, name)
        lines += [f"### `{name}`", "", "```python", f"@hookimpl\ndef {_signature(function)}: ...", "```", ""]
        lines += [_doc(function), ""]
    return lines


def _template_context() -> list[str]:
    """The variables of each task's template: the fields of its typed context, and the filters."""
    import jinja2

    from lusifer.api.prompt_context import TASK_CONTEXTS, context_models
    from lusifer.engine.templates import template_environment

    lines = [
        "## Prompt templates",
        "",
        "Templates are `<domain folder>/<task>.j2` files (folder: `Domain.template_folder`, default the "
        "domain's name), falling back to `default/<task>.j2`. A template's variables are the fields of "
        "its task's typed context (`lusifer.api.prompt_context`); the `system` template of each task renders "
        "with the same variables as the task. Undefined variables are errors (`StrictUndefined`). "
        "Guide: [prompts.md](prompts.md).",
        "",
    ]
    for task, model in TASK_CONTEXTS.items():
        lines += [f"### `{task}` (`{model.__name__}`)", "", *_context_fields(model), ""]
    for model in context_models():
        if model not in TASK_CONTEXTS.values():
            lines += [f"### `{model.__name__}`", "", *_context_fields(model), ""]
    environment = template_environment()
    builtin = set(jinja2.Environment().filters)
    filters = sorted(name for name in environment.filters if name not in builtin)
    lines += ["### Filters", ""]
    for name in filters:
        lines.append(f"- `{_signature(environment.filters[name], name)}` — {_own_doc(environment.filters[name])}")
    return lines + [""]


def _context_fields(model: Any) -> list[str]:
    from lusifer.api.prompt_context import field_descriptions

    return [f"- `{name}: {annotation}` — {description}" for name, annotation, description in field_descriptions(model)]


def _errors() -> list[str]:
    from lusifer.api import errors

    lines = ["## Errors", "", _doc(errors), ""]
    for name in ERRORS:
        cls = getattr(errors, name)
        base = cls.__mro__[1].__name__
        signature = inspect.signature(cls.__init__) if "__init__" in vars(cls) else None
        shown = f"{name}{str(signature).replace('self, ', '')}" if signature else f"{name}(message)"
        lines.append(f"- `{shown.replace(chr(39), '')}` ({base}) — {_doc(cls).splitlines()[0]}")
    return lines + [""]


def _helpers() -> list[str]:
    lines = ["## Helpers for tests and downloads", ""]
    for reference in HELPERS:
        obj = _load(reference)
        if inspect.isclass(obj):
            lines += _class_section(reference)
            continue
        lines += [f"### `{obj.__name__}`", "", "```python", _signature(obj), "```", ""]
        lines += [f"`{reference.replace(':', '.')}`", "", _doc(obj), ""]
    return lines


def render_reference() -> str:
    """The whole of ``docs/plugins/reference.md``."""
    from lusifer.api import domain as base

    lines = [
        "# Plugin reference",
        "",
        "<!-- Generated from the code by `python -m lusifer.plugin_reference > docs/plugins/reference.md`;"
        " do not edit by hand (tests/test_plugin_reference.py checks it). -->",
        "",
        "Everything a plugin implements, builds or receives. How to put it together: "
        "[tutorial.md](tutorial.md); each hook in prose: [hooks.md](hooks.md).",
        "",
    ]
    lines += _hooks()
    for heading, intro, references in CLASS_SECTIONS:
        lines += [f"## {heading}", ""] + ([intro, ""] if intro else [])
        for reference in references:
            lines += _class_section(reference)
        if heading == "Domains":
            lines += ["Kernel scales:", ""]
            lines += [f"- `{name} = {getattr(base, name)!r}`" for name in SCALES] + [""]
    lines += _template_context()
    lines += _errors()
    lines += _helpers()
    while lines and not lines[-1]:
        lines.pop()
    text = "\n".join(lines) + "\n"
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


if __name__ == "__main__":
    print(render_reference(), end="")
