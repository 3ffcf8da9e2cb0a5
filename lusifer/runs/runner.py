"""A whole simulation run: plan the work, simulate users concurrently, persist, export, summarise.

Re-running with the same configuration and ``--out`` resumes: stored profile steps and feedback are
not asked again, and the response cache answers any call that completed but was not yet stored.
One process at a time works on a run directory (:class:`~lusifer.runs.lock.RunLock`); a folder
that holds other files than a run is refused. ``run.budget_usd`` is for the whole run: what earlier
invocations spent counts, answers in flight when it is reached are kept, and users it left untouched
are "not started". Users that still miss items after their retries get one final re-ask pass.

``run.vendor_batch`` sends the calls through the vendor's batch API (:mod:`lusifer.runs.batch_runner`);
``run.shard = "i/n"`` simulates only the users of shard i (a stable hash of the user id), so that n
machines can share a run and ``lusifer merge`` can put it back together.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lusifer.api.errors import BudgetExceededError, ConfigError, LusiferError
from lusifer.api.run_info import CallCounters, RunInfo, RunSummary
from lusifer.api.version import __version__
from lusifer.engine.backends.errors import REJECTED_ADVICE, RunStoppedError
from lusifer.engine.inputs import histories_by_user, user_info_of
from lusifer.engine.simulator import NOT_STARTED, REPEATED_ANSWER, ProfileError, SimulatedUser
from lusifer.kernel.registry import emit_run_finished, emit_run_started
from lusifer.runs.exports import (
    remove_stale_temporaries,
    write_exports,
    write_summary,
    write_text_atomically,
)
from lusifer.runs.lock import LOCK_FILE, RunLock
from lusifer.runs.run_dir import config_snapshot, default_run_dir, upgraded_snapshot, without_resumable
from lusifer.runs.session import RunPlan, Session, open_session
from lusifer.runs.store import STORE_FILE, RunStore

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.api.settings import LusiferConfig
    from lusifer.runs.progress import RunProgress

#: Passes over users still missing items after the main pass (each asks their missing items again).
FINAL_PASSES = 1


def check_run_dir(out: Path) -> None:
    """Refuse an existing folder that is neither empty nor a run (its files would be overwritten)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    if (out / STORE_FILE).is_file():
        return
    others = sorted(entry.name for entry in out.iterdir() if entry.name != LOCK_FILE)
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise ConfigError(
            f"--out {out} holds other files ({shown}) and is not a Lusifer run: use an empty or new folder"
        )


def check_resumable(store: RunStore, snapshot: dict[str, Any]) -> None:
    """Refuse to continue a stored run whose configuration differs in anything but resumable keys."""
    previous = store.get_meta("config")
    if previous is None:
        return
    differences = sorted(config_differences(upgraded_snapshot(previous), snapshot))
    if differences:
        raise ConfigError(
            f"{store.run_dir} holds a run with a different configuration (differs in: {', '.join(differences)}); "
            "use another --out or the same settings to resume"
        )


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two configuration snapshots, except resumable keys."""
    return _differences(without_resumable(old), without_resumable(new))


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[str]:
    found = []
    for key in sorted(set(old) | set(new)):
        path = (*prefix, key)
        if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            found.extend(_differences(old[key], new[key], path))
        elif old.get(key) != new.get(key):
            found.append(".".join(path))
    return found


def run_simulation(
    config: LusiferConfig, progress: RunProgress | None = None, api_key: str | None = None
) -> tuple[RunInfo, RunSummary]:
    """Run (or resume) a simulation as configured; returns the run and its summary."""
    out, session = prepare_run(config, api_key)
    with _run_directory(out):
        store, run = _open_run(config, session.plan, out)
        summary = RunSummary()
        try:
            summary = asyncio.run(_execute(session, store, run, progress, summary, api_key))
        finally:  # also when interrupted: what is stored is exported, and the summary says so
            _close_run(store, out, config, summary)
        return run, summary


async def simulate(
    config: LusiferConfig, progress: RunProgress | None = None, api_key: str | None = None
) -> tuple[RunInfo, RunSummary]:
    """:func:`run_simulation` for a running event loop (Jupyter, Ray async actors, a web service).

    Loading and checking the inputs runs in a worker thread, so the loop stays responsive; every check
    happens before the run directory is created.
    """
    out, session = await asyncio.to_thread(prepare_run, config, api_key)
    with _run_directory(out):
        store, run = _open_run(config, session.plan, out)
        summary = RunSummary()
        try:
            summary = await _execute(session, store, run, progress, summary, api_key)
        finally:
            _close_run(store, out, config, summary)
        return run, summary


def prepare_run(config: LusiferConfig, api_key: str | None = None) -> tuple[Path, Session]:
    """Check everything a run needs, creating nothing: its folder, Ray when the run asks for it, then the
    session (plan, templates, calibrator, backend: :func:`~lusifer.runs.session.open_session`)."""
    out = Path(config.run.out or default_run_dir(config))
    check_run_dir(out)
    if config.run.executor == "ray":
        from lusifer.runs.ray_executor import check_ray_run

        check_ray_run(config)  # Ray missing, or asked for with --vendor-batch
    return out, open_session(config, api_key)


@contextmanager
def _run_directory(out: Path) -> Iterator[None]:
    """Create and lock ``out`` for the run; a store that cannot be read or written is one clear error."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with RunLock(out):
            yield
    except sqlite3.DatabaseError as error:
        raise LusiferError(
            f"{out / STORE_FILE}: the run store cannot be read or written ({error}); "
            "if the disk is full or read-only, free space or fix permissions and rerun; "
            "if the file is damaged, start again in a new --out"
        ) from None


def _open_run(config: LusiferConfig, plan: RunPlan, out: Path) -> tuple[RunStore, RunInfo]:
    remove_stale_temporaries(out)
    store = RunStore(out)
    snapshot = config_snapshot(config)
    check_resumable(store, snapshot)
    store.set_meta("config", snapshot)
    store.set_meta("versions", {"lusifer": __version__})
    write_text_atomically(out / "config.json", json.dumps(snapshot, indent=2, sort_keys=True))
    if not store.targets():
        history = stored_history(config, plan)
        store.save_history(
            [
                (str(u), str(i), float(r), int(t))
                for u, i, r, t in history[["user_id", "item_id", "rating", "timestamp"]].itertuples(index=False)
            ]
        )
        store.save_targets(
            [
                (str(u), str(i), float(r))
                for u, i, r in plan.targets[["user_id", "item_id", "rating"]].itertuples(index=False)
            ],
            positions=plan.targets.index.tolist(),
        )
    return store, RunInfo(run_id=out.name, out=out, config=snapshot, seed=config.seed)


def stored_history(config: LusiferConfig, plan: RunPlan) -> pd.DataFrame:
    """The training rows a run stores and exports (``history.csv``, what baselines train on): every user's
    in a whole run or shard; only the selected users' with ``--users`` / ``--user-ids``, so that the fixed
    cost of a run follows the users it simulates (community statistics still come from the whole slice)."""
    if config.run.users is None and not config.run.user_ids:
        return plan.history
    return selected_history(plan)


def selected_history(plan: RunPlan) -> pd.DataFrame:
    """The training rows of the plan's users."""
    return plan.history[plan.history["user_id"].astype(str).isin(set(plan.user_ids))]


def _close_run(store: RunStore, out: Path, config: LusiferConfig, summary: RunSummary) -> None:
    try:
        write_exports(store, out, config.run.calibrator)
        write_summary(store, out, summary)
    finally:
        store.close()


async def _execute(
    session: Session,
    store: RunStore,
    run: RunInfo,
    progress: RunProgress | None,
    summary: RunSummary,
    api_key: str | None,
) -> RunSummary:
    """Simulate the session's users in this process, or on Ray workers (``run.executor = "ray"``)."""
    config, backend = session.config, session.backend
    if config.run.executor != "ray":
        return await _simulate(session, store, run, progress, summary)
    from lusifer.runs.ray_executor import simulate_on_ray

    found = backend.api_key
    key = api_key or (found.get_secret_value() if found is not None else None)  # for workers elsewhere
    await backend.aclose()  # each worker makes its own
    emit_run_started(run)
    summary = await simulate_on_ray(config, session.plan, store, run, progress, summary, key, _simulate, _fill_summary)
    emit_run_finished(run, summary)
    return summary


async def _simulate(
    session: Session,
    store: RunStore,
    run: RunInfo,
    progress: RunProgress | None,
    summary: RunSummary,
    announce: bool = True,
) -> RunSummary:
    """Simulate the session's users through one call layer; ``announce``: emit the run lifecycle hooks."""
    config, plan = session.config, session.plan

    def record(exchange: Any) -> None:
        store.add_exchange(exchange)
        if progress is not None:
            progress.exchange(exchange)

    calls, simulator = session.start(store, record)
    calls.prior_cost_usd = float(store.exchange_totals()["cost_usd"])  # the budget is for the whole run
    from lusifer.engine.calls.batch import BatchCallLayer

    batch_calls = calls if isinstance(calls, BatchCallLayer) else None
    users_info = plan.data.users.get("user_info")
    histories = histories_by_user(selected_history(plan))
    targets: dict[str, list[tuple[str, float | None]]] = {}
    for user_id, item_id, truth in store.targets():
        targets.setdefault(user_id, []).append((item_id, truth))
    statuses = store.user_statuses()
    todo = [user for user in plan.user_ids if statuses.get(user, ("",))[0] != "done"]
    if progress is not None:
        progress.start(total=len(plan.user_ids), done=len(plan.user_ids) - len(todo))
    if announce:
        emit_run_started(run)
    # Batch mode needs every user in flight: a batch holds one step of all of them.
    semaphore = asyncio.Semaphore(max(len(todo), 1) if config.run.vendor_batch else config.run.concurrency)
    budget_stop: list[str] = []  # the budget message, once the budget stopped a call

    def stop_for_budget(user_id: str, message: str) -> None:
        budget_stop[:1] = [message]
        store.set_user_status(user_id, NOT_STARTED, f"{NOT_STARTED}: {message}")

    async def simulate_user(user_id: str, final_pass: bool = False) -> None:
        async with semaphore:
            try:
                if budget_stop:  # no new user starts once the budget is reached
                    stop_for_budget(user_id, budget_stop[0])
                    return
                info = user_info_of(users_info, user_id)
                user = SimulatedUser(user_id, info, list(histories.get(user_id, [])))
                await simulator.build_profiles(user)
                done = store.rated_items(user_id)
                todo_items = [item for item, _ in targets.get(user_id, []) if item not in done]
                if todo_items:
                    feedback = await simulator.rate(user, todo_items)
                    truths = dict(targets.get(user_id, []))
                    store.add_feedback(user_id, feedback.ratings, feedback.failures, truths)
                    store.add_distributions(user_id, feedback.distributions)
                    unasked = [reason for reason in feedback.failures.values() if reason.startswith(NOT_STARTED)]
                    if unasked:
                        stop_for_budget(user_id, unasked[0][len(NOT_STARTED) + 2 :])
                        return
                    if feedback.failures:
                        store.set_user_status(user_id, "failed", f"{len(feedback.failures)} items failed")
                        return
                store.set_user_status(user_id, "done")
            except ProfileError as error:
                store.set_user_status(user_id, "failed", str(error))
            except BudgetExceededError as error:
                stop_for_budget(user_id, str(error))
            finally:
                if progress is not None and not final_pass:
                    progress.user_finished()

    tasks = [asyncio.create_task(simulate_user(user_id)) for user_id in todo]
    try:
        if batch_calls is not None:
            from lusifer.runs.batch_runner import run_in_batches

            await run_in_batches(batch_calls, tasks)
        await asyncio.gather(*tasks)
        for _ in range(FINAL_PASSES):  # failed users get their missing items asked once more
            statuses = store.user_statuses()
            again = [user for user in todo if _worth_asking_again(statuses.get(user))]
            if budget_stop or not again or batch_calls is not None:
                break
            await asyncio.gather(*(simulate_user(user, final_pass=True) for user in again))
    except RunStoppedError:  # every further call would fail too (key refused, no server): stop, keep what is stored
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        await calls.aclose()
    if budget_stop:
        summary.failures["budget"] = budget_stop[0]
    _fill_summary(summary, store, plan.user_ids, calls.stats)
    if announce:
        emit_run_finished(run, summary)
    return summary


def _worth_asking_again(status: tuple[str, str | None] | None) -> bool:
    """A failed user whose failure another try may fix (a request the server rejected, or a model that
    repeated its refused answer, would fail again)."""
    reason = (status[1] or "") if status is not None else ""
    hopeless = REJECTED_ADVICE in reason or REPEATED_ANSWER in reason
    return status is not None and status[0] == "failed" and not hopeless


def _fill_summary(summary: RunSummary, store: RunStore, user_ids: list[str], stats: CallCounters) -> None:
    statuses = store.user_statuses()
    summary.users_done = sum(1 for user in user_ids if statuses.get(user, ("",))[0] == "done")
    summary.users_not_started = sum(1 for user in user_ids if statuses.get(user, ("",))[0] == NOT_STARTED)
    summary.users_failed = len(user_ids) - summary.users_done - summary.users_not_started
    feedback = store.feedback("test")
    summary.ratings = sum(1 for row in feedback if row["status"] == "ok")
    summary.ratings_failed = len(store.targets()) - summary.ratings
    summary.counters = replace(stats)
    for user, (status, reason) in statuses.items():
        if status == "failed" and reason:
            summary.failures[user] = reason
