"""Prompt templates: a jinja2 environment over the user's folder, plugin folders and the built-ins.

A template is found as ``<domain folder>/<task>.j2``, falling back to ``default/<task>.j2``. Lookup
order: ``--prompts-dir`` > templates registered by external plugins > built-in templates. Undefined
variables are errors (``StrictUndefined``), so a typo in a template never yields a silent blank.

Templates may shorten a text with the ``brief`` filter (``{{ item.item_info | brief(40) }}``): its
first sentences, as many as fit in that many words.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jinja2

from lusifer.api.errors import ConfigError, LusiferError
from lusifer.kernel.registry import template_dirs

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def brief(text: str, words: int = 40) -> str:
    """The first sentences of ``text`` that fit in ``words`` words (the first one always)."""
    kept: list[str] = []
    count = 0
    for sentence in _SENTENCE_END.split(text.strip()):
        count += len(sentence.split())
        if kept and count > words:
            break
        kept.append(sentence)
    return " ".join(kept)


@functools.lru_cache(maxsize=8)
def template_environment(prompts_dir: Path | None = None, domain_folders: tuple[str, ...] = ()) -> jinja2.Environment:
    """The jinja2 environment for an optional user template folder (cached per folder).

    :param domain_folders: template folders of domains not (yet) registered that ``prompts_dir`` may hold.
    """
    folders: list[str] = []
    if prompts_dir is not None:
        check_prompts_dir(Path(prompts_dir), domain_folders)
        folders.append(str(prompts_dir))
    folders.extend(str(entry.obj) for entry in template_dirs())
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    environment.filters["brief"] = brief
    return environment


#: The tasks a simulation renders prompts for.
SIMULATION_TASKS = ("system", "profile", "profile_update", "feedback")

_LAYOUT = "<prompts dir>/<domain>/<task>.j2 (see `lusifer templates list`; `lusifer templates export DIR` writes it)"


def check_prompts_dir(folder: Path, domain_folders: tuple[str, ...] = ()) -> None:
    """Refuse a ``--prompts-dir`` whose files a run would not use: each must be ``<domain>/<task>.j2``.

    :raises ConfigError: the folder is missing, holds templates without the domain level, or holds a
        file whose domain folder or task name is unknown (so a typo is never ignored silently).
    """
    if not folder.is_dir():
        raise ConfigError(f"prompts directory not found: {folder}")
    flat = sorted(path.name for path in folder.glob("*.j2"))
    if flat:
        raise ConfigError(
            f"prompts directory {folder} holds templates directly ({', '.join(flat[:3])}); put them in a folder "
            f"named after the domain: {_LAYOUT}"
        )
    domains, tasks = _known_template_names()
    domains.update(domain_folders)
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_dir() or any(part.startswith(".") for part in relative.parts) or len(relative.parts) == 1:
            continue
        domain, task = relative.parts[0], relative.name.removesuffix(".j2")
        if len(relative.parts) != 2 or path.suffix != ".j2" or domain not in domains or task not in tasks:
            raise ConfigError(
                f"prompts directory {folder}: {relative} is not a template a run uses; expected {_LAYOUT} with "
                f"domain one of {', '.join(sorted(domains))} and task one of {', '.join(sorted(tasks))}"
            )


def _known_template_names() -> tuple[set[str], set[str]]:
    """Domain folders (registered domains, ``default`` and plugin template folders) and task names."""
    from lusifer.kernel.registry import domains

    names = {"default", *(entry.obj.templates for entry in domains().entries())}
    tasks = set(SIMULATION_TASKS)
    for entry in template_dirs():
        for template in entry.obj.glob("*/*.j2"):
            names.add(template.parent.name)
            tasks.add(template.stem)
    return names, tasks


def check_templates(environment: jinja2.Environment, folder: str, tasks: tuple[str, ...] = SIMULATION_TASKS) -> None:
    """Load every template a run will render, so that a broken one fails before anything is written.

    :raises ConfigError: a template is missing or has a syntax error (file and line named).
    """
    for task in tasks:
        find_template(environment, folder, task)


def find_template(environment: jinja2.Environment, folder: str, task: str) -> jinja2.Template:
    """The template of ``task``: ``<folder>/<task>.j2``, else ``default/<task>.j2``.

    :raises ConfigError: neither exists, or the one found has a syntax error (file and line named).
    """
    names = [f"{folder}/{task}.j2", f"default/{task}.j2"]
    try:
        return environment.select_template(names)
    except jinja2.TemplatesNotFound:
        raise ConfigError(f"no prompt template for task '{task}': looked for {', '.join(names)}") from None
    except jinja2.TemplateSyntaxError as error:
        where = error.filename or error.name or names[0]
        raise ConfigError(
            f"prompt template {where}, line {error.lineno}: {error.message}; fix the template "
            "(or remove it from --prompts-dir to use the built-in one)"
        ) from None


def render(environment: jinja2.Environment, folder: str, task: str, **context: object) -> str:
    """Render ``<folder>/<task>.j2`` (or ``default/<task>.j2``) with ``context``."""
    return render_template(find_template(environment, folder, task), **context)


def render_template(template: jinja2.Template, **context: object) -> str:
    """Render a template found by :func:`find_template` with ``context``, stripped."""
    try:
        return template.render(**context).strip()
    except jinja2.UndefinedError as error:
        raise LusiferError(f"prompt template {template.name}: {error.message}") from None
