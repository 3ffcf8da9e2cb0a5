"""``run.executor = "ray"``: a run's users spread over Ray workers, their results streamed into the one run store.

The driver (the process running ``lusifer run`` or :func:`~lusifer.runs.runner.simulate`) plans the
run and opens its directory and store exactly as a single-process run does. It then splits the users still
to do over ``run.workers`` Ray actors (default: the cluster's CPUs, at most one per user). Each worker gets
the plan through Ray's object store (no shared file system needed for the data), builds its own backend and
call layer, and simulates its users with the single-process code path. Every write that path makes to the
run store (exchange, profile step, feedback, distributions, user status) is streamed back to the driver
within :data:`FLUSH_SECONDS` and applied to the driver's store in the order it happened, so the run
directory, resuming and the exports are those of a single-process run.

Limits are split evenly (no shared limiter actor, so no round trip per call): worker ``i`` of ``N`` gets its
share of ``backend.max_concurrency``, ``run.concurrency``, ``backend.requests_per_minute``,
``backend.tokens_per_minute`` and of the budget left (``run.budget_usd`` minus what the run already
spent), so the workers together never exceed any of them. A worker whose budget share is spent leaves its
remaining users "not started"; a rerun splits what is left again. With ``backend.base_urls`` (replicas of
one model, say one server per node), worker ``i`` calls replica ``i mod n``; the limits stay totals over
all workers (``max_concurrency``: what all replicas accept together).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from lusifer.api.errors import ConfigError
from lusifer.api.run_info import CallCounters, ProfileState, RunInfo, RunSummary
from lusifer.engine.calls.cache import default_cache_path
from lusifer.runs.store import RunStore

if TYPE_CHECKING:
    from lusifer.api.exchange import Exchange
    from lusifer.api.settings import LusiferConfig
    from lusifer.runs.progress import RunProgress

#: A :class:`lusifer.runs.session.RunPlan` (not imported: the runner imports this module).
RunPlan = Any

#: Seconds a worker collects store writes before sending them to the driver in one message.
FLUSH_SECONDS = 0.1

#: A store write: the :class:`~lusifer.runs.store.RunStore` method and its arguments, or a progress event.
Record = tuple[str, tuple[Any, ...]]

#: The store methods a worker's writes are replayed through on the driver.
STORE_WRITES: dict[str, Callable[..., None]] = {
    "add_exchange": RunStore.add_exchange,
    "add_profile": RunStore.add_profile,
    "add_feedback": RunStore.add_feedback,
    "add_distributions": RunStore.add_distributions,
    "set_user_status": RunStore.set_user_status,
}

#: How the single-process runner simulates a plan (``runner._simulate``), given to the workers.
SimulatePlan = Callable[..., Awaitable[RunSummary]]
FillSummary = Callable[[RunSummary, RunStore, list[str], CallCounters], None]

RAY_MISSING = "--executor ray needs Ray: pip install 'lusifer[ray]'"


@dataclasses.dataclass
class PartitionState:
    """What the driver's store holds about one worker's users, so that they resume where they stopped."""

    targets: list[tuple[str, str, float | None]]
    statuses: dict[str, tuple[str, str | None]]
    rated: dict[str, set[str]]
    profiles: dict[str, list[ProfileState]]
    prior_cost_usd: float


def partition_state(store: RunStore, users: list[str], prior_cost_usd: float) -> PartitionState:
    """The stored targets, statuses, rated items and profile steps of ``users``."""
    wanted = set(users)
    profiles: dict[str, list[ProfileState]] = {}
    for state in store.profiles():
        if state.user_id in wanted:
            profiles.setdefault(state.user_id, []).append(state)
    rated: dict[str, set[str]] = {}
    for row in store.feedback("test"):
        if row["user_id"] in wanted and row["status"] == "ok":
            rated.setdefault(row["user_id"], set()).add(row["item_id"])
    return PartitionState(
        targets=[target for target in store.targets() if target[0] in wanted],
        statuses={user: status for user, status in store.user_statuses().items() if user in wanted},
        rated=rated,
        profiles=profiles,
        prior_cost_usd=prior_cost_usd,
    )


class StreamingStore:
    """The part of :class:`~lusifer.runs.store.RunStore` a simulation uses, for a Ray worker: reads come from a
    :class:`PartitionState`, and every write is kept there and handed to ``send`` for the driver's store."""

    def __init__(self, state: PartitionState, send: Callable[[Record], None]) -> None:
        self.state = state
        self.send = send

    def exchange_totals(self) -> dict[str, float]:
        return {"cost_usd": self.state.prior_cost_usd}

    def targets(self) -> list[tuple[str, str, float | None]]:
        return list(self.state.targets)

    def user_statuses(self) -> dict[str, tuple[str, str | None]]:
        return dict(self.state.statuses)

    def rated_items(self, user_id: str, source: str = "test") -> set[str]:
        return set(self.state.rated.get(user_id, set()))

    def profiles(self, user_id: str | None = None) -> list[ProfileState]:
        if user_id is not None:
            return list(self.state.profiles.get(user_id, []))
        return [state for states in self.state.profiles.values() for state in states]

    def feedback(self, source: str | None = "test") -> list[dict[str, Any]]:
        """The rated items (status ``ok``) of the partition: what the runner's summary counts."""
        return [
            {"user_id": user, "item_id": item, "status": "ok"}
            for user, items in self.state.rated.items()
            for item in items
        ]

    def add_exchange(self, exchange: Exchange) -> None:
        self.send(("add_exchange", (exchange,)))

    def add_profile(self, state: ProfileState) -> None:
        steps = self.state.profiles.setdefault(state.user_id, [])
        steps[:] = [step for step in steps if step.step != state.step] + [state]
        self.send(("add_profile", (state,)))

    def add_feedback(
        self,
        user_id: str,
        results: dict[str, int],
        failures: dict[str, str],
        truths: dict[str, float | None],
        source: str = "test",
    ) -> None:
        if source == "test":
            self.state.rated.setdefault(user_id, set()).update(results)
        self.send(("add_feedback", (user_id, results, failures, truths, source)))

    def add_distributions(self, user_id: str, distributions: dict[str, dict[int, float]], source: str = "test") -> None:
        self.send(("add_distributions", (user_id, distributions, source)))

    def set_user_status(self, user_id: str, status: str, reason: str | None = None) -> None:
        self.state.statuses[user_id] = (status, reason)
        self.send(("set_user_status", (user_id, status, reason)))


class ForwardedProgress:
    """A worker's progress: each finished user is sent to the driver's display (exchanges travel as writes)."""

    def __init__(self, send: Callable[[Record], None]) -> None:
        self.send = send

    def start(self, total: int, done: int) -> None:
        """The driver's display already counts the whole run."""

    def exchange(self, exchange: Exchange) -> None:
        """Shown by the driver when it stores the exchange."""

    def user_finished(self) -> None:
        self.send(("user_finished", ()))


class PartitionWorker:
    """A Ray actor: simulates one partition of a run's users and streams its store writes back."""

    async def simulate(
        self,
        config: LusiferConfig,
        plan: RunPlan,
        users: list[str],
        state: PartitionState,
        run: RunInfo,
        api_key: str | None,
        simulate_plan: SimulatePlan,
    ) -> AsyncIterator[list[Record]]:
        """Yield lists of records as the partition's users progress; the last one holds ``("summary", ...)``."""
        from lusifer.engine.inputs import community_stats, item_texts
        from lusifer.runs.backend_factory import create_backend
        from lusifer.runs.session import Session

        queue: asyncio.Queue[Record] = asyncio.Queue()
        store, progress = StreamingStore(state, queue.put_nowait), ForwardedProgress(queue.put_nowait)
        partition = dataclasses.replace(plan, user_ids=users)
        texts = item_texts(partition.data.items, partition.domain)
        session = Session(config, partition, create_backend(config, api_key), texts, community_stats(partition.history))
        work = asyncio.ensure_future(simulate_plan(session, store, run, progress, RunSummary(), announce=False))
        while not (work.done() and queue.empty()):
            waiting = asyncio.ensure_future(queue.get())
            finished, _ = await asyncio.wait({waiting, work}, return_when=asyncio.FIRST_COMPLETED)
            if waiting not in finished:
                waiting.cancel()
                continue
            batch = [waiting.result()]
            deadline = time.monotonic() + FLUSH_SECONDS
            while not work.done() and time.monotonic() < deadline:
                await asyncio.wait({work}, timeout=deadline - time.monotonic())
            while not queue.empty():
                batch.append(queue.get_nowait())
            yield batch
        yield [("summary", (work.result(),))]  # raises the partition's error, after its writes were sent


def worker_config(config: LusiferConfig, index: int, count: int, prior_cost_usd: float) -> LusiferConfig:
    """Worker ``index``'s (0-based) configuration: its even share of every limit and of the budget left, and
    its replica of ``backend.base_urls`` (round robin)."""
    worker = config.model_copy(deep=True)
    worker.run.executor = "local"
    worker.cache.path = config.cache.path or default_cache_path()  # the driver's, also on a worker's machine
    if config.backend.base_urls:
        worker.backend.base_url = config.backend.base_urls[index % len(config.backend.base_urls)]
    worker.run.concurrency = share(config.run.concurrency, index, count)
    worker.backend.max_concurrency = share(config.backend.max_concurrency, index, count)
    if config.backend.requests_per_minute is not None:
        worker.backend.requests_per_minute = config.backend.requests_per_minute / count
    if config.backend.tokens_per_minute is not None:
        worker.backend.tokens_per_minute = config.backend.tokens_per_minute / count
    if config.run.budget_usd is not None:
        left = max(config.run.budget_usd - prior_cost_usd, 0.0)
        worker.run.budget_usd = prior_cost_usd + left / count
    return worker


def share(total: int, index: int, count: int) -> int:
    """Worker ``index``'s part of ``total`` split over ``count`` workers (parts differ by at most one; >= 1)."""
    return max(1, total // count + (1 if index < total % count else 0))


async def simulate_on_ray(
    config: LusiferConfig,
    plan: RunPlan,
    store: RunStore,
    run: RunInfo,
    progress: RunProgress | None,
    summary: RunSummary,
    api_key: str | None,
    simulate_plan: SimulatePlan,
    fill_summary: FillSummary,
) -> RunSummary:
    """Simulate ``plan``'s users still to do on Ray workers, storing their results in ``store``."""
    ray = check_ray_run(config)
    statuses = store.user_statuses()
    todo = [user for user in plan.user_ids if statuses.get(user, ("",))[0] != "done"]
    if progress is not None:
        progress.start(total=len(plan.user_ids), done=len(plan.user_ids) - len(todo))
    totals = CallCounters()
    if todo:
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=config.run.ray_address, include_dashboard=False, logging_level="WARNING")
        try:
            results = await _run_partitions(ray, config, plan, store, run, progress, api_key, simulate_plan, todo)
        finally:
            if started_here:
                ray.shutdown()
        for result in results:
            totals.add(result.counters)
            if "budget" in result.failures:
                summary.failures["budget"] = result.failures["budget"]
    fill_summary(summary, store, plan.user_ids, totals)
    return summary


async def _run_partitions(
    ray: Any,
    config: LusiferConfig,
    plan: RunPlan,
    store: RunStore,
    run: RunInfo,
    progress: RunProgress | None,
    api_key: str | None,
    simulate_plan: SimulatePlan,
    todo: list[str],
) -> list[RunSummary]:
    """Start one actor per partition of ``todo`` and apply their streamed writes until all are done."""
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    count = min(config.run.workers or max(int(cpus), 1), len(todo))
    worker_class = ray.remote(PartitionWorker).options(
        num_cpus=min(1.0, cpus / count), scheduling_strategy="SPREAD", max_concurrency=1000
    )
    plan_reference = ray.put(plan)
    prior = float(store.exchange_totals()["cost_usd"])
    workers = [worker_class.remote() for _ in range(count)]
    streams = []
    for index, worker in enumerate(workers):
        users = todo[index::count]
        streams.append(
            worker.simulate.remote(
                worker_config(config, index, count, prior),
                plan_reference,  # in the object store once, for every worker
                users,
                partition_state(store, users, prior),
                run,
                api_key,
                simulate_plan,
            )
        )
    drains = [asyncio.ensure_future(_apply(ray, stream, store, progress)) for stream in streams]
    try:
        return list(await asyncio.gather(*drains))
    except BaseException:
        for drain in drains:
            drain.cancel()
        for worker in workers:
            ray.kill(worker)
        raise


async def _apply(ray: Any, stream: Any, store: RunStore, progress: RunProgress | None) -> RunSummary:
    """Replay a worker's streamed writes on the driver's store; return the worker's summary."""
    result = RunSummary()
    try:
        async for reference in stream:
            for name, arguments in await reference:
                if name == "summary":
                    result = cast(RunSummary, arguments[0])
                elif name == "user_finished":
                    if progress is not None:
                        progress.user_finished()
                else:
                    STORE_WRITES[name](store, *arguments)
                    if name == "add_exchange" and progress is not None:
                        progress.exchange(arguments[0])
    except ray.exceptions.RayTaskError as error:  # the worker's own error (a refused key, a broken store)
        raise error.cause from None
    return result


def check_ray_run(config: LusiferConfig) -> Any:
    """The ``ray`` module, once the configuration is known to suit a Ray run.

    :raises ConfigError: Ray is not installed, or the run asks for vendor batches.
    """
    if config.run.vendor_batch:
        raise ConfigError(
            "--executor ray does not combine with --vendor-batch (a vendor batch already runs server-side)"
        )
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray
