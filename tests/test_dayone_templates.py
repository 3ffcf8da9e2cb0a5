"""`lusifer templates list | show | export` (issue 19, item 3)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"


def _invoke(*arguments: str):
    load_plugin_commands()
    return CliRunner().invoke(cli, list(arguments))


def test_list_and_show_the_built_in_templates() -> None:
    listed = _invoke("templates", "list")
    assert listed.exit_code == 0
    assert {"movies/feedback", "movies/profile", "default/system"} <= set(listed.output.split())
    shown = _invoke("templates", "show", "movies/feedback")
    assert shown.output.strip() == (PROMPTS / "movies" / "feedback.j2").read_text(encoding="utf-8").strip()
    unknown = _invoke("templates", "show", "movies/feedbak")
    assert unknown.exit_code == 1 and "Did you mean 'movies/feedback'?" in unknown.output


def test_export_writes_the_domain_layout_that_runs_accept(ml100k: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    exported = _invoke("templates", "export", str(folder))
    assert exported.exit_code == 0, exported.output
    for template in PROMPTS.glob("*/*.j2"):
        assert (folder / template.parent.name / template.name).read_text(encoding="utf-8") == template.read_text(
            encoding="utf-8"
        )
    again = _invoke("templates", "export", str(folder))
    assert again.exit_code == 1 and "--force" in again.output
    arguments = ["--data-dir", str(ml100k), "--users", "1", "--prompts-dir", str(folder), "--out", str(tmp_path / "r")]
    run = _invoke("run", "--no-progress", *arguments)
    assert run.exit_code == 0, run.output
