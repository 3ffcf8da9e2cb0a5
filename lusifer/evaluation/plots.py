"""PNG plots of an evaluation (matplotlib ``Figure`` objects, no pyplot state, deterministic files).

Each function draws one figure and returns the path it wrote. Files carry no software/date metadata,
so the same inputs give byte-identical PNGs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
        binned: np.ndarray = (np.minimum(np.floor(np.clip(values, 0, 1) * 10), 9) + 0.5) / 10
        return binned
    return np.floor(values + 0.5)


#: Bar colours of the method groups in ``errors.png`` (simulator variants apart from the baselines).
GROUP_COLOURS = {
    "simulator": "#dd8452",
    "simulator, calibrated": "#c44e52",
    "control (no simulator)": "#8c8c8c",
    "baseline": "#4c72b0",
}


def distributions(frame: pd.DataFrame, truth: str, methods: Sequence[str], path: Path, kind: str = "rating") -> Path:
    """Per method, the share of each (rounded) value among true and simulated feedback."""
    return _save(distributions_figure(frame, truth, methods, kind), path)


def distributions_figure(frame: pd.DataFrame, truth: str, methods: Sequence[str], kind: str = "rating") -> Figure:
    """The figure of :func:`distributions`: one panel per method, labelled axes, one legend."""
    columns = 4 if len(methods) > 4 else max(1, len(methods))
    rows = int(np.ceil(len(methods) / columns))
    figure = _figure(3.2 * columns, 2.4 * rows + 0.6)
    axes = np.atleast_1d(figure.subplots(rows, columns, sharey=True, squeeze=False)).ravel()
    true_values = np.floor(frame[truth].to_numpy(dtype=float) + 0.5)
    for axis, method in zip(axes, methods):
        predicted = frame[method].to_numpy(dtype=float)
        predicted = np.floor(predicted[np.isfinite(predicted)] + 0.5)
        levels = np.union1d(np.unique(true_values[np.isfinite(true_values)]), np.unique(predicted))
        true_share = [np.mean(true_values == level) for level in levels]
        predicted_share = [np.mean(predicted == level) if predicted.size else 0.0 for level in levels]
        axis.bar(levels - 0.2, true_share, width=0.4, label="true", color="#4c72b0")
        axis.bar(levels + 0.2, predicted_share, width=0.4, label="method (panel title)", color="#dd8452")
        axis.set_title(method, fontsize=9)
        axis.set_xticks(levels)
    for axis in axes[len(methods) :]:
        axis.set_visible(False)
    figure.supxlabel("rating (rounded)" if kind == "rating" else "value (rounded)", fontsize=9)
    figure.supylabel("share of rows", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper right", ncols=2, fontsize=8)
    figure.suptitle("True vs simulated feedback (rounded)")
    return figure


def errors(
    metrics: pd.DataFrame,
    methods: Sequence[str],
    path: Path,
    names: Sequence[str],
    groups: Mapping[str, str] | None = None,
) -> Path:
    """Horizontal bars of each metric in ``names`` per method, with bootstrap intervals (subset all)."""
    return _save(errors_figure(metrics, methods, names, groups), path)


def errors_figure(
    metrics: pd.DataFrame, methods: Sequence[str], names: Sequence[str], groups: Mapping[str, str] | None = None
) -> Figure:
    """The figure of :func:`errors`; ``groups`` (method -> a key of :data:`GROUP_COLOURS`) colours the bars,
    with one legend entry per group present (methods without a group are baselines)."""
    chosen = metrics[(metrics["subset"] == "all") & metrics["method"].isin(methods)]
    names = [name for name in names if name in set(chosen["metric"])]
    figure = _figure(4.0 * max(1, len(names)), 0.35 * len(methods) + 1.9)
    axes = np.atleast_1d(figure.subplots(1, max(1, len(names)), sharey=True, squeeze=False)).ravel()
    positions = np.arange(len(methods))
    method_groups = [(groups or {}).get(method, "baseline") for method in methods]
    colours = [GROUP_COLOURS.get(group, GROUP_COLOURS["baseline"]) for group in method_groups]
    for axis, name in zip(axes, names):
        table = chosen[chosen["metric"] == name].set_index("method").reindex(list(methods))
        value = table["value"].to_numpy(dtype=float)
        low = np.nan_to_num(value - table["ci_low"].to_numpy(dtype=float))
        high = np.nan_to_num(table["ci_high"].to_numpy(dtype=float) - value)
        axis.barh(positions, value, xerr=[low, high], color=colours, capsize=3)
        axis.set_title(name.upper() if len(name) <= 4 else name)
        axis.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, list(methods))
    axes[0].invert_yaxis()
    from matplotlib.patches import Patch

    present = [group for group in GROUP_COLOURS if group in method_groups]
    handles = [Patch(color=GROUP_COLOURS[group], label=group) for group in present]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    figure.suptitle("Error per method (95% user-bootstrap intervals)")
    return figure


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


def reliability(table: Sequence[tuple[float, float, int]], path: Path, ece: float | None = None) -> Path:
    """Reliability diagram of a rating distribution: accuracy of its most likely point per confidence bin.

    ``table``: ``(mean confidence, accuracy, rows)`` per bin (:func:`lusifer.evaluation.scoring.reliability`);
    marker areas grow with the rows of a bin; the diagonal is perfect calibration.
    """
    figure = _figure(4.5, 4.5)
    axis = figure.subplots()
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    rows = np.array([count for _, _, count in table], dtype=float)
    sizes = 20 + 180 * rows / rows.max() if rows.size else rows
    confidence = [value for value, _, _ in table]
    accuracy = [value for _, value, _ in table]
    axis.plot(confidence, accuracy, color="#4c72b0", linewidth=1)
    axis.scatter(confidence, accuracy, s=sizes, color="#4c72b0", zorder=3, label="bins (area: rows)")
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence of the most likely rating", ylabel="accuracy")
    axis.legend(fontsize=8, loc="upper left")
    axis.grid(alpha=0.3)
    axis.set_title("Reliability" + (f" (ECE {ece:.3f})" if ece is not None else ""))
    return _save(figure, path)


#: What the marks of the per-user box plot mean (its caption).
BOX_CAPTION = "box: quartiles, orange line: median, whiskers: 1.5 IQR, circles: outlying users, green triangle: mean"


def user_errors(per_user: pd.DataFrame, path: Path, metric: str = "rmse") -> Path:
    """Box plots of the per-user ``metric`` (columns of ``per_user`` are methods)."""
    return _save(user_errors_figure(per_user, metric), path)


def user_errors_figure(per_user: pd.DataFrame, metric: str = "rmse") -> Figure:
    """The figure of :func:`user_errors`, with :data:`BOX_CAPTION` under it."""
    figure = _figure(max(6.0, 0.55 * per_user.shape[1] + 2), 4.8)
    axis = figure.subplots()
    data = [per_user[column].dropna().to_numpy() for column in per_user.columns]
    axis.boxplot(data, showmeans=True)
    axis.set_xticks(np.arange(1, len(data) + 1), list(per_user.columns), rotation=45, ha="right")
    axis.set_ylabel(f"per-user {metric}")
    axis.grid(axis="y", alpha=0.3)
    axis.set_title(f"Distribution of per-user {metric.upper()}")
    figure.supxlabel(BOX_CAPTION, fontsize=8)
    return figure


def profile_similarity(states: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Per user, ``(step, similarity)`` of each profile to the one before it: the share of words kept in
    order (difflib's ratio over words; 1 = unchanged, 0 = rewritten)."""
    from difflib import SequenceMatcher

    by_user: dict[str, list[dict[str, Any]]] = {}
    for state in states:
        by_user.setdefault(str(state.get("user_id")), []).append(state)
    similarity: dict[str, list[tuple[int, float]]] = {}
    for user, steps in by_user.items():
        steps = sorted(steps, key=lambda state: int(state.get("step") or 0))
        words = [str(state.get("profile") or "").split() for state in steps]
        similarity[user] = [
            (int(steps[index].get("step") or 0), SequenceMatcher(None, words[index - 1], words[index]).ratio())
            for index in range(1, len(steps))
        ]
    return similarity


def profile_timeline(states: Sequence[dict[str, Any]], path: Path, user: str | None = None) -> Path:
    """How much each profile step changed the profiles: per step, the mean similarity of a profile to the
    one before it over users (with the 10-90 % band of users), and the line of ``user``."""
    similarity = profile_similarity(states)
    steps = sorted({step for series in similarity.values() for step, _ in series})
    figure = _figure(6.5, 4.0)
    axis = figure.subplots()
    if steps:
        values = {step: [value for series in similarity.values() for s, value in series if s == step] for step in steps}
        mean = [float(np.mean(values[step])) for step in steps]
        low = [float(np.percentile(values[step], 10)) for step in steps]
        high = [float(np.percentile(values[step], 90)) for step in steps]
        axis.fill_between(steps, low, high, color="#4c72b0", alpha=0.2, label="10-90 % of users")
        axis.plot(steps, mean, color="#4c72b0", marker="o", label=f"mean over {len(similarity)} users")
        if user is not None and similarity.get(user):
            mine = similarity[user]
            axis.plot([s for s, _ in mine], [v for _, v in mine], color="#dd8452", marker="s", label=f"user {user}")
        axis.set_xticks(steps)
        axis.legend(fontsize=8)
    axis.set_ylim(0, 1.02)
    axis.set_xlabel("profile step (each update from the next batch of ratings)")
    axis.set_ylabel("similarity to the previous profile")
    axis.grid(alpha=0.3)
    axis.set_title("How much each profile update changed the profile (1 = unchanged)")
    return _save(figure, path)
