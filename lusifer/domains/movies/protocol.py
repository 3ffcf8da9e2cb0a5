"""The paper's protocol, defined once: MovieLens 100K, fold ``u1``, each user's last 40 training ratings
in profile steps of 10, 10 context items, the first 10 test rows per user among movies with an overview.

``lusifer run --protocol paper`` lays :data:`PAPER_DATA` over the data settings; ``lusifer evaluate`` and
``lusifer validate --protocol paper`` rebuild the same slices with :func:`paper_data_config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lusifer.api.settings import DataConfig

PAPER_DOMAIN = "movies"
PAPER_DATASET = "ml-100k"
#: The ``[data]`` settings of the paper protocol.
PAPER_DATA: dict[str, Any] = {
    "fold": "u1",
    "history": 40,
    "profile_step_size": 10,
    "context_items": 10,
    "test_items": 10,
    "require_text": True,
}


def paper_data_config(data_dir: Path | None, enrich_file: Path | None) -> DataConfig:
    """The data settings of the paper protocol for a local copy of ML-100K and its item-text file."""
    return DataConfig(path=data_dir, enrich_file=enrich_file, **PAPER_DATA)
