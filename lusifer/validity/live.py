"""The simulator as the live checks use it: rate any items, for any user, at any profile step.

Profiles are built once per user (or read from a finished run's store, which costs nothing) and every
feedback call goes through the run's :class:`~lusifer.engine.calls.CallLayer`, so the response cache answers
what a run already asked. One event loop serves every check, so vendor clients stay usable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lusifer.api.run_info import ProfileState
from lusifer.engine.calls import CallLayer
from lusifer.engine.inputs import community_stats, histories_by_user, item_texts, user_info_of
from lusifer.engine.requests import CatalogueItem
from lusifer.engine.simulator import NO_PROFILE, ProfileError, SimulatedUser, Simulator
from lusifer.kernel.registry import exchange_recorder
from lusifer.runs.session import call_settings

if TYPE_CHECKING:
    from lusifer.api.backend import Backend
    from lusifer.api.settings import LusiferConfig
    from lusifer.runs.session import RunPlan

T = TypeVar("T")


class LiveSimulator:
    """Rates items for the live checks.

    :param config: the simulator's configuration (domain, data, backend, prompts, cache, budget).
    :param plan: its loaded data, training slice and held-out targets (:func:`lusifer.runs.session.plan_run`).
    :param backend: the backend instance to call.
    :param profiles: stored profile states per user (e.g. from a finished run); missing users are built.
    """

    def __init__(
        self,
        config: LusiferConfig,
        plan: RunPlan,
        backend: Backend,
        profiles: dict[str, list[ProfileState]] | None = None,
    ) -> None:
        self.config = config
        self.plan = plan
        self.backend = backend
        self.calls = CallLayer(backend, call_settings(config), on_exchange=exchange_recorder())
        self.items = item_texts(plan.data.items, plan.domain)
        self.community = community_stats(plan.history)
        self.histories = histories_by_user(plan.history)
        self._users_info = plan.data.users.get("user_info")
        self._profiles: dict[str, list[ProfileState]] = dict(profiles or {})
        self._loop = asyncio.new_event_loop()
        self._simulators: dict[tuple[Any, ...], Simulator] = {}

    @property
    def kind(self) -> str:
        return self.plan.domain.scale.kind

    def simulator(self, items: dict[str, CatalogueItem] | None = None, prompts_dir: Path | None = None) -> Simulator:
        """A simulator that rates every requested item in one call (the slate is what the check asks)."""
        key = (id(items), prompts_dir)
        if key not in self._simulators:
            config = self.config.model_copy(deep=True)
            config.run.items_per_call = 10**6
            if prompts_dir is not None:
                config.prompts_dir = prompts_dir
            self._simulators[key] = Simulator(self.plan.domain, self.calls, config, items or self.items, self.community)
        return self._simulators[key]

    async def profiles(self, user_id: str) -> list[ProfileState]:
        """Every history profile step of ``user_id`` (built on first use)."""
        if user_id not in self._profiles:
            user = SimulatedUser(user_id, self.user_info(user_id), list(self.histories.get(user_id, [])))
            await self.simulator().build_profiles(user)
            self._profiles[user_id] = user.profiles
        return self._profiles[user_id]

    def user_info(self, user_id: str) -> str:
        return user_info_of(self._users_info, user_id)

    def steps(self, user_id: str) -> int:
        """Profile steps of the user's history."""
        size = self.config.data.profile_step_size
        return -(-len(self.histories.get(user_id, [])) // size)

    async def rate(
        self,
        user_id: str,
        item_ids: Sequence[str],
        steps: int | None = None,
        items: dict[str, CatalogueItem] | None = None,
        prompts_dir: Path | None = None,
        profile: bool = True,
    ) -> dict[str, float]:
        """Simulated feedback on ``item_ids`` requested together, knowing the first ``steps`` profile
        steps and their history (all when None; 0 = a cold-start user). ``profile=False`` keeps the
        history (recent items, rating statistics) but shows no profile. Failed items are missing."""
        history = list(self.histories.get(user_id, []))
        states = await self.profiles(user_id) if history and steps != 0 and profile else []
        if steps is not None:
            states = states[:steps]
            history = history[: steps * self.config.data.profile_step_size]
        if history and not profile:
            states = [ProfileState(user_id, 0, NO_PROFILE, "", [], "validity")]
        if history and not states:
            return {}
        user = SimulatedUser(user_id, self.user_info(user_id), history, profiles=list(states))
        try:
            result = await self.simulator(items, prompts_dir).rate(user, list(item_ids))
        except ProfileError:
            return {}
        return {item: float(value) for item, value in result.ratings.items()}

    def map_users(self, user_ids: Sequence[str], work: Callable[[str], Awaitable[T]]) -> dict[str, T]:
        """``work(user)`` for every user, ``run.concurrency`` at a time, on the shared event loop."""
        semaphore = asyncio.Semaphore(self.config.run.concurrency)

        async def one(user_id: str) -> tuple[str, T]:
            async with semaphore:
                return user_id, await work(user_id)

        async def everyone() -> list[tuple[str, T]]:
            return await asyncio.gather(*(one(user) for user in user_ids))

        return dict(self._loop.run_until_complete(everyone()))

    def close(self) -> None:
        """Release the backend's clients and the event loop."""
        self._loop.run_until_complete(self.calls.aclose())
        self._loop.close()
