"""``lusifer run``, ``estimate``, ``merge`` and ``show``: simulate users, then inspect what a run stored."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lusifer.api.settings import LusiferConfig


def data_options(function: Any) -> Any:
    """Options shared by every command that loads data."""
    options = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="TOML config file (default: ./lusifer.toml if present).",
        ),
        click.option("--domain", help="Domain (default: movies)."),
        click.option("--dataset", help="Dataset of the domain (default: ml-100k)."),
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="An already-unpacked official dataset folder (skips the download).",
        ),
        click.option(
            "--enrich-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="CSV of extra item text (e.g. TMDB overviews) keyed by item id.",
        ),
        click.option("--fold", help="Train/test split (ML-100K: u1..u5, ua, ub)."),
        click.option("--seed", type=int, help="Seed for splits, sampling and the backend."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


#: The configuration key each flag sets (by click parameter name); a flag left unset sets nothing.
DATA_FLAGS: dict[str, tuple[str, ...]] = {
    "domain": ("domain",),
    "dataset": ("dataset",),
    "seed": ("seed",),
    "data_dir": ("data", "path"),
    "enrich_file": ("data", "enrich_file"),
    "fold": ("data", "fold"),
}
SIMULATION_FLAGS: dict[str, tuple[str, ...]] = {
    **DATA_FLAGS,
    "history": ("data", "history"),
    "profile_step": ("data", "profile_step_size"),
    "context_items": ("data", "context_items"),
    "test_items": ("data", "test_items"),
    "prompts_dir": ("prompts_dir",),
    "backend": ("backend", "name"),
    "model": ("backend", "model"),
    "base_url": ("backend", "base_url"),
    "max_concurrency": ("backend", "max_concurrency"),
    "out": ("run", "out"),
    "users": ("run", "users"),
    "user_ids": ("run", "user_ids"),
    "items_per_call": ("run", "items_per_call"),
    "concurrency": ("run", "concurrency"),
    "budget_usd": ("run", "budget_usd"),
    "calibrator": ("run", "calibrator"),
    "vendor_batch": ("run", "vendor_batch"),
    "batch_poll": ("run", "batch_poll"),
    "shard": ("run", "shard"),
    "executor": ("run", "executor"),
    "workers": ("run", "workers"),
    "ray_address": ("run", "ray_address"),
    "feedback_output": ("run", "feedback_output"),
    "cache_enabled": ("cache", "enabled"),
    "cache_refresh": ("cache", "refresh"),
}
#: Renamed flags, old -> new (by click parameter name): the old ones still work, with a one-line warning.
RENAMED_FLAGS = {"batch_size": "profile_step", "rating_batch": "items_per_call", "batch": "vendor_batch"}


def flag_overrides(options: dict[str, Any], table: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The configuration keys the given flags set, nested like the TOML file (``table``: flag -> key)."""
    overrides: dict[str, Any] = {}
    for name, key in table.items():
        value = options.get(name)
        if value is None:
            continue
        target = overrides
        for part in key[:-1]:
            target = target.setdefault(part, {})
        target[key[-1]] = value
    return overrides


def data_overrides(options: dict[str, Any]) -> dict[str, Any]:
    """The keys the data flags set."""
    return flag_overrides(options, DATA_FLAGS)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _renamed_flags(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with each deprecated flag's value under its new name (a one-line warning each)."""
    options = dict(options)
    for old, new in RENAMED_FLAGS.items():
        value = options.pop(old, None)
        if value is None or value is False:
            continue
        if options.get(new) not in (None, False):
            raise click.UsageError(f"{_flag(old)} and {_flag(new)} are one setting: keep only {_flag(new)}")
        click.echo(f"warning: {_flag(old)} is deprecated, use {_flag(new)}", err=True)
        options[new] = value
    return options


def simulation_options(function: Any) -> Any:
    """Options that select and shape a run (shared by ``run`` and ``estimate``)."""
    options = [
        click.option(
            "--protocol",
            type=click.Choice(["paper"]),
            help="Preset: the paper's protocol (fold u1, last 40 in batches of 10, 10 context items, "
            "first 10 test items with an overview; needs --enrich-file).",
        ),
        click.option("--backend", help="LLM backend (default: offline; see `lusifer backends`)."),
        click.option("-m", "--model", help="Model name for the backend."),
        click.option("--base-url", help="Base URL of an OpenAI-compatible or Anthropic server."),
        click.option("--users", type=int, help="Simulate the first N users."),
        click.option("--user-ids", help="Comma-separated user ids to simulate."),
        click.option("--history", type=int, help="Last N history items per user for the profile (default 40)."),
        click.option("--profile-step", type=int, help="History items folded into the profile per step (default 10)."),
        click.option("--batch-size", type=int, hidden=True, help="Deprecated name of --profile-step."),
        click.option("--context-items", type=int, help="Recent rated items shown when rating (default 10)."),
        click.option("--test-items", type=int, help="First k test items per user (default 10)."),
        click.option("--items-per-call", type=int, help="Items rated per feedback call (default 20)."),
        click.option("--rating-batch", type=int, hidden=True, help="Deprecated name of --items-per-call."),
        click.option(
            "--vendor-batch", is_flag=True, help="Use the vendor's batch API: half price, answers within 24 h."
        ),
        click.option("--batch", is_flag=True, hidden=True, help="Deprecated name of --vendor-batch."),
        click.option(
            "--distribution", is_flag=True, help="Keep a probability per scale point of each rating (and its mean)."
        ),
        click.option("--shard", help="'i/n': simulate only shard i of n of the users (merge with `lusifer merge`)."),
        click.option(
            "--prompts-dir", type=click.Path(file_okay=False, path_type=Path), help="Folder overriding templates."
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return data_options(function)


def simulation_config(options: dict[str, Any]) -> LusiferConfig:
    """The layered configuration with the command's flags on top."""
    from lusifer.config import deep_merge
    from lusifer.kernel.settings import load_config

    options = _renamed_flags(options)
    if options["user_ids"] is not None:
        user_ids = [part.strip() for part in options["user_ids"].split(",") if part.strip()]
        if not user_ids:
            raise click.BadParameter("names no user id (give e.g. --user-ids 1,2,3)", param_hint="--user-ids")
        options["user_ids"] = user_ids
    options["vendor_batch"] = True if options.get("vendor_batch") else None  # an on-only flag: off sets nothing
    options["feedback_output"] = "distribution" if options.get("distribution") else None
    options["cache_enabled"] = False if options.get("no_cache") else None
    options["cache_refresh"] = True if options.get("refresh_cache") else None
    overrides = flag_overrides(options, SIMULATION_FLAGS)
    if options["protocol"] == "paper":  # the preset sits just below the flags
        from lusifer.domains.movies.protocol import PAPER_DATA

        overrides = deep_merge({"data": PAPER_DATA}, overrides)
    config = load_config(options["config_file"], overrides)
    if options["protocol"] == "paper" and config.data.enrich_file is None:
        raise click.UsageError("--protocol paper needs --enrich-file (items with an overview)")
    return config


@click.command(name="run")
@simulation_options
@click.option("--key", "api_key", help="API key for this run only (prefer `lusifer keys set`).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run directory (default: runs/<domain>-<dataset>-<backend>-<model>-<config hash>, so a rerun resumes).",
)
@click.option("--concurrency", type=int, help="Users simulated at once (default 8).")
@click.option("--max-concurrency", type=int, help="Requests in flight at once (default 8).")
@click.option("--budget-usd", type=float, help="Stop cleanly before spending more than this.")
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="'ray': spread the users over Ray workers (pip install 'lusifer[ray]'); default: this process.",
)
@click.option("--ray-address", help="Ray cluster to join with --executor ray (default: start a local one).")
@click.option("--workers", type=int, help="Ray workers with --executor ray (default: the cluster's CPUs).")
@click.option("--batch-poll", type=float, help="Seconds between status checks of a batch (default 30).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the response cache.")
@click.option("--refresh-cache", is_flag=True, help="Ask again, ignoring cached answers (and store the new ones).")
@click.option(
    "--calibrator",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Calibrator saved by `lusifer evaluate`: adds calibrated_rating to ratings.csv.",
)
@click.option("--progress/--no-progress", default=None, help="Live progress (default: when stderr is a terminal).")
def run_command(**options: Any) -> None:
    """Simulate users: build evolving profiles, then rate their held-out items.

    Writes a run directory with run.sqlite (source of truth), ratings.csv, profiles.jsonl, history.csv,
    Parquet twins, config.json and summary.json. Rerun the same command to resume.
    """
    from lusifer.runs.progress import RunProgress
    from lusifer.runs.run_dir import default_run_dir
    from lusifer.runs.runner import run_simulation

    config = simulation_config(options)
    if config.run.out is None:  # fixed now, so that an interrupted run can say where it resumes
        config.run.out = default_run_dir(config)
    progress = RunProgress(enabled=options["progress"], out=config.run.out)
    previous_handler = signal.signal(signal.SIGTERM, _terminate_like_ctrl_c)
    try:
        run, summary = run_simulation(config, progress, api_key=options["api_key"])
    except KeyboardInterrupt:
        progress.stop()
        _report_interrupted(config.run.out)
        sys.exit(130)
    finally:
        progress.stop()
        signal.signal(signal.SIGTERM, previous_handler)
    click.echo(
        f"{run.out}: users {summary.users_done} done / {summary.users_failed} failed; ratings {summary.ratings} "
        f"done / {summary.ratings_failed} failed; calls {summary.calls}, cache hits {summary.cache_hits}, "
        f"tokens {summary.prompt_tokens + summary.completion_tokens:,}, cost ${summary.cost_usd:.4f}"
    )
    if not summary.ok:
        budget = summary.failures.pop("budget", None)
        for user, reason in list(summary.failures.items())[:5]:
            click.echo(f"  failed {user}: {reason}", err=True)
        from lusifer.engine.backends.errors import REJECTED_ADVICE

        if budget is not None:
            click.echo(
                f"Stopped by the budget ({budget}); {summary.users_not_started} users not started. "
                "Rerun the same command with a larger --budget-usd to continue (the budget is for the whole run).",
                err=True,
            )
        elif any(REJECTED_ADVICE in reason for reason in summary.failures.values()):
            click.echo("The server rejected the requests: change what is sent (see above), then rerun.", err=True)
        else:
            click.echo("Some work failed; rerun the same command to retry it (completed work is kept).", err=True)
        sys.exit(1)


def _terminate_like_ctrl_c(signum: int, frame: Any) -> None:
    """SIGTERM stops a run as Ctrl-C does: answers stored so far are kept and exported."""
    signal.raise_signal(signal.SIGINT)


def _report_interrupted(out: Path) -> None:
    from lusifer.runs.exports import SUMMARY_FILE

    kept = ""
    try:
        summary = json.loads((out / SUMMARY_FILE).read_text(encoding="utf-8"))
        kept = (
            f": kept {summary['ratings']} of {summary['ratings'] + summary['ratings_failed']} ratings and "
            f"{summary['users_done']} of {summary['users']} users done (${summary['cost_usd']:.4f} spent)"
        )
    except (OSError, ValueError, KeyError):
        pass
    click.echo(f"Interrupted{kept}. Resume: rerun the same command with --out {out}", err=True)


def estimate_interval_line(estimate: Any) -> str:
    """The estimate's interval, and what it was calibrated on."""
    (prompt_low, prompt_high), (completion_low, completion_high) = (
        estimate.prompt_tokens_range,
        estimate.completion_tokens_range,
    )
    basis = (
        f"95 % interval calibrated on the exchanges stored in {estimate.calibrated_from}"
        if estimate.calibrated_from
        else "uncalibrated range; run a few users with --out DIR, then estimate with --calibrate-from DIR"
    )
    return (
        f"  prompt {prompt_low:,}-{prompt_high:,}, completion {completion_low:,}-{completion_high:,} tokens, "
        f"${estimate.cost_range_usd[0]:.2f}-${estimate.cost_range_usd[1]:.2f} ({basis})"
    )


@click.command(name="estimate")
@simulation_options
@click.option(
    "--calibrate-from",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A run directory (a pilot run) whose stored answers calibrate token counts and the interval.",
)
def estimate_command(calibrate_from: Path | None, **options: Any) -> None:
    """Predict the calls, tokens and cost of a run (same options as `run`) without calling anything."""
    from lusifer.runs.estimate import estimate_run
    from lusifer.runs.session import plan_run

    config = simulation_config(options)
    estimate = estimate_run(config, plan_run(config), _calibration(config, calibrate_from))
    click.echo(
        f"{estimate.users} users, {estimate.ratings} ratings: about {estimate.calls:,} calls, "
        f"{estimate.prompt_tokens:,} prompt + {estimate.completion_tokens:,} completion tokens, "
        f"${estimate.cost_usd:.2f} with {config.backend.name}/{estimate.model} "
        f"{' at batch prices' if config.run.vendor_batch else ''} "
        "(first tries only; cached answers are free, retries extra)"
    )
    if config.run.users is not None and estimate.users < config.run.users:
        click.echo(
            f"Note: --users {config.run.users} asked for more users than the {estimate.users} who have test items "
            "in the chosen train/test split (--fold, after --test-items and text requirements); only they can be "
            "simulated and scored."
        )
    click.echo(estimate_interval_line(estimate))


def _calibration(config: Any, run_dir: Path | None) -> Any:
    """The calibration from the exchanges stored in ``run_dir`` (an error if it holds none)."""
    from lusifer.runs.estimate_calibration import calibration_from_store

    if run_dir is None:
        return None
    calibration = calibration_from_store(run_dir, config.backend.model)
    if calibration is None:
        from lusifer.api.errors import ConfigError

        raise ConfigError(f"--calibrate-from {run_dir}: no answered exchanges stored there to calibrate on")
    return calibration


@click.command(name="merge")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.argument("shard_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
def merge_command(out: Path, shard_dirs: tuple[Path, ...]) -> None:
    """Merge partial runs into one run in OUT: every `lusifer run --shard i/n` once, or runs of disjoint
    --user-ids lists. Writes the exports and summary.json of the merged run."""
    from lusifer.runs.merge import merge_shards

    store = merge_shards(out, shard_dirs)  # writes the exports and summary.json
    try:
        statuses = [status for status, _ in store.user_statuses().values()]
        rated = sum(1 for row in store.feedback("test") if row["status"] == "ok")
        click.echo(
            f"{out}: {len(shard_dirs)} runs merged; users {statuses.count('done')} done / "
            f"{len(statuses) - statuses.count('done')} failed; ratings {rated} of {len(store.targets())}"
        )
    finally:
        store.close()


@click.group(name="show")
def show_group() -> None:
    """Inspect a run directory."""


@show_group.command(name="user")
@click.argument("user_id")
@click.option("--run", "run_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
def show_user(user_id: str, run_dir: Path) -> None:
    """Print USER_ID's profile timeline with explanations and the rated items behind each step, then their
    simulated feedback beside the truth (items by title where the run's dataset is on this machine)."""
    from lusifer.api.errors import NotFoundError
    from lusifer.runs.run_items import history_ratings, item_titles
    from lusifer.runs.store import STORE_FILE, RunStore

    if not (run_dir / STORE_FILE).exists():
        raise NotFoundError(f"{run_dir} is not a run directory (no {STORE_FILE})")
    store = RunStore(run_dir)
    try:
        states = store.profiles(user_id)
        status, reason = store.user_statuses().get(user_id, (None, None))
        if not states and status != "failed":
            raise NotFoundError(f"user {user_id} has no profile in {run_dir}")
        if status == "failed":
            click.echo(f"--- failed: {reason or 'no reason was stored'}")
        titles, rated = item_titles(run_dir), history_ratings(store)

        def named(item: str) -> str:
            return f"{titles[item]} ({item})" if item in titles else item

        for state in states:
            click.echo(f"--- step {state.step} ({state.source}; {len(state.item_ids)} items)")
            for item in state.item_ids:
                rating = rated.get((user_id, item))
                click.echo(f"  {named(item)}: rated {'?' if rating is None else f'{rating:g}'}")
            click.echo(f"why: {state.explanation}")
            click.echo(state.profile)
        rows = [row for row in store.feedback(None) if row["user_id"] == user_id]
        if rows:
            click.echo("--- feedback (item: simulated / true)")
            for row in rows:
                value = row["simulated"] if row["status"] == "ok" else f"failed ({row['reason']})"
                truth = "" if row["truth"] is None else f" / {row['truth']:g}"
                click.echo(f"{named(row['item_id'])}: {value}{truth}")
    finally:
        store.close()
