"""``lusifer validate``: does the simulator reach the same conclusions as real users?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lusifer.cli.run import simulation_config, simulation_options


@click.command(name="validate")
@click.argument("run_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@simulation_options
@click.option("--predictions", type=click.Path(dir_okay=False, path_type=Path), help="Recorded predictions CSV.")
@click.option("--column", "columns", multiple=True, help="Prediction column of --predictions (repeatable).")
@click.option("--history-file", type=click.Path(dir_okay=False, path_type=Path), help="Training slice CSV.")
@click.option("--check", "checks", multiple=True, help="Run only this check (repeatable; default: all).")
@click.option("--estimate", is_flag=True, help="Print the live checks' calls, tokens and cost, then stop.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--bootstrap", "reps", default=1000, show_default=True, type=click.IntRange(0), help="Resamples.")
@click.option("--permutations", default=20, show_default=True, type=click.IntRange(1), help="Null shuffles.")
@click.option("--top-k", "k", default=3, show_default=True, type=click.IntRange(1), help="Recommendation list size.")
@click.option("--like-threshold", type=float, help="Feedback at or above it counts as liked [default: top - 1].")
@click.option("--recommender-file", type=click.Path(dir_okay=False, path_type=Path), help="CSV user_id,item_id,score.")
@click.option(
    "--paraphrase-prompts", type=click.Path(file_okay=False, path_type=Path), help="Paraphrased templates folder."
)
@click.option("--key", "api_key", help="API key for this command only (prefer `lusifer keys set`).")
def validate_command(run_dir: Path | None, **options: Any) -> None:
    """Run the validity battery and write validity.md, validity.csv and plots.

    Three sources: RUN_DIR (a finished run: its ratings and profiles are reused, only the checks' extra
    calls are made), --predictions FILE --column NAME (recorded output: checks without new calls), or
    neither (a fresh simulator configured like `lusifer run`, e.g. --protocol paper).
    """
    from lusifer.api.validity import ValidityData
    from lusifer.validity.battery import select_checks, validate
    from lusifer.validity.report import write_validity
    from lusifer.validity.sources import estimate_live, live_data, recorded_data

    checks = select_checks(options["checks"] or None)
    live_checks = [check for check in checks if check.live]
    settings = {
        "reps": options["reps"],
        "seed": options["seed"] or 0,
        "k": options["k"],
        "like_threshold": options["like_threshold"],
        "permutations": options["permutations"],
        "recommender_file": options["recommender_file"],
    }
    notes: list[str] = []
    if options["predictions"] is not None:
        if run_dir is not None or not options["columns"]:
            raise click.UsageError("--predictions needs --column NAME and no RUN_DIR")
        data = recorded_data(options["predictions"], options["columns"], **_recorded_context(options), **settings)
        source = str(options["predictions"])
        if live_checks:
            notes.append("Recorded output only: checks needing new simulator calls were skipped.")
    else:
        config = None if run_dir is not None else simulation_config({**options, "out": None})
        if options["estimate"] or (live_checks and _pays(config, run_dir)):

            def run_live_checks(data: ValidityData) -> None:
                data.extra["paraphrase_prompts"] = options["paraphrase_prompts"]
                validate(data, [check.name for check in live_checks], references=False)

            estimate = estimate_live(config, run_dir, run_live_checks)
            click.echo(
                f"Live checks: about {estimate.calls:,} calls, {estimate.prompt_tokens:,} prompt + "
                f"{estimate.completion_tokens:,} completion tokens, ${estimate.cost_usd:.4f} with {estimate.model}; "
                f"{estimate.cached:,} more answered by the response cache (first tries only; retries extra)"
            )
        if options["estimate"]:
            return
        data = live_data(config, run_dir, api_key=options["api_key"], **settings)
        data.extra["paraphrase_prompts"] = options["paraphrase_prompts"]
        source = str(run_dir) if run_dir is not None else f"{data.live.config.backend.name} simulator"
    out = options["out"] or (run_dir / "validity" if run_dir is not None else Path("validity"))
    try:
        table = validate(data, [check.name for check in checks])
    finally:
        if data.live is not None:
            data.live.close()
    written = write_validity(table, checks, out, f"Lusifer validity of {source}", notes)
    for note in notes:
        click.echo(f"lusifer: note: {note}", err=True)
    click.echo(f"Wrote {written['report']}, {written['csv']} and {len(written) - 2} plots to {out}")


def _pays(config: Any, run_dir: Path | None) -> bool:
    """Whether the simulator's backend bills calls (then the estimate is printed before any call)."""
    from lusifer.kernel.registry import get_backend
    from lusifer.validity.sources import run_config

    config = run_config(run_dir) if run_dir is not None else config
    return get_backend(config.backend.name).key_name is not None


def _recorded_context(options: dict[str, Any]) -> dict[str, Any]:
    """Training slice and items for recorded output: --history-file, or --protocol paper."""
    from lusifer.evaluation.inputs import paper_protocol, read_history
    from lusifer.validity.sources import paper_items

    if options["history_file"] is not None:
        return {"history": read_history(options["history_file"])}
    if options["protocol"] == "paper":
        history, _ = paper_protocol(options["data_dir"], options["enrich_file"])
        return {"history": history, "items": paper_items(options["data_dir"], options["enrich_file"])}
    return {}
