"""A real GGUF model behind llama-cpp-python's OpenAI-compatible server, through the real openai SDK.

Structured output is ``auto``: the server rejects ``json_schema`` and Lusifer settles on
``json_object`` + ``schema``. The run is killed mid-way and resumed; it must end complete, on the
scale or failed with a reason, with real profile text, without asking the model again for anything
it had answered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import TMDB_100K
from lusifer.testing.local_model import (
    check_tiny_run,
    llama_cpp_server,
    local_gguf,
    run_environment,
    run_kill_resume,
    tiny_run,
)


@pytest.mark.slow
def test_llama_cpp_server_run_completes_and_resumes(ml100k: Path, tmp_path: Path) -> None:
    gguf = local_gguf(server=True)
    if not TMDB_100K.is_file():
        pytest.skip(f"TMDB overviews not found at {TMDB_100K}")
    home = tmp_path / "home"
    with llama_cpp_server(gguf) as base_url:
        arguments = [*tiny_run(ml100k, TMDB_100K), "--backend", "openai", "--model", "smollm2", "--base-url", base_url]
        outcome = run_kill_resume(arguments, tmp_path / "run", run_environment(home), kill_after=2)
    check_tiny_run(outcome, tmp_path / "run")
    assert json.loads((home / "structured_output.json").read_text()) == {base_url: "json_object_schema"}
