"""What a plugin author ran into: evaluators, settings, registration errors, validators, small gaps.

Each test registers a small in-process plugin with the real plugin manager, as an installed package
would be registered, and goes through the public CLI or API.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from plugin_fakes import Shelf, ShelfDomain, ShelfSettings

from lusifer import hookimpl
from lusifer.api.backend import Backend, LLMResponse
from lusifer.api.domain import STAR_RATING
from lusifer.api.errors import ConfigError, NotFoundError, PluginError
from lusifer.api.evaluator import Evaluator
from lusifer.api.settings import BackendConfig
from lusifer.cli import cli, load_plugin_commands
from lusifer.kernel import registry
from lusifer.kernel.plugins import get_plugin_manager


def _install(plugin: object, name: str) -> None:
    get_plugin_manager().register(plugin, name=name)
    registry.clear_registries()


def _invoke(*args: str):
    load_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# 1. evaluators reach the console table and report.md, and receive the scale ----------------------


def _predictions(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, 60)
    frame = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(12), 5),
            "item_id": np.tile(np.arange(5), 12),
            "rating": truth,
            "sim": np.clip(truth + rng.integers(-1, 2, 60), 1, 5),
        }
    )
    path = tmp_path / "predictions.csv"
    frame.to_csv(path, index=False)
    return path


def _rating_kl(y_true, y_pred, *, scale) -> float:
    values = np.arange(scale.low, scale.high + 1)
    valid = np.isfinite(y_pred)
    p = np.array([(y_true[valid] == v).mean() for v in values]) + 1e-6
    q = np.array([(np.round(y_pred[valid]) == v).mean() for v in values]) + 1e-6
    return float(np.sum(p * np.log(p / q)))


class Metrics:
    scales: list[object] = []

    @hookimpl
    def register_evaluators(self, register):
        def kl(y_true, y_pred, *, scale):
            Metrics.scales.append(scale)
            return _rating_kl(y_true, y_pred, scale=scale)

        register(Evaluator("rating_kl", kl, kinds=("rating",), uses_scale=True))
        register(
            Evaluator("exact", lambda y, p: float(np.mean(np.round(p) == y)), kinds=("rating",), higher_is_better=True)
        )


def _header(output: str) -> list[str]:
    return next(line for line in output.splitlines() if line.startswith("method")).split()


def _report_columns(report: Path) -> list[str]:
    text = report.read_text()
    table = text.split("## All methods (all rows)", 1)[1].strip().splitlines()[0]
    return [cell.strip() for cell in table.strip("|").split("|")]


def test_chosen_plugin_metrics_fill_the_console_table_and_the_report(tmp_path: Path) -> None:
    _install(Metrics(), "metrics-plugin")
    out = tmp_path / "eval"
    predictions = _predictions(tmp_path)
    result = _invoke(
        "evaluate", "--predictions", str(predictions), "--column", "sim", "--metric", "rating_kl",
        "--metric", "exact", "--no-baselines", "--no-calibrate", "--bootstrap", "0", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _header(result.output) == ["method", "rating_kl", "exact"]
    assert _report_columns(out / "report.md") == ["method", "rating_kl", "exact"]
    frame = pd.read_csv(predictions)
    expected = _rating_kl(frame["rating"].to_numpy(float), frame["sim"].to_numpy(float), scale=STAR_RATING)
    metrics = pd.read_csv(out / "metrics.csv").set_index("metric")
    assert metrics.loc["rating_kl", "value"] == pytest.approx(expected, abs=1e-6)


def test_plugin_metrics_are_shown_by_default_and_get_the_scale(tmp_path: Path) -> None:
    _install(Metrics(), "metrics-plugin")
    Metrics.scales.clear()
    out = tmp_path / "eval"
    result = _invoke(
        "evaluate", "--predictions", str(_predictions(tmp_path)), "--column", "sim", "--no-baselines",
        "--no-calibrate", "--bootstrap", "0", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {"rmse", "rating_kl", "exact"} <= set(_header(result.output))
    assert {"rmse", "rating_kl", "exact"} <= set(_report_columns(out / "report.md"))
    assert (Metrics.scales[0].low, Metrics.scales[0].high) == (1, 5)


# 2. a domain reads its own register_settings section, --config honoured ---------------------------


def test_domain_reads_its_settings_section_from_the_config_file(tmp_path: Path) -> None:
    _install(Shelf(), "shelf-plugin")
    config = tmp_path / "books.toml"
    config.write_text("[plugins.shelf]\nusers = 3\n")
    out = tmp_path / "run"
    result = _invoke(
        "run", "--domain", "shelf", "--config", str(config), "--backend", "offline", "--no-progress",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(out / "ratings.csv")["user_id"]) == {1, 2, 3}


def test_plugin_settings_errors_keep_the_section_name() -> None:
    from lusifer.kernel.settings import load_config

    _install(Shelf(), "shelf-plugin")
    with pytest.raises(ConfigError, match=r"plugins\.shelf\.userz: Extra inputs are not permitted"):
        load_config(overrides={"plugins": {"shelf": {"userz": 2}}}, environ={})


# 3. registration fails soft and checks types ------------------------------------------------------


class Other(Backend):
    name = "other"

    async def acomplete(self, request):
        return LLMResponse("{}", "other")


@pytest.mark.parametrize(
    ("hook", "passed", "expected"),
    [
        (
            "register_domains",
            lambda: ShelfDomain,
            "passed the class ShelfDomain; expected an instance of lusifer.api.domain.Domain"
            " (register ShelfDomain() instead)",
        ),
        (
            "register_backends",
            lambda: Other(BackendConfig()),
            "passed an instance of Other; expected a subclass of lusifer.api.backend.Backend (the class itself)"
            " (register the class Other instead)",
        ),
        ("register_domains", lambda: "magazines", "passed the str 'magazines'; expected an instance"),
        ("register_validators", lambda: 3, "passed the int 3; expected an instance"),
        ("register_evaluators", lambda: lambda y, p: 0.0, "passed an instance of function; expected"),
    ],
)
def test_wrong_objects_are_one_line_warnings_naming_plugin_passed_and_expected(hook, passed, expected, capsys) -> None:
    plugin = type("Wrong", (), {hook: hookimpl(lambda self, register: register(passed()))})()
    _install(plugin, "wrong-plugin")
    kind = hook.removeprefix("register_")
    built = getattr(registry, kind)()
    assert "wrong-plugin" not in {entry.plugin for entry in built.entries()}
    warning = capsys.readouterr().err.strip()
    assert len(warning.splitlines()) == 1
    assert "plugin 'wrong-plugin' failed in " + hook in warning and expected in warning
    assert [(failure.plugin, failure.hook) for failure in registry.registration_failures()] == [("wrong-plugin", hook)]


def test_settings_registered_with_a_missing_model_is_one_line(capsys) -> None:
    plugin = type("Half", (), {"register_settings": hookimpl(lambda self, register: register("magazines"))})()
    _install(plugin, "half-plugin")
    assert "magazines" not in registry.settings_models()
    warning = capsys.readouterr().err
    assert "register_settings called register('magazines'); expected register(section_name, model_class)" in warning


def test_an_exception_in_a_hook_fails_soft_and_keeps_the_cli_working(monkeypatch) -> None:
    class Broken:
        @hookimpl
        def register_domains(self, register):
            register(ShelfDomain())
            raise RuntimeError("books.csv not found")

    _install(Broken(), "broken-plugin")
    domains = _invoke("domains")
    assert domains.exit_code == 0 and "movies" in domains.output and "shelf" not in domains.output
    listing = _invoke("plugins")
    data = json.loads(listing.stdout)
    broken = next(plugin for plugin in data["plugins"] if plugin["name"] == "broken-plugin")
    assert broken["errors"] == [{"hook": "register_domains", "error": "RuntimeError: books.csv not found"}]
    monkeypatch.setenv("LUSIFER_STRICT_PLUGINS", "1")
    registry.clear_registries()
    with pytest.raises(PluginError, match="plugin 'broken-plugin' failed in register_domains: RuntimeError"):
        registry.domains()


def test_a_command_hook_that_raises_is_skipped_and_its_commands_removed(capsys) -> None:
    import click

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            cli.add_command(click.Command("half-added", callback=lambda: None))
            raise ImportError("No module named 'torch'")

    _install(Commands(), "commands-plugin")
    group = click.Group()
    registry.add_commands(group)
    assert "run" in group.commands and "half-added" not in group.commands
    assert "plugin 'commands-plugin' failed in register_commands (ImportError" in capsys.readouterr().err


# 4. extra validators add to the defaults; replacing is explicit -----------------------------------


def test_extra_validators_add_to_the_defaults_and_replacing_is_explicit() -> None:
    class Extra(ShelfDomain):
        validators = ("shelf_check",)

    class Replaced(ShelfDomain):
        default_validators = ("profile",)

    assert Extra().validator_names() == ("profile", "feedback", "shelf_check")
    assert Replaced().validator_names() == ("profile",)


def test_a_domain_listing_one_extra_validator_keeps_the_feedback_validator(tmp_path: Path) -> None:
    from lusifer.api.validator import ValidationResult, Validator

    checked: list[str] = []

    class ShelfCheck(Validator):
        name = "shelf_check"
        tasks = ("feedback",)

        def validate(self, data, request):
            checked.append(request.task)
            return ValidationResult(value={})

    class Checked(ShelfDomain):
        name = "shelf-checked"
        env_name = "ShelfChecked"
        validators = ("shelf_check",)

    class Plugin:
        @hookimpl
        def register_domains(self, register):
            register(Checked())

        @hookimpl
        def register_validators(self, register):
            register(ShelfCheck())

        @hookimpl
        def register_settings(self, register):
            register("shelf", ShelfSettings)

    _install(Plugin(), "checked-plugin")
    out = tmp_path / "run"
    result = _invoke("run", "--domain", "shelf-checked", "--backend", "offline", "--no-progress", "--out", str(out))
    assert result.exit_code == 0, result.output
    ratings = pd.read_csv(out / "ratings.csv")
    assert len(ratings) == 12 and ratings["simulated_rating"].notna().all()  # 6 users x 2 test items, none missing
    assert checked and set(checked) == {"feedback"}


# 5. the smaller gaps ------------------------------------------------------------------------------


def test_estimate_prices_a_keyless_backend_from_the_price_table(ml100k: Path) -> None:
    from lusifer.kernel.settings import load_config
    from lusifer.runs.estimate import estimate_run
    from lusifer.runs.session import plan_run

    overrides = {
        "data": {"path": ml100k},
        "run": {"users": 2},
        "backend": {"name": "offline", "model": "llama3.2"},
        "prices": {"llama3.2": {"input": 1.0, "output": 2.0}},
    }
    config = load_config(overrides=overrides, environ={})
    estimate = estimate_run(config, plan_run(config))
    assert estimate.cost_usd == pytest.approx((estimate.prompt_tokens + 2 * estimate.completion_tokens) / 1e6)
    assert estimate.cost_usd > 0


def test_data_info_suggests_the_domain_that_has_the_dataset() -> None:
    _install(Shelf(), "shelf-plugin")
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["data", "info", "shelf-6"])
    assert result.exit_code == 1
    assert "It is a dataset of domain 'shelf': pass --domain shelf." in result.output


def test_two_domains_with_one_env_name_warn() -> None:
    from lusifer.envs import register_envs

    class Twin(ShelfDomain):
        name = "shelf-twin"

    class Plugin:
        @hookimpl
        def register_domains(self, register):
            register(ShelfDomain())
            register(Twin())

    _install(Plugin(), "twins-plugin")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = register_envs()
    assert ids.count("lusifer/Shelf-v0") == 1
    messages = [str(warning.message) for warning in caught]
    assert any(
        re.search(r"'shelf-twin' gets no Gymnasium id: domain 'shelf' already has lusifer/Shelf-v0", m)
        for m in messages
    )


def test_flat_prompts_dir_is_an_error(tmp_path: Path) -> None:
    from lusifer.engine.templates import template_environment

    (tmp_path / "feedback.j2").write_text("Rate {{ items }}")
    with pytest.raises(ConfigError, match="holds templates directly"):
        template_environment(tmp_path)


@pytest.mark.parametrize("layout", ["missing", "flat"])
def test_registered_template_folder_missing_or_flat_is_reported(tmp_path: Path, layout: str, capsys) -> None:
    folder = tmp_path / "prompts"
    if layout == "flat":
        folder.mkdir()
        (folder / "system.j2").write_text("You read books.")

    class Templates:
        @hookimpl
        def register_prompt_templates(self, register):
            register(folder)

    _install(Templates(), "templates-plugin")
    assert "templates-plugin" not in [entry.plugin for entry in registry.template_dirs()]
    warning = capsys.readouterr().err
    assert "plugin 'templates-plugin' failed in register_prompt_templates" in warning
    assert ("not a folder" if layout == "missing" else "holds templates directly") in warning


def test_unknown_section_still_lists_the_known_ones() -> None:
    from lusifer.kernel.settings import load_config

    _install(Shelf(), "shelf-plugin")
    with pytest.raises(NotFoundError, match="Unknown settings section 'shelv'. Did you mean 'shelf'"):
        load_config(overrides={"plugins": {"shelv": {"users": 2}}}, environ={})
