"""What people read about a run's items: titles from the run's dataset, and the ratings behind profiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from lusifer.api.errors import LusiferError

if TYPE_CHECKING:
    from lusifer.runs.store import RunStore


def history_ratings(store: RunStore) -> dict[tuple[str, str], float]:
    """``(user_id, item_id) -> rating`` the profiles were built from: the history's ratings, and the
    simulated ratings of online steps (the RL environment's recommendations, feedback not of ``test``)."""
    ratings = {
        (row["user_id"], row["item_id"]): float(row["simulated"])
        for row in store.feedback(None)
        if row["source"] != "test" and row["status"] == "ok"
    }
    ratings.update({(user, item): float(rating) for user, item, rating, _ in store.history()})
    return ratings


def item_titles(run_dir: Path) -> dict[str, str]:
    """Item id -> title (or first text column) of the run's dataset; empty when it cannot be loaded here.

    Reads the dataset where the run read it (``data.path``, relative to where the run was started, or the
    download cache); item text enrichment is not needed for titles and is skipped.
    """
    from lusifer.api.settings import LusiferConfig
    from lusifer.kernel.registry import get_domain

    try:
        config = LusiferConfig.model_validate(json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8")))
        domain = get_domain(config.domain)
        config.data.enrich_file = None
        items = domain.load(config.dataset or domain.datasets[0], config.data).items
    except (LusiferError, OSError, ValueError, IndexError):
        return {}
    column = "title" if "title" in items.columns else next(iter(items.select_dtypes("object").columns), None)
    if column is None:
        return {}
    return {str(item): str(title) for item, title in items[column].items()}
