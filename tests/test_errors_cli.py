"""One-line answers about runs that failed: evaluate with no valid value, `show user` of a failed user."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from simulation_fakes import ScriptedModel

from lusifer.cli import cli, load_plugin_commands
from lusifer.testing.fake_behaviours import JunkProfiles
from lusifer.testing.fake_servers import FakeOpenAIServer

SECRET = "sk-test-SECRET-3c4d"


def _failed_run(ml100k: Path, out: Path) -> None:
    """A run of two users whose profile answers are always the template placeholder."""
    load_plugin_commands()
    with FakeOpenAIServer(JunkProfiles(ScriptedModel(), junk=["<updated profile>"] * 100)) as server:
        arguments = ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "2", "--out", str(out)]
        arguments += ["--backend", "openai", "--model", "gpt-4o-mini", "--base-url", server.base_url]
        result = CliRunner().invoke(cli, [*arguments, "--history", "10", "--key", SECRET])
    assert result.exit_code == 1


def test_evaluate_on_a_run_with_no_valid_rating_is_a_one_line_error(ml100k: Path, tmp_path: Path) -> None:
    _failed_run(ml100k, tmp_path / "run")
    result = CliRunner().invoke(
        cli, ["evaluate", str(tmp_path / "run"), "--no-baselines", "--no-calibrate", "--bootstrap", "0"]
    )
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1  # today 0, with NaN metrics
    assert len(errors) == 1 and "no simulated value" in errors[0] and "is valid" in errors[0]


def test_evaluate_refuses_a_predictions_column_without_any_value(tmp_path: Path) -> None:
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("user_id,item_id,rating,simulated\n1,10,4,\n2,20,3,\n")
    load_plugin_commands()
    result = CliRunner().invoke(
        cli, ["evaluate", "--predictions", str(predictions), "--column", "simulated", "--no-baselines"]
    )
    assert result.exit_code == 1 and "simulated: 0 of 2 rows" in result.output


def test_show_user_prints_the_stored_failure_reason_of_a_failed_user(ml100k: Path, tmp_path: Path) -> None:
    _failed_run(ml100k, tmp_path / "run")
    result = CliRunner().invoke(cli, ["show", "user", "1", "--run", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output  # today: "user 1 has no profile", exit 1
    assert result.output.startswith("--- failed: profile step 0 of user 1: no valid answer")
    assert "placeholder" in result.output
