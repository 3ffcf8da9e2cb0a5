"""Registers the built-in metrics (see :mod:`lusifer.evaluation.metrics`).

Kept import-light: numpy is imported only when the evaluators registry is first built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lusifer.api.hookspecs import hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable

    from lusifer.api.evaluator import Evaluator


@hookimpl
def register_evaluators(register: Callable[[Evaluator], None]) -> None:
    from lusifer.evaluation.metrics import builtin_evaluators

    for evaluator in builtin_evaluators():
        register(evaluator)
