"""PNG plots of an evaluation (matplotlib ``Figure`` objects, no pyplot state, deterministic files).

Each function draws one figure and returns the path it wrote. Files carry no software/date metadata,
so the same inputs give byte-identical PNGs.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

DPI = 100
PNG_METADATA: dict[str, Any] = {"Software": None}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    return path


def _categories(values: np.ndarray, kind: str) -> np.ndarray:
    """Rounded ratings, or probability-bin centres (10 bins) for binary feedback."""
    if kind == "binary":
        return (np.minimum(np.floor(np.clip(values, 0, 1) * 10), 9) + 0.5) / 10
    return np.floor(values + 0.5)


def distributions(frame: pd.DataFrame, truth: str, methods: Sequence[str], path: Path, kind: str = "rating") -> Path:
    """Per method, the share of each (rounded) value among true and simulated feedback."""
    columns = 4 if len(methods) > 4 else max(1, len(methods))
    rows = int(np.ceil(len(methods) / columns))
    figure = _figure(3.2 * columns, 2.4 * rows)
    axes = np.atleast_1d(figure.subplots(rows, columns, sharey=True, squeeze=False)).ravel()
    true_values = np.floor(frame[truth].to_numpy(dtype=float) + 0.5)
    for axis, method in zip(axes, methods):
        predicted = frame[method].to_numpy(dtype=float)
        predicted = np.floor(predicted[np.isfinite(predicted)] + 0.5)
        levels = np.union1d(np.unique(true_values[np.isfinite(true_values)]), np.unique(predicted))
        true_share = [np.mean(true_values == level) for level in levels]
        predicted_share = [np.mean(predicted == level) if predicted.size else 0.0 for level in levels]
        axis.bar(levels - 0.2, true_share, width=0.4, label="true", color="#4c72b0")
        axis.bar(levels + 0.2, predicted_share, width=0.4, label="simulated", color="#dd8452")
        axis.set_title(method, fontsize=9)
        axis.set_xticks(levels)
    for axis in axes[len(methods) :]:
        axis.set_visible(False)
    axes[0].legend(fontsize=8)
    axes[0].set_ylabel("share of rows")
    figure.suptitle("True vs simulated feedback (rounded)")
    return _save(figure, path)


def errors(metrics: pd.DataFrame, methods: Sequence[str], path: Path, names: Sequence[str]) -> Path:
    """Horizontal bars of each metric in ``names`` per method, with bootstrap intervals (subset all)."""
    chosen = metrics[(metrics["subset"] == "all") & metrics["method"].isin(methods)]
    names = [name for name in names if name in set(chosen["metric"])]
    figure = _figure(4.0 * max(1, len(names)), 0.35 * len(methods) + 1.5)
    axes = np.atleast_1d(figure.subplots(1, max(1, len(names)), sharey=True, squeeze=False)).ravel()
    positions = np.arange(len(methods))
    for axis, name in zip(axes, names):
        table = chosen[chosen["metric"] == name].set_index("method").reindex(list(methods))
        value = table["value"].to_numpy(dtype=float)
        low = np.nan_to_num(value - table["ci_low"].to_numpy(dtype=float))
        high = np.nan_to_num(table["ci_high"].to_numpy(dtype=float) - value)
        axis.barh(positions, value, xerr=[low, high], color="#4c72b0", capsize=3)
        axis.set_title(name.upper() if len(name) <= 4 else name)
        axis.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, list(methods))
    axes[0].invert_yaxis()
    figure.suptitle("Error per method (95% user-bootstrap intervals)")
    return _save(figure, path)


def calibration_curve(
    frame: pd.DataFrame, truth: str, methods: Sequence[str], path: Path, kind: str = "rating"
) -> Path:
    """Mean true value per (rounded) simulated value, one line per method; the diagonal is perfect."""
    figure = _figure(6.0, 5.0)
    axis = figure.subplots()
    y = frame[truth].to_numpy(dtype=float)
    low, high = (0.0, 1.0) if kind == "binary" else (np.nanmin(y), np.nanmax(y))
    axis.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="perfect")
    for method in methods:
        p = frame[method].to_numpy(dtype=float)
        valid = np.isfinite(p) & np.isfinite(y)
        groups = _categories(p[valid], kind)
        levels = np.unique(groups)
        means = [y[valid][groups == level].mean() for level in levels]
        axis.plot(levels, means, marker="o", label=method)
    axis.set_xlabel("simulated value (rounded)" if kind == "rating" else "predicted probability (bin)")
    axis.set_ylabel("mean true value")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    axis.set_title("Calibration: mean truth per simulated value")
    return _save(figure, path)


def user_errors(per_user: pd.DataFrame, path: Path, metric: str = "rmse") -> Path:
    """Box plots of the per-user ``metric`` (columns of ``per_user`` are methods)."""
    figure = _figure(max(6.0, 0.55 * per_user.shape[1] + 2), 4.5)
    axis = figure.subplots()
    data = [per_user[column].dropna().to_numpy() for column in per_user.columns]
    axis.boxplot(data, showmeans=True)
    axis.set_xticks(np.arange(1, len(data) + 1), list(per_user.columns), rotation=45, ha="right")
    axis.set_ylabel(f"per-user {metric}")
    axis.grid(axis="y", alpha=0.3)
    axis.set_title(f"Distribution of per-user {metric.upper()}")
    return _save(figure, path)


def _wrapped(text: object, width: int, limit: int) -> list[str]:
    lines = textwrap.wrap(" ".join(str(text or "").split()), width)
    return lines[: limit - 1] + [lines[limit - 1] + " ..."] if len(lines) > limit else lines


def profile_timeline(states: Sequence[dict[str, Any]], path: Path, width: int = 110) -> Path:
    """One user's profile after each profile step (``states`` in step order), as wrapped text."""
    lines: list[str] = []
    for state in states:
        items = state.get("item_ids") or []
        lines.append(f"Step {state.get('step')} ({len(items)} items)")
        lines.extend("    " + line for line in _wrapped(state.get("profile"), width, 6) or ["(empty profile)"])
        lines.extend("    why: " + line for line in _wrapped(state.get("explanation"), width - 5, 2))
        lines.append("")
    figure = _figure(11.0, 0.8 + 0.16 * len(lines))
    axis = figure.subplots()
    axis.axis("off")
    axis.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=8)
    figure.suptitle(f"Profile timeline of user {states[0].get('user_id')}" if states else "Profile timeline")
    return _save(figure, path)
