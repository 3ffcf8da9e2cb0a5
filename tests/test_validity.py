"""The validity battery detects planted defects: null controls score chance, a copier of the item mean
gains nothing from its profile, a slate-dependent backend fails invariance, a title memoriser is
caught by masking titles; plus the CLI, the estimate and the plugin hook."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lusifer.api.backend import Backend, LLMRequest, LLMResponse
from lusifer.api.errors import NotFoundError, PluginError
from lusifer.api.hookspecs import hookimpl
from lusifer.api.prompt_context import CandidateItem, FeedbackContext
from lusifer.api.settings import LusiferConfig
from lusifer.api.validity import ValidityCheck, ValidityData
from lusifer.cli import cli, load_plugin_commands
from lusifer.engine.validation import feedback_context
from lusifer.kernel.plugins import get_plugin_manager
from lusifer.runs.session import plan_run
from lusifer.validity.battery import validate
from lusifer.validity.live import LiveSimulator
from lusifer.validity.sources import SIMULATED, live_data

# Synthetic data: item quality plus user taste, so recommenders differ and truth is learnable ----------


def _synthetic(users: int = 150, items: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 1, items)
    genre = rng.integers(0, 3, items)
    taste = rng.normal(0, 1, (users, 3))
    rows = []
    for user in range(users):
        for item in rng.choice(items, 30, replace=False):
            score = 3.2 + 0.8 * quality[item] + 0.7 * taste[user, genre[item]] + rng.normal(0, 0.5)
            rows.append((user, int(item), float(np.clip(np.round(score), 1, 5)), int(rng.integers(1e6))))
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    held_out = ratings.groupby("user_id").head(10).reset_index(drop=True)
    history = ratings.drop(ratings.groupby("user_id").head(10).index).reset_index(drop=True)
    names = ["comedy", "drama", "horror"]
    table = pd.DataFrame(
        {"title": [f"Film {i}" for i in range(items)], "item_info": [f"Genres: {names[g]}." for g in genre]}
    )
    return held_out, history, table


def _data(simulated: np.ndarray, **settings: object) -> ValidityData:
    held_out, history, items = _synthetic()
    frame = held_out.assign(sim=simulated if len(simulated) else held_out["rating"])
    return ValidityData(frame, ["sim"], history=history, items=items, **{"reps": 50, "permutations": 20, **settings})


def _value(table: pd.DataFrame, method: str, statistic: str, setting: str) -> pd.Series:
    row = table[(table["method"] == method) & (table["statistic"] == statistic) & (table["setting"] == setting)]
    assert len(row) == 1, (method, statistic, setting)
    return row.iloc[0]


def test_a_perfect_simulator_agrees_and_the_permuted_null_scores_chance() -> None:
    data = _data(np.array([]))
    table = validate(data, ["ranking", "within_user", "discrimination", "distribution"])
    assert _value(table, "sim", "kendall_tau", "mean_rating@3")["value"] == pytest.approx(1.0)
    assert _value(table, "sim", "per_user_spearman", "all")["value"] == pytest.approx(1.0)
    assert _value(table, "sim", "auc", "any ratio")["value"] == pytest.approx(1.0)
    assert _value(table, "sim", "tv_distance", "histogram")["value"] == pytest.approx(0.0)
    null = _value(table, "sim|permuted", "kendall_tau", "mean_rating@3")
    assert abs(null["value"]) < 0.25 and null["ci_low"] < 0 < null["ci_high"]
    assert abs(_value(table, "sim|permuted", "per_user_spearman", "all")["value"]) < 0.05
    assert _value(table, "sim|permuted", "auc", "any ratio")["value"] == pytest.approx(0.5, abs=0.03)
    constant = _value(table, "sim|user_mean", "pairwise_agreement", "mean_rating@3")
    assert constant["value"] == 0.5 and math.isnan(_value(table, "sim|user_mean", "kendall_tau", "ndcg@3")["value"])
    assert _value(table, "sim|user_mean", "spread_difference", "per_user")["value"] < -0.5
    assert set(table.columns) == {"check", "method", "statistic", "setting", "value", "ci_low", "ci_high"}


def test_a_reversed_simulator_ranks_recommenders_backwards() -> None:
    held_out, _, _ = _synthetic()
    data = _data(6.0 - held_out["rating"].to_numpy(float))
    table = validate(data, ["ranking", "within_user"], references=False)
    tau = _value(table, "sim", "kendall_tau", "mean_rating@3")
    assert tau["value"] < -0.5 and tau["ci_high"] < 0
    assert _value(table, "sim", "per_user_spearman", "all")["value"] == pytest.approx(-1.0)
    assert "ItemMean" not in set(table["method"])


def test_a_recommender_from_a_file_joins_the_panel(tmp_path: Path) -> None:
    held_out, _, _ = _synthetic()
    path = tmp_path / "oracle.csv"
    held_out.rename(columns={"rating": "score"})[["user_id", "item_id", "score"]].to_csv(path, index=False)
    table = validate(_data(np.array([]), recommender_file=path), ["ranking"], references=False)
    oracle = _value(table, "sim", "real_mean_rating@3", "oracle")["value"]
    real = table[table["statistic"] == "real_mean_rating@3"]
    assert oracle == pytest.approx(real["value"].max())


def test_unknown_check_is_a_one_line_error() -> None:
    with pytest.raises(NotFoundError, match="Unknown validity check 'rankin'. Did you mean 'ranking'"):
        validate(_data(np.array([])), ["rankin"])


def test_plugins_register_validity_checks() -> None:
    def mean_bias(data: ValidityData, column: str, weights: np.ndarray) -> dict:
        bias = (data.frame[column] - data.frame["rating"]).groupby(data.user_codes).mean().to_numpy()
        return {("mean_bias", "all"): weights @ bias / weights.sum(axis=1)}

    class BiasPlugin:
        @hookimpl
        def register_validity_checks(self, register):
            register(ValidityCheck("bias", "Mean bias", compute=mean_bias))

    get_plugin_manager().register(BiasPlugin(), name="bias-plugin")
    with pytest.raises(PluginError, match="validity check 'bias' is registered twice"):
        get_plugin_manager().register(BiasPlugin(), name="bias-plugin-again")
        validate(_data(np.array([])), ["bias"])
    get_plugin_manager().unregister(name="bias-plugin-again")
    held_out, _, _ = _synthetic()
    table = validate(_data(held_out["rating"].to_numpy(float) + 0.5), ["bias"], references=False)
    row = _value(table, "sim", "mean_bias", "all")
    assert row["value"] == pytest.approx(0.5) and row["ci_low"] == pytest.approx(0.5)
    assert _value(table, "sim|permuted", "mean_bias", "all")["value"] == pytest.approx(0.5)


# Live checks on a few real users with planted-defect backends ----------------------------------------


PROFILE = "Likes films of every kind, whatever they are."


def _community_mean(item: CandidateItem) -> float:
    return item.community.mean if item.community else 3


class ItemMeanCopier(Backend):
    """Ignores the profile: every item gets its community mean (and profiles say nothing)."""

    name = "item-mean-copier"
    default_model = "copier"
    key_name = None
    cacheable = False

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        if request.task != "feedback":
            return LLMResponse(json.dumps({"profile": PROFILE, "explanation": "No change."}), self.model)
        context = feedback_context(request)
        ratings = {item.item_id: self.rating(item, context) for item in context.items}
        return LLMResponse(json.dumps({"ratings": ratings}), self.model)

    def rating(self, item: CandidateItem, context: FeedbackContext) -> int:
        return round(_community_mean(item))


class SlateDependent(ItemMeanCopier):
    """Rates an item against its slate-mates: the same item scores higher among worse items."""

    name = "slate-dependent"

    def rating(self, item: CandidateItem, context: FeedbackContext) -> int:
        means = [_community_mean(other) for other in context.items]
        own = _community_mean(item)
        return int(min(5, max(1, round(3 + own - sum(means) / len(means)))))


class TitleMemoriser(ItemMeanCopier):
    """Knows films by title only: a masked title leaves it guessing the midpoint."""

    name = "title-memoriser"

    def rating(self, item: CandidateItem, context: FeedbackContext) -> int:
        return 3 if item.title.startswith("Item ") else super().rating(item, context)


def _live(ml100k: Path, backend_class: type[Backend] | None, users: int = 25) -> ValidityData:
    config = LusiferConfig.model_validate({"data": {"path": ml100k, "fold": "u1"}, "run": {"users": users}})
    backend = backend_class(config.backend) if backend_class else None
    return live_data(config, backend=backend, reps=100, permutations=5)


def _run_live(data: ValidityData, checks: list[str]) -> pd.DataFrame:
    try:
        return validate(data, checks, references=False)
    finally:
        data.live.close()


def test_profile_evolution_an_item_mean_copier_gains_nothing_the_offline_backend_does(ml100k: Path) -> None:
    copier = _run_live(_live(ml100k, ItemMeanCopier), ["evolution"])
    gains = copier[copier["statistic"] == "rmse_gain"]
    assert len(gains) == 9 and (gains["value"] == 0).all() and (gains["ci_high"] == 0).all()
    offline = _run_live(_live(ml100k, None, users=60), ["evolution"])
    learned = _value(offline, SIMULATED, "rmse_gain", "step=4 vs_step=0")
    assert learned["value"] < 0 and learned["ci_high"] < 0


def test_invariance_fails_a_slate_dependent_backend_and_passes_a_slate_free_one(ml100k: Path) -> None:
    dependent = _run_live(_live(ml100k, SlateDependent), ["invariance"])
    slate = _value(dependent, SIMULATED, "mean_abs_change", "slate: low- vs high-rated mates")
    assert slate["value"] > 0.5 and slate["ci_low"] > 0.3
    assert _value(dependent, SIMULATED, "mean_change", "slate: low- minus high-rated mates")["value"] > 0.5
    free = _run_live(_live(ml100k, ItemMeanCopier), ["invariance"])
    assert (free["value"] == 0).all()


def test_contamination_probe_catches_a_title_memoriser(ml100k: Path) -> None:
    table = _run_live(_live(ml100k, TitleMemoriser), ["contamination"])
    change = _value(table, SIMULATED, "rmse_change", "masked - shown")
    assert change["value"] > 0.1 and change["ci_low"] > 0
    honest = _run_live(_live(ml100k, ItemMeanCopier), ["contamination"])
    assert _value(honest, SIMULATED, "rmse_change", "masked - shown")["value"] == 0


def test_discrimination_against_never_rated_items_and_open_catalogue(ml100k: Path) -> None:
    table = _run_live(_live(ml100k, None, users=40), ["discrimination_unrated", "ranking_open"])
    auc = _value(table, SIMULATED, "auc", "any ratio")
    assert auc["value"] > 0.55 and auc["ci_low"] > 0.5
    assert _value(table, SIMULATED + "|user_mean", "auc", "any ratio")["value"] == 0.5
    assert abs(_value(table, SIMULATED + "|permuted", "auc", "any ratio")["value"] - 0.5) < 0.05
    assert {"kendall_tau", "pairwise_agreement"} <= set(table[table["check"] == "ranking_open"]["statistic"])


def test_live_simulator_reuses_stored_profiles(ml100k: Path, tmp_path: Path) -> None:
    config = LusiferConfig.model_validate({"data": {"path": ml100k, "fold": "u1"}, "run": {"users": 3}})
    plan = plan_run(config)
    stored = {user: [] for user in plan.user_ids}
    live = LiveSimulator(config, plan, ItemMeanCopier(config.backend), stored)
    try:
        user = plan.user_ids[0]
        assert live.map_users([user], lambda u: live.rate(u, ["1"], steps=0))[user] != {}
        assert live.map_users([user], live.profiles)[user] == []  # stored, not rebuilt
    finally:
        live.close()
    assert live.calls.stats.calls == 1


# CLI -------------------------------------------------------------------------------------------------


def _invoke(*arguments: str) -> object:
    load_plugin_commands()
    return CliRunner().invoke(cli, ["validate", *arguments], catch_exceptions=False)


def test_cli_validates_a_finished_run_and_estimates_first(ml100k: Path, tmp_path: Path) -> None:
    load_plugin_commands()
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        cli, ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "8", "--out", str(run_dir)]
    )
    assert result.exit_code == 0, result.output
    estimate = _invoke(str(run_dir), "--estimate", "--check", "evolution")
    assert estimate.exit_code == 0 and "calls" in estimate.output and "$0.00" in estimate.output
    assert not (run_dir / "validity").exists()
    result = _invoke(str(run_dir), "--check", "within_user", "--check", "evolution", "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(run_dir / "validity" / "validity.csv")
    assert set(table["check"]) == {"within_user", "evolution"}
    report = (run_dir / "validity" / "validity.md").read_text()
    assert "## Profile-evolution gain" in report and (run_dir / "validity" / "evolution.png").stat().st_size > 0


def test_cli_recorded_predictions_skip_live_checks(tmp_path: Path) -> None:
    held_out, history, _ = _synthetic()
    predictions, history_file = tmp_path / "predictions.csv", tmp_path / "history.csv"
    held_out.assign(model=held_out["rating"]).rename(columns={"item_id": "movie_id"}).to_csv(predictions, index=False)
    history.to_csv(history_file, index=False)
    out = tmp_path / "out"
    arguments = ["--predictions", str(predictions), "--column", "model", "--history-file", str(history_file)]
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["validate", *arguments, "--out", str(out), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    assert "checks needing new simulator calls were skipped" in result.stderr
    table = pd.read_csv(out / "validity.csv")
    assert set(table["check"]) == {"ranking", "within_user", "distribution", "discrimination"}
    assert (out / "ranking_tau.png").exists() and (out / "within_user.png").exists()
    missing = _invoke("--predictions", str(predictions))
    assert missing.exit_code != 0 and "--column" in missing.output


def test_cli_on_a_finished_llm_run_reuses_profiles_and_cache_and_checks_paraphrase(
    ml100k: Path, tmp_path: Path
) -> None:
    from simulation_fakes import ScriptedModel, requested_ids

    from lusifer.testing.fake_servers import FakeOpenAIServer

    secret = "sk-test-SECRET-validity-7a1c"
    paraphrase = tmp_path / "paraphrase" / "movies"
    paraphrase.mkdir(parents=True)
    original = (Path(__file__).resolve().parents[1] / "prompts" / "movies" / "feedback.j2").read_text()
    (paraphrase / "feedback.j2").write_text("In other words: how would this person rate these?\n" + original)
    run_dir = tmp_path / "run"
    with FakeOpenAIServer(ScriptedModel()) as server:
        load_plugin_commands()
        backend = ["--backend", "openai", "--model", "gpt-4o-mini", "--base-url", server.base_url]
        common = ["--data-dir", str(ml100k), "--users", "4", "--history", "20", *backend]
        result = CliRunner().invoke(cli, ["run", "--no-progress", *common, "--out", str(run_dir), "--key", secret])
        assert result.exit_code == 0, result.output
        sent_by_run = len(server.requests)
        arguments = [str(run_dir), "--check", "invariance", "--paraphrase-prompts", str(paraphrase.parent)]
        estimate = _invoke(*arguments, "--estimate")
        assert "about 16 calls" in estimate.output and "4 more answered by the response cache" in estimate.output
        assert len(server.requests) == sent_by_run  # the estimate calls nothing
        result = _invoke(*arguments, "--key", secret, "--bootstrap", "20")
        assert result.exit_code == 0, result.output
        new = [request.json for request in server.requests[sent_by_run:]]
    assert result.output.startswith("Live checks: about ") and "gpt-4o-mini" in result.output
    assert new and all(requested_ids(request) is not None for request in new)  # no profile was rebuilt
    assert len(new) == 4 * 4  # low, high, reversed, paraphrase; the base slate came from the cache
    assert any("In other words" in json.dumps(request["messages"]) for request in new)
    table = pd.read_csv(run_dir / "validity" / "validity.csv")
    assert "prompt paraphrase" in set(table["setting"]) and (table["value"] == 0).all()
    for name in ("validity.csv", "validity.md"):
        assert secret not in (run_dir / "validity" / name).read_text()


def test_ratio_weights_give_negatives_k_times_the_positives_weight() -> None:
    from lusifer.validity.discrimination import ratio_weights

    codes = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    labels = np.array([1, 1, 0, 0, 0, 0, 1, 1])  # user 1 has no negatives: left out
    weights = ratio_weights(codes, labels, 3)
    assert weights.tolist() == [1, 1, 1.5, 1.5, 1.5, 1.5, 0, 0]


def test_click_feedback_counts_clicks_as_liked(tmp_path: Path) -> None:
    from lusifer.validity.sources import recorded_data

    rng = np.random.default_rng(1)
    clicks = rng.integers(0, 2, 400)
    frame = pd.DataFrame({"user_id": np.repeat(np.arange(40), 10), "item_id": np.tile(np.arange(10), 40)})
    path = tmp_path / "clicks.csv"
    frame.assign(rating=clicks, model=np.where(rng.random(400) < 0.8, clicks, 1 - clicks)).to_csv(path, index=False)
    data = recorded_data(path, ["model"], reps=20, permutations=5)
    assert data.scale == (0.0, 1.0) and data.liked_from == 1.0
    table = validate(data, ["discrimination", "distribution"])
    assert _value(table, "model", "auc", "any ratio")["value"] == pytest.approx(0.8, abs=0.06)
    assert _value(table, "model", "accuracy", "1:1")["value"] == pytest.approx(0.8, abs=0.06)
