"""``lusifer report RUN_DIR --html``: the run explorer, one self-contained page to open in a browser."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--html", "html", is_flag=True, help="Write the run explorer (one HTML file, works offline).")
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Page to write [default: RUN_DIR/explorer.html].",
)
def report_command(run_dir: Path, html: bool, out: Path | None) -> None:
    """Report on RUN_DIR: with --html, a page with each user's profile timeline (text, changes, why, the
    rated items that caused them), simulated vs true ratings, and the metrics and plots of `lusifer evaluate`.

    Without --html, print RUN_DIR/evaluation/report.md (written by `lusifer evaluate RUN_DIR`).
    """
    from lusifer.api.errors import NotFoundError

    if html:
        from lusifer.evaluation.explorer import write_explorer

        path = write_explorer(run_dir, out)
        size = path.stat().st_size / 1e6
        click.echo(f"Wrote {path} ({size:.1f} MB): open it in a browser (no server needed); #user=ID opens one user")
        return
    report = run_dir / "evaluation" / "report.md"
    if not report.is_file():
        raise NotFoundError(f"no {report}: run `lusifer evaluate {run_dir}` first, or pass --html for the explorer")
    click.echo(report.read_text(encoding="utf-8"))
