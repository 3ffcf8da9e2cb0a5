"""Plots for papers (issue 19, item 9): group colours in errors.png, labelled axes and one legend in
distributions.png, a caption for the box plot's marks, and a real profile-timeline chart."""

from __future__ import annotations

import pandas as pd
from matplotlib.colors import to_hex
from test_report import PROFILES, _world

from lusifer.evaluation import plots
from lusifer.evaluation.pipeline import evaluate
from lusifer.evaluation.report import method_groups


def _evaluation():
    test, history = _world()
    return evaluate(test, ["simulated_rating"], history=history, reps=20, seed=3, folds=3)


def test_errors_colours_simulator_variants_apart_from_baselines() -> None:
    result = _evaluation()
    groups = method_groups(result)
    assert groups["simulated_rating"] == "simulator" and groups["SVD"] == "baseline"
    assert groups["simulated_rating+hybrid_cv"] == "simulator, calibrated"
    figure = plots.errors_figure(result.metrics, result.methods, ["rmse"], groups)
    bars = figure.axes[0].patches
    colour = {method: to_hex(bar.get_facecolor()) for method, bar in zip(result.methods, bars)}
    assert colour["simulated_rating"] == plots.GROUP_COLOURS["simulator"]
    assert colour["simulated_rating+isotonic_cv"] == plots.GROUP_COLOURS["simulator, calibrated"]
    assert colour["SVD"] == colour["UserItemBias"] == plots.GROUP_COLOURS["baseline"]
    assert len(set(colour.values())) >= 3
    [legend] = figure.legends
    assert [text.get_text() for text in legend.get_texts()][:2] == ["simulator", "simulator, calibrated"]


def test_distributions_have_axis_labels_and_one_legend() -> None:
    result = _evaluation()
    figure = plots.distributions_figure(result.frame, result.truth, result.methods)
    assert figure.get_supxlabel() == "rating (rounded)" and figure.get_supylabel() == "share of rows"
    assert len(figure.legends) == 1 and not any(axis.get_legend() for axis in figure.axes)


def test_box_plot_says_what_its_marks_mean() -> None:
    per_user = pd.DataFrame({"simulated_rating": [0.8, 1.0, 1.3], "SVD": [0.9, 1.1, 1.0]})
    caption = plots.user_errors_figure(per_user).get_supxlabel()
    assert "mean" in caption and "median" in caption and "quartiles" in caption


def test_profile_timeline_is_a_chart_of_how_much_profiles_changed(tmp_path) -> None:
    similarity = plots.profile_similarity(PROFILES)
    assert similarity["1"] == [] and [step for step, _ in similarity["2"]] == [2]
    assert 0.0 < similarity["2"][0][1] < 1.0  # the second profile kept its first words, added many
    unchanged = [
        {**PROFILES[0], "step": 3, "profile": "Likes thrillers."},
        {**PROFILES[0], "step": 4, "profile": "Likes thrillers."},
    ]
    assert plots.profile_similarity(unchanged)["2"] == [(4, 1.0)]
    path = plots.profile_timeline(PROFILES, tmp_path / "timeline.png", user="2")
    assert path.read_bytes().startswith(b"\x89PNG")
