"""`lusifer templates list | show | export` (issue 19, item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def _prompts(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "prompts"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({"movies/feedbak.j2": "Rate."}, "movies/feedbak.j2"),  # a typo in the task
        ({"movie/feedback.j2": "Rate."}, "movie/feedback.j2"),  # a typo in the domain folder
        ({"movies/feedback.jinja": "Rate."}, "movies/feedback.jinja"),  # not a .j2 file
        ({"feedback.j2": "Rate.", "movies/system.j2": "You watch films."}, "feedback.j2"),  # a flat file beside
    ],
)
def test_prompts_dir_with_a_file_no_run_uses_is_an_error_naming_the_layout(
    files: dict[str, str], named: str, ml100k: Path, tmp_path: Path
) -> None:
    folder, out = _prompts(tmp_path, files), tmp_path / "run"
    arguments = ["--data-dir", str(ml100k), "--users", "1", "--prompts-dir", str(folder), "--out", str(out)]
    result = _invoke("run", "--no-progress", *arguments)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "<domain>/<task>.j2" in lines[0], result.output
    assert not out.exists()


def test_template_syntax_error_is_one_line(ml100k: Path, tmp_path: Path) -> None:
    folder = _prompts(tmp_path, {"movies/feedback.j2": "Rate {{ items "})
    out = tmp_path / "run"
    arguments = ["--data-dir", str(ml100k), "--users", "1", "--prompts-dir", str(folder), "--out", str(out)]
    result = _invoke("run", "--no-progress", *arguments)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "feedback.j2, line 1" in lines[0] and "Traceback" not in result.output
    assert not out.exists()


def test_a_domain_not_yet_registered_may_be_named(tmp_path: Path) -> None:
    from lusifer.api.errors import ConfigError
    from lusifer.engine.templates import check_prompts_dir

    folder = _prompts(tmp_path, {"books/feedback.j2": "Rate."})
    with pytest.raises(ConfigError, match="books/feedback.j2 is not a template a run uses"):
        check_prompts_dir(folder)
    check_prompts_dir(folder, ("books",))  # e.g. a plugin's own domain under `check_templates`
