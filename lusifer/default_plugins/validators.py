"""Registers the built-in validators: ``feedback`` (ratings/clicks) and ``profile``."""

from __future__ import annotations

from collections.abc import Callable

from lusifer.api.hookspecs import hookimpl
from lusifer.api.validator import Validator
from lusifer.engine.validation import FeedbackValidator, ProfileValidator


@hookimpl
def register_validators(register: Callable[[Validator], None]) -> None:
    register(FeedbackValidator())
    register(ProfileValidator())
