"""What the single and the vector environment share: data, simulated users, the call layer, spaces.

:class:`RecommenderCore` loads a domain's dataset once, owns one asyncio event loop and one call layer,
and turns a slate into a step outcome for one :class:`Session` (one user's episode) as a coroutine, so
the vector environment can gather the steps of many users into one batch of concurrent LLM calls.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
from gymnasium import spaces

from lusifer.backends.factory import create_backend
from lusifer.calls import CallLayer
from lusifer.config import LusiferConfig, deep_merge, load_config
from lusifer.envs.encoders import EmbeddingCache, TextEncoder, make_encoder
from lusifer.envs.rewards import check_reward, choose, default_threshold, slate_reward
from lusifer.errors import ConfigError, NotFoundError
from lusifer.simulation.inputs import community_stats, histories_by_user, item_texts, user_info_of
from lusifer.simulation.runner import check_resumable, config_snapshot, plan_run
from lusifer.simulation.simulator import NO_PROFILE, FeedbackResult, ProfileError, SimulatedUser, Simulator
from lusifer.store import ProfileState, RunStore

if TYPE_CHECKING:
    from lusifer.exchange import Exchange
    from lusifer.simulation.requests import Interaction, ItemText

T = TypeVar("T")


class TimelineStore(RunStore):
    """A run store that keeps every episode's profile states: online states get the next free step
    number of their user, so episodes of the same user never overwrite each other."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self._next_step: dict[str, int] = {}

    def add_profile(self, state: ProfileState) -> None:
        user = state.user_id
        if user not in self._next_step:
            self._next_step[user] = max((stored.step for stored in self.profiles(user)), default=-1) + 1
        if state.source != "history":
            state = replace(state, step=max(state.step, self._next_step[user]))
        super().add_profile(state)
        self._next_step[user] = max(self._next_step[user], state.step + 1)


@dataclass
class Usage:
    """Calls, tokens and cost spent on behalf of one step (or one reset)."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def as_info(self) -> dict[str, Any]:
        return asdict(self)


#: The usage record of the step whose coroutine is running (each gathered step runs in its own task).
_current_usage: contextvars.ContextVar[Usage | None] = contextvars.ContextVar("lusifer_env_usage", default=None)


@dataclass
class Catalogue:
    """The items of the environment: the whole catalogue and the candidate set actions index into."""

    item_ids: list[str]
    index: dict[str, int]
    candidate_ids: list[str]
    candidate_index: np.ndarray
    texts: dict[str, ItemText]
    community: dict[str, dict[str, float]]


@dataclass
class Session:
    """One episode of one simulated user."""

    user: SimulatedUser
    user_vector: np.ndarray
    consumed: set[str]
    steps: int = 0


@dataclass
class StepOutcome:
    """What one step returns besides the observation."""

    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any] = field(default_factory=dict)


class EventLoop:
    """The environment's own event loop. Coroutines run with ``run_until_complete``; when the caller is
    itself inside a running loop (e.g. Jupyter), they run on a helper thread instead."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._helper: ThreadPoolExecutor | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self.loop.run_until_complete(coroutine)
        if self._helper is None:
            self._helper = ThreadPoolExecutor(1, thread_name_prefix="lusifer-env")
        return self._helper.submit(self.loop.run_until_complete, coroutine).result()

    def close(self) -> None:
        if self._helper is not None:
            self._helper.shutdown()
        self.loop.close()


class RecommenderCore:
    """Data, simulator, call layer, caches and spaces shared by the users of one environment.

    Keyword arguments are those of :class:`lusifer.envs.recommender.RecommenderEnv`.
    """

    def __init__(
        self,
        *,
        domain: str | None = None,
        dataset: str | None = None,
        data_dir: str | Path | None = None,
        enrich_file: str | Path | None = None,
        fold: str | None = None,
        backend: str | None = None,
        model: str | None = None,
        base_url: str | None = None,
        config: str | Path | LusiferConfig | None = None,
        slate_size: int = 5,
        feedback: Literal["rate", "choose"] = "rate",
        reward: str | None = None,
        threshold: float | None = None,
        max_steps: int | None = 20,
        candidates: int | Sequence[str | int] | None = None,
        history: int | None = None,
        refresh_every: int | None = None,
        recent: int = 10,
        run_dir: str | Path | None = None,
        encoder: str | TextEncoder = "hashing",
        seed: int | None = None,
        api_key: str | None = None,
    ) -> None:
        if slate_size < 1 or recent < 1 or (max_steps is not None and max_steps < 1):
            raise ConfigError("slate_size, recent and max_steps must be positive")
        self.slate_size = slate_size
        self.feedback = feedback
        self.reward = check_reward(feedback, reward)
        self.max_steps = max_steps
        self.recent = recent
        self.seed = seed
        self.config = _resolve_config(
            config,
            {
                "domain": domain,
                "dataset": dataset,
                "data": {"path": data_dir, "enrich_file": enrich_file, "fold": fold, "history": history},
                "backend": {"name": backend, "model": model, "base_url": base_url},
                "run": {"refresh_every": refresh_every},
            },
        )
        plan = plan_run(self.config)
        self.domain = plan.domain
        self.scale = plan.domain.scale
        self.threshold = default_threshold(self.scale) if threshold is None else threshold
        self.histories: dict[str, list[Interaction]] = histories_by_user(plan.history)
        self.users = list(self.histories)
        self._users_table = plan.data.users
        community = community_stats(plan.history)
        self.catalogue = _catalogue(item_texts(plan.data.items), community, candidates)
        self.embed = EmbeddingCache(make_encoder(encoder))
        llm = create_backend(self.config, api_key)

        self.store: TimelineStore | None = None
        if run_dir is not None:
            self.store = TimelineStore(Path(run_dir))
            snapshot = config_snapshot(self.config)
            check_resumable(self.store, snapshot)
            self.store.set_meta("config", snapshot)
        self.loop = EventLoop()
        self.calls = CallLayer(llm, self.config, on_exchange=self._record)
        self.simulator = Simulator(self.domain, self.calls, self.config, self.catalogue.texts, community, self.store)
        self._phase_one: dict[str, asyncio.Future[list[ProfileState]]] = {}
        self.observation_space, self.action_space = self._spaces()

    # spaces and observations ------------------------------------------------------------------------
    @property
    def pad(self) -> int:
        """The value of an empty slot in ``recent_items`` (the catalogue size)."""
        return len(self.catalogue.item_ids)

    def _spaces(self) -> tuple[spaces.Dict, spaces.MultiDiscrete]:
        low, high = self.embed.bounds()
        dim = self.embed.encoder.dim
        observation = spaces.Dict(
            {
                "user": spaces.Box(low, high, (dim,), np.float32),
                "profile": spaces.Box(low, high, (dim,), np.float32),
                "recent_items": spaces.Box(0, self.pad, (self.recent,), np.int64),
                "recent_ratings": spaces.Box(min(0, self.scale.low), self.scale.high, (self.recent,), np.float32),
            }
        )
        action = spaces.MultiDiscrete(np.full(self.slate_size, len(self.catalogue.candidate_ids), np.int64))
        return observation, action

    def observe(self, session: Session) -> dict[str, np.ndarray]:
        """The observation of ``session``: O(recent), whatever the length of the user's history."""
        items = np.full(self.recent, self.pad, np.int64)
        ratings = np.zeros(self.recent, np.float32)
        for position, entry in enumerate(reversed(session.user.history[-self.recent :])):
            items[position] = self.catalogue.index[entry.item_id]
            ratings[position] = entry.rating
        return {
            "user": session.user_vector.copy(),
            "profile": self.embed(session.user.profile or NO_PROFILE).copy(),
            "recent_items": items,
            "recent_ratings": ratings,
        }

    # episodes -------------------------------------------------------------------------------------------
    def sample_user(self, rng: np.random.Generator) -> str:
        return self.users[int(rng.integers(len(self.users)))]

    async def start(self, user_id: str) -> tuple[Session, dict[str, Any]]:
        """A new episode of ``user_id`` from their real history and profile (built on first use)."""
        usage = _begin_usage()
        user_id = str(user_id)
        history = self.histories.get(user_id)
        if history is None and not self._known_user(user_id):
            raise NotFoundError(f"unknown user {user_id!r}")
        profiles = await self._profiles(user_id)
        user = SimulatedUser(user_id, self._user_info(user_id), list(history or ()), list(profiles))
        session = Session(user, self.embed(user.user_info), {entry.item_id for entry in user.history})
        info = {
            "user_id": user_id,
            "history_length": len(user.history),
            "profile_step": profiles[-1].step if profiles else -1,
            **usage.as_info(),
        }
        return session, info

    async def _profiles(self, user_id: str) -> list[ProfileState]:
        """Phase 1 of ``user_id``, once per environment (concurrent first uses share one build)."""
        future = self._phase_one.get(user_id)
        if future is None:
            future = asyncio.ensure_future(self._build(user_id))
            self._phase_one[user_id] = future
        try:
            return await asyncio.shield(future)
        except BaseException:
            if future.done() and (future.cancelled() or future.exception() is not None):
                self._phase_one.pop(user_id, None)
            raise

    async def _build(self, user_id: str) -> list[ProfileState]:
        user = SimulatedUser(user_id, self._user_info(user_id), list(self.histories.get(user_id, ())))
        await self.simulator.build_profiles(user)
        return user.profiles

    def _known_user(self, user_id: str) -> bool:
        index = self._users_table.index
        return user_id in index or (user_id.isdigit() and int(user_id) in index)

    def _user_info(self, user_id: str) -> str:
        return user_info_of(self._users_table.get("user_info"), user_id)

    async def step(self, session: Session, action: Any) -> StepOutcome:
        """Show the slate ``action`` (candidate indices) to the user of ``session``."""
        usage = _begin_usage()
        slate = self._slate(action)
        new, duplicates, consumed = [], [], []
        for position, item_id in enumerate(slate):
            if item_id in slate[:position]:
                duplicates.append(item_id)
            elif item_id in session.consumed:
                consumed.append(item_id)
            else:
                new.append(item_id)
        user = session.user
        result = await self.simulator.rate(user, new) if new else FeedbackResult()
        rated = [(item_id, result.ratings[item_id]) for item_id in new if item_id in result.ratings]
        info: dict[str, Any] = {
            "user_id": user.user_id,
            "slate": slate,
            "feedback": dict(rated),
            "failures": dict(result.failures),
            "already_consumed": consumed,
            "duplicates": duplicates,
        }
        if self.feedback == "choose":
            chosen = choose(rated, self.threshold)
            taken = {} if chosen is None else {chosen: result.ratings[chosen]}
            info["chosen"] = chosen
            reward = slate_reward(self.reward, [], self.threshold, None if chosen is None else taken[chosen])
            terminated = chosen is None
        else:
            taken = dict(rated)
            reward = slate_reward(self.reward, list(taken.values()), self.threshold, None)
            terminated = False
        if self.store is not None and (rated or result.failures):
            self.store.add_feedback(user.user_id, dict(rated), result.failures, {}, source="online")
        session.consumed.update(taken)
        info["profile_refreshed"] = False
        if taken:
            try:
                state = await self.simulator.observe(user, taken)
            except ProfileError as error:  # feedback is kept; the refresh is retried with the next one
                info["failures"]["profile"] = str(error)
                state = None
            if state is not None:
                info.update(profile_refreshed=True, profile_step=state.step, profile_explanation=state.explanation)
        session.steps += 1
        truncated = self.max_steps is not None and session.steps >= self.max_steps
        info.update(step=session.steps, **usage.as_info())
        return StepOutcome(reward, terminated, truncated, info)

    def _slate(self, action: Any) -> list[str]:
        indices = np.asarray(action).reshape(-1)
        candidates = self.catalogue.candidate_ids
        if (
            indices.shape[0] != self.slate_size
            or indices.dtype.kind not in "iu"
            or (indices.size and (indices.min() < 0 or indices.max() >= len(candidates)))
        ):
            raise ValueError(
                f"an action is {self.slate_size} integer candidate indices in [0, {len(candidates)}), not {action!r}"
            )
        return [candidates[index] for index in indices.tolist()]

    # call accounting and cleanup ------------------------------------------------------------------------
    def _record(self, exchange: Exchange) -> None:
        usage = _current_usage.get()
        if usage is not None:
            usage.calls += 1
            usage.cache_hits += exchange.cache_hit
            usage.prompt_tokens += exchange.prompt_tokens
            usage.completion_tokens += exchange.completion_tokens
            usage.cost_usd += exchange.cost_usd
        if self.store is not None:
            self.store.add_exchange(exchange)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` to completion on the environment's event loop."""
        return self.loop.run(coroutine)

    def close(self) -> None:
        """Close the call layer (and its backend), the event loop and the run store."""
        if self.loop.loop.is_closed():
            return
        self.loop.run(self.calls.aclose())
        self.loop.close()
        if self.store is not None:
            self.store.close()


def _begin_usage() -> Usage:
    usage = Usage()
    _current_usage.set(usage)
    return usage


def _resolve_config(config: str | Path | LusiferConfig | None, overrides: dict[str, Any]) -> LusiferConfig:
    overrides = {key: value for key, value in overrides.items() if value is not None}
    for key, value in list(overrides.items()):
        if isinstance(value, dict):
            overrides[key] = {inner: item for inner, item in value.items() if item is not None}
    if isinstance(config, LusiferConfig):
        return LusiferConfig.model_validate(deep_merge(config.model_dump(), overrides)).with_defaults()
    return load_config(Path(config) if config is not None else None, overrides=overrides)


def _catalogue(
    texts: dict[str, ItemText], community: dict[str, dict[str, float]], candidates: int | Sequence[str | int] | None
) -> Catalogue:
    item_ids = list(texts)
    index = {item_id: position for position, item_id in enumerate(item_ids)}
    if candidates is None:
        chosen = item_ids
    elif isinstance(candidates, (int, np.integer)):
        if not 1 <= candidates <= len(community):
            raise ConfigError(f"candidates={candidates}: the training slice rates {len(community)} items")
        chosen = sorted(community, key=lambda item: (-community[item]["count"], index[item]))[: int(candidates)]
    else:
        chosen = [str(item) for item in candidates]
        unknown = [item for item in chosen if item not in index]
        if unknown or not chosen or len(set(chosen)) != len(chosen):
            raise ConfigError(
                f"candidates must be distinct catalogue item ids (unknown: {', '.join(unknown[:5]) or 'none'})"
            )
    positions = np.array([index[item] for item in chosen], dtype=np.int64)
    return Catalogue(item_ids, index, list(chosen), positions, texts, community)
