"""The run explorer: one self-contained HTML page (no server, no network) to read a run user by user.

Per user: each profile step's text with what changed since the step before, the model's explanation,
and the rated items (titles and ratings) that caused it; then the simulated vs true ratings. Above them
the run's headline metrics and plots (from ``lusifer evaluate``, embedded as data URIs). Users can be
searched by id; ``explorer.html#user=ID`` opens one user.

The data travels as one JSON block inside the page; the page's own script draws it (no library).
"""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path
from typing import Any

from lusifer.api.errors import NotFoundError

#: Where ``lusifer report RUN_DIR --html`` writes the page by default.
EXPLORER_FILE = "explorer.html"
_TEMPLATE = Path(__file__).with_name("explorer.html.j2")
#: The evaluation's per-user headline metrics shown beside the run (when ``lusifer evaluate`` ran).
_SHOWN_METRICS = ("rmse", "mae", "pearson", "auc", "log_loss", "valid_share")


def explorer_data(run_dir: Path) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (ids as strings, ratings as numbers)."""
    from lusifer.runs.run_items import history_ratings, item_titles
    from lusifer.runs.store import STORE_FILE, RunStore

    run_dir = Path(run_dir)
    if not (run_dir / STORE_FILE).is_file():
        raise NotFoundError(f"{run_dir} is not a run directory (no {STORE_FILE})")
    store = RunStore(run_dir)
    try:
        rated = history_ratings(store)
        statuses = store.user_statuses()
        users: dict[str, dict[str, Any]] = {}

        def user(user_id: str) -> dict[str, Any]:
            status, reason = statuses.get(user_id, ("pending", None))
            return users.setdefault(
                user_id, {"id": user_id, "status": status, "reason": reason, "steps": [], "ratings": []}
            )

        for state in store.profiles():
            items = [[item, rated.get((state.user_id, item))] for item in state.item_ids]
            user(state.user_id)["steps"].append(
                {
                    "step": state.step,
                    "source": state.source,
                    "profile": state.profile,
                    "why": state.explanation,
                    "items": items,
                }
            )
        for row in store.feedback(None):
            value = row["simulated"] if row["status"] == "ok" else None
            user(row["user_id"])["ratings"].append([row["item_id"], value, row["truth"], row["reason"], row["source"]])
        for user_id in statuses:
            user(user_id)
    finally:
        store.close()
    shown = {item for entry in users.values() for step in entry["steps"] for item, _ in step["items"]}
    shown |= {row[0] for entry in users.values() for row in entry["ratings"]}
    titles = item_titles(run_dir)
    return {
        "run": _run_info(run_dir),
        "users": sorted(users.values(), key=lambda entry: _id_order(entry["id"])),
        "titles": {item: titles[item] for item in sorted(shown) if item in titles},
        "metrics": _metrics(run_dir / "evaluation" / "metrics.csv"),
        "plots": _plots(run_dir / "evaluation" / "plots"),
    }


def write_explorer(run_dir: Path, path: Path | None = None) -> Path:
    """Write the page for ``run_dir`` to ``path`` (default ``RUN_DIR/explorer.html``); returns the path."""
    import jinja2
    from markupsafe import Markup

    data = explorer_data(run_dir)
    path = Path(path) if path is not None else Path(run_dir) / EXPLORER_FILE
    # "</" would end the <script> block that carries the data: JSON allows "<\/" for it.
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    template = jinja2.Template(_TEMPLATE.read_text(encoding="utf-8"), autoescape=True)
    title = f"Lusifer run {data['run']['name']}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(template.render(title=title, payload=Markup(payload)), encoding="utf-8")
    return path


def _id_order(user_id: str) -> tuple[int, int | str]:
    """Numeric ids in numeric order, then the others alphabetically."""
    return (0, int(user_id)) if user_id.isdigit() else (1, user_id)


def _run_info(run_dir: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"name": run_dir.resolve().name, "path": str(run_dir.resolve())}
    for name in ("summary", "config"):
        try:
            info[name] = json.loads((run_dir / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info[name] = {}
    config = info.pop("config")
    backend = config.get("backend") or {}
    info["setup"] = {
        "domain": config.get("domain"),
        "dataset": config.get("dataset"),
        "backend": backend.get("name"),
        "model": backend.get("model"),
        "fold": (config.get("data") or {}).get("fold"),
    }
    return info


def _metrics(path: Path) -> list[dict[str, Any]]:
    """Headline rows (subset ``all``) of an evaluation's ``metrics.csv``; none before ``lusifer evaluate``."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [
            row for row in csv.DictReader(handle) if row.get("subset") == "all" and row.get("metric") in _SHOWN_METRICS
        ]
    return [
        {
            "method": row["method"],
            "metric": row["metric"],
            **{key: _number(row.get(key)) for key in ("value", "ci_low", "ci_high")},
        }
        for row in rows
    ]


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and value == value else None  # NaN is not JSON


def _plots(folder: Path) -> dict[str, str]:
    """Each PNG of the evaluation as a ``data:`` URI, by file stem."""
    if not folder.is_dir():
        return {}
    return {
        path.stem: "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        for path in sorted(folder.glob("*.png"))
    }
