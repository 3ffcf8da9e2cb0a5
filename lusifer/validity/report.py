"""Write a validity battery's results: ``validity.csv`` (long format), ``validity.md`` and PNG plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lusifer.api.validity import ValidityCheck

if TYPE_CHECKING:
    import pandas as pd

#: Per-recommender rows of the ranking checks, shown in their own table rather than the summary.
_PER_RECOMMENDER = ("sim_", "real_")


def _cell(value: float, low: float, high: float) -> str:
    if not np.isfinite(value):
        return "—"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def check_table(table: pd.DataFrame) -> str:
    """A markdown table: one row per (statistic, setting), one column per method."""
    methods = list(dict.fromkeys(table["method"]))
    keys = list(dict.fromkeys(zip(table["statistic"], table["setting"])))
    cells = {(r.statistic, r.setting, r.method): _cell(r.value, r.ci_low, r.ci_high) for r in table.itertuples()}
    header = [method.replace("|", "\\|") for method in methods]  # a bare | would split the column
    lines = ["| statistic | setting | " + " | ".join(header) + " |", "|---|---|" + "---|" * len(methods)]
    for statistic, setting in keys:
        row = [cells.get((statistic, setting, method), "") for method in methods]
        lines.append(f"| {statistic} | {setting} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def recommender_table(table: pd.DataFrame, method: str) -> str:
    """Real and simulated score of every recommender (one method), side by side."""
    chosen = table[(table["method"] == method) & table["statistic"].str.startswith(_PER_RECOMMENDER)]
    lines = ["| recommender | score | real | simulated |", "|---|---|---|---|"]
    for (statistic, recommender), _ in chosen.groupby(["statistic", "setting"], sort=False):
        if not statistic.startswith("sim_"):
            continue
        score = statistic.removeprefix("sim_")
        sim = chosen[(chosen["statistic"] == statistic) & (chosen["setting"] == recommender)].iloc[0]
        real = chosen[(chosen["statistic"] == "real_" + score) & (chosen["setting"] == recommender)]
        real_cell = _cell(real.iloc[0].value, real.iloc[0].ci_low, real.iloc[0].ci_high) if len(real) else "—"
        lines.append(f"| {recommender} | {score} | {real_cell} | {_cell(sim.value, sim.ci_low, sim.ci_high)} |")
    return "\n".join(lines)


def plot_statistic(table: pd.DataFrame, check: str, statistic: str, setting: str, path: Path, title: str) -> Path:
    """Horizontal bars of one statistic per method with its interval."""
    from lusifer.evaluation.plots import _figure, _save

    chosen = table[(table["check"] == check) & (table["statistic"] == statistic) & (table["setting"] == setting)]
    figure = _figure(6.5, 0.4 * max(len(chosen), 1) + 1.4)
    axis = figure.subplots()
    positions = np.arange(len(chosen))
    values = chosen["value"].to_numpy(float)
    errors = [
        np.nan_to_num(values - chosen["ci_low"].to_numpy(float)),
        np.nan_to_num(chosen["ci_high"].to_numpy(float) - values),
    ]
    axis.barh(positions, np.nan_to_num(values), xerr=errors, color="#4c72b0", capsize=3)
    axis.set_yticks(positions, chosen["method"].tolist())
    axis.invert_yaxis()
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.grid(axis="x", alpha=0.3)
    axis.set_xlabel(f"{statistic} ({setting}); 95% interval")
    axis.set_title(title)
    return _save(figure, path)


def plot_evolution(table: pd.DataFrame, path: Path) -> Path:
    """RMSE and within-user Spearman per profile step, with intervals."""
    from lusifer.evaluation.plots import _figure, _save

    figure = _figure(9.0, 3.4)
    axes = figure.subplots(1, 2)
    for axis, statistic in zip(axes, ("rmse", "per_user_spearman")):
        chosen = table[
            (table["check"] == "evolution")
            & (table["statistic"] == statistic)
            & table["setting"].str.startswith("step=")
        ]
        steps = [int(setting.split("=")[1]) for setting in chosen["setting"]]
        values = chosen["value"].to_numpy(float)
        errors = [values - chosen["ci_low"].to_numpy(float), chosen["ci_high"].to_numpy(float) - values]
        axis.errorbar(steps, values, yerr=errors, marker="o", capsize=3)
        axis.set_xlabel("profile steps known")
        axis.set_title(statistic)
        axis.grid(alpha=0.3)
    figure.suptitle("Profile-evolution: the same held-out items, profile after each step")
    return _save(figure, path)


def write_validity(
    table: pd.DataFrame, checks: Sequence[ValidityCheck], out: Path, title: str, notes: Sequence[str] = ()
) -> dict[str, Path]:
    """Write ``validity.csv``, ``validity.md`` and the plots into ``out``; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    written = {"csv": out / "validity.csv", "report": out / "validity.md"}
    table.to_csv(written["csv"], index=False, float_format="%.6g")
    plots = {
        "ranking_tau": ("ranking", "kendall_tau", None, "Recommender-ranking agreement (Kendall tau)"),
        "within_user": ("within_user", "per_user_spearman", "all", "Within-user Spearman with the truth"),
    }
    for name, (check_name, statistic, setting, plot_title) in plots.items():
        chosen = table[(table["check"] == check_name) & (table["statistic"] == statistic)]
        if len(chosen):
            setting = setting or str(chosen["setting"].iloc[0])
            written[name] = plot_statistic(table, check_name, statistic, setting, out / f"{name}.png", plot_title)
    if (table["check"] == "evolution").any():
        written["evolution"] = plot_evolution(table, out / "evolution.png")
    lines = [f"# {title}", ""]
    lines += [f"> {note}" for note in notes] + ([""] if notes else [])
    lines += [
        "Values are means with user-bootstrap 95 % intervals. `|permuted` rows: the same output shuffled "
        "within each user (mean over shuffles, 2.5–97.5 % range of the shuffles: the null distribution); "
        "`|user_mean` rows: every item rated at the user's mean training rating.",
        "",
    ]
    for check in checks:
        part = table[table["check"] == check.name]
        if part.empty:
            continue
        lines += [f"## {check.title}", "", check.description, ""]
        summary = part[~part["statistic"].str.startswith(_PER_RECOMMENDER)]
        if len(summary):
            lines += [check_table(summary), ""]
        methods = list(dict.fromkeys(part[part["statistic"].str.startswith("sim_")]["method"]))
        if methods:
            lines += [f"Per recommender ({methods[0]}):", "", recommender_table(part, methods[0]), ""]
    lines += [f"![{name}]({path.name})" for name, path in written.items() if path.suffix == ".png"]
    written["report"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written
