"""The ``[plugins.llamacpp]`` configuration section (also ``LUSIFER_PLUGINS__LLAMACPP__<KEY>``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

SECTION = "llamacpp"


class LlamaCppSettings(BaseModel):
    """How the local model is loaded and run."""

    model_config = ConfigDict(extra="forbid")

    models_dir: Path | None = Field(
        None, description="Folder where `--model NAME` looks for NAME.gguf (default: <user dir>/models)."
    )
    n_ctx: int = Field(4096, ge=256, description="Context window in tokens (prompt and answer together).")
    n_threads: int | None = Field(None, ge=1, description="CPU threads per model instance (default: llama.cpp's).")
    n_gpu_layers: int = Field(0, ge=-1, description="Layers offloaded to a GPU build (-1: all).")
    instances: int = Field(
        1, ge=1, le=16, description="Model instances answering at once; each holds its own context (memory)."
    )
    repeat_penalty: float = Field(
        1.1, ge=0.0, description="Penalty on repeated tokens (1.1, as llama-cpp-python's server; 1.0: none)."
    )
    chat_format: str | None = Field(
        None, description="llama-cpp-python chat format (default: the chat template stored in the GGUF)."
    )
