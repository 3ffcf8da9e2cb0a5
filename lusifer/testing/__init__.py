"""Helpers and contract checkers for plugin authors: a plugin's tests import from here and ``lusifer``.

- :func:`check_domain`, :func:`check_templates`, :func:`check_backend` and :func:`check_evaluator` (in
  :mod:`lusifer.testing.contracts`) check a plugin's objects against the kernel contracts, like
  Gymnasium's ``check_env``; ``lusifer plugins check NAME`` runs them on an installed plugin.
  :func:`sample_feedback_context`, :func:`feedback_schema` and :class:`FeedbackValidator` make and check
  a feedback request like the ones a run sends.
- :func:`invoke_cli` runs ``lusifer ...`` in process; :func:`call_layer` is the call layer a run puts
  around a backend; :func:`request_builder` renders a domain's prompts as a run does (with
  :class:`Interaction` and :func:`item_texts`), :func:`render` one template (of
  :func:`template_environment`); :func:`get_domain`, :func:`get_backend`, :func:`get_evaluator` and
  :func:`template_dirs` show what the plugins registered (:mod:`lusifer.testing.harness`).
- :class:`FakeOpenAIServer`, :class:`FakeAnthropicServer` and the base :class:`FakeServer` (with
  :class:`FakeReply` and ``Responder``) run fake vendor servers on loopback for testing backends and runs
  without network (:mod:`lusifer.testing.fake_servers`).
- :func:`serve_files` and :class:`LoopbackServer` serve files (or any GET answer) on loopback, for
  testing downloads and HTTP data APIs (:mod:`lusifer.testing.http`).
- :func:`isolated_lusifer` keeps a test away from the real user's keys, cache, downloads and plugin
  settings; :func:`set_key` stores a key in it as ``lusifer keys set`` does.
- :func:`local_gguf`, :func:`tiny_run`, :func:`run_environment`, :func:`run_kill_resume` and
  :func:`check_tiny_run` run a real local model (:mod:`lusifer.testing.local_model`).
"""

from lusifer.engine.inputs import item_texts
from lusifer.engine.requests import Interaction
from lusifer.engine.templates import render, template_environment
from lusifer.engine.validation import FeedbackValidator, feedback_schema
from lusifer.kernel.registry import get_backend, get_domain, get_evaluator, template_dirs
from lusifer.keys import set_key
from lusifer.testing.contracts import (
    check_backend,
    check_domain,
    check_evaluator,
    check_templates,
    sample_feedback_context,
)
from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, FakeReply, FakeServer, Responder
from lusifer.testing.harness import call_layer, invoke_cli, request_builder
from lusifer.testing.http import LoopbackServer, serve_files
from lusifer.testing.isolation import isolated_lusifer
from lusifer.testing.local_model import check_tiny_run, local_gguf, run_environment, run_kill_resume, tiny_run

__all__ = [
    "FakeAnthropicServer",
    "FakeOpenAIServer",
    "FakeReply",
    "FakeServer",
    "FeedbackValidator",
    "Interaction",
    "LoopbackServer",
    "Responder",
    "call_layer",
    "check_backend",
    "check_domain",
    "check_evaluator",
    "check_templates",
    "check_tiny_run",
    "feedback_schema",
    "get_backend",
    "get_domain",
    "get_evaluator",
    "invoke_cli",
    "isolated_lusifer",
    "item_texts",
    "local_gguf",
    "render",
    "request_builder",
    "run_environment",
    "run_kill_resume",
    "sample_feedback_context",
    "serve_files",
    "set_key",
    "template_dirs",
    "template_environment",
    "tiny_run",
]
