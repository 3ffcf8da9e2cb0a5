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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lusifer.api.errors import ConfigError, NotFoundError
from lusifer.api.run_info import CallCounters, ProfileState
from lusifer.api.settings import LusiferConfig
from lusifer.config import deep_merge
from lusifer.engine.inputs import histories_by_user, user_info_of
from lusifer.engine.simulator import NO_PROFILE, FeedbackResult, ProfileError, SimulatedUser
from lusifer.envs.dynamics import DistributionSampler, NormalNoise, RatingSampler, Retention, population
from lusifer.envs.encoders import EmbeddingCache, TextEncoder, make_encoder
from lusifer.envs.features import CandidateFeatures, Taste, top_scored
from lusifer.envs.leave import LEAVE_DECISIONS, LeaveDecision, ask_leave
from lusifer.envs.rewards import check_baseline, check_reward, choose, default_threshold, slate_reward
from lusifer.kernel.settings import load_config, validate_config
from lusifer.runs.run_dir import config_snapshot
from lusifer.runs.runner import check_resumable
from lusifer.runs.session import open_session
from lusifer.runs.timeline import TimelineStore

if TYPE_CHECKING:
    from lusifer.api.exchange import Exchange
    from lusifer.engine.requests import CatalogueItem, Interaction

T = TypeVar("T")


#: The counters of the step whose coroutine is running (each gathered step runs in its own task): its
#: exchanges (cache hits included), tokens and cost, reported in ``info`` (:attr:`CallCounters.REPORTED`).
_current_usage: contextvars.ContextVar[CallCounters | None] = contextvars.ContextVar("lusifer_env_usage", default=None)


@dataclass
class Catalogue:
    """The items of the environment: the whole catalogue and the candidate set actions index into."""

    item_ids: list[str]
    index: dict[str, int]
    candidate_ids: list[str]
    candidate_index: np.ndarray
    texts: dict[str, CatalogueItem]
    community: dict[str, dict[str, float]]
    candidate_position: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.candidate_position = {item_id: position for position, item_id in enumerate(self.candidate_ids)}


#: Keys ``reset(options=...)`` accepts; any other key is an error.
RESET_OPTIONS = frozenset({"user_id"})
#: What ``actions=`` may be: a slate of K candidates, one candidate per step, or weights that score the
#: candidates' feature rows (the slate is the K best-scored eligible candidates).
ACTION_KINDS = ("slate", "item", "scores")


@dataclass
class Session:
    """One episode of one simulated user."""

    user: SimulatedUser
    user_vector: np.ndarray
    consumed: set[str]
    eligible: np.ndarray
    rng: np.random.Generator
    baseline: float
    taste: Taste | None = None
    #: The candidates' feature rows of the last observation (None once the taste or eligibility changed).
    rows: np.ndarray | None = None
    steps: int = 0
    done: bool = False
    session: int = 0
    misses: int = 0
    shown: int = 0
    liked: int = 0
    last: dict[str, Any] = field(default_factory=dict)
    #: A profile refresh still in flight (``overlap_refresh``) and the profile states from before it,
    #: which the next step's feedback is asked with.
    refresh: tuple[asyncio.Task[ProfileState | None], CallCounters] | None = None
    rating_profiles: list[ProfileState] | None = None


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
        actions: Literal["slate", "item", "scores"] = "slate",
        candidate_features: bool = True,
        repeat_penalty: float = 0.0,
        reward_baseline: Literal["none", "user_mean"] = "none",
        rating_noise: float = 0.0,
        patience: int | None = None,
        leave_decision: Literal["rule", "llm"] = "rule",
        sessions: int = 1,
        return_gap: int = 10,
        users: Sequence[str | int] | None = None,
        user_split: tuple[str, float, int] | None = None,
        max_concurrency: int | None = None,
        overlap_refresh: bool = False,
        sample_distribution: bool = False,
    ) -> None:
        if slate_size < 1 or recent < 1 or (max_steps is not None and max_steps < 1):
            raise ConfigError("slate_size, recent and max_steps must be positive")
        if actions not in ACTION_KINDS:
            raise ConfigError(f"actions must be one of {', '.join(ACTION_KINDS)}, not {actions!r}")
        if actions == "item":
            slate_size = 1
        if actions == "scores" and not candidate_features:
            raise ConfigError("actions='scores' weights the candidate features: keep candidate_features=True")
        if leave_decision not in LEAVE_DECISIONS or (leave_decision == "llm" and feedback != "choose"):
            raise ConfigError(f"leave_decision is 'rule' or, with feedback='choose', 'llm'; not {leave_decision!r}")
        self.leave_decision = leave_decision
        if repeat_penalty < 0 or rating_noise < 0:
            raise ConfigError("repeat_penalty and rating_noise must not be negative")
        self.actions = actions
        self.slate_size = slate_size
        self.feedback = feedback
        self.reward = check_reward(feedback, reward)
        self.reward_baseline = check_baseline(self.reward, reward_baseline)
        self.repeat_penalty = float(repeat_penalty)
        self.overlap_refresh = overlap_refresh
        # choose mode: a user who chooses nothing leaves at once unless a patience is given (or the LLM decides)
        by_rule = feedback == "choose" and leave_decision == "rule"
        self.retention = Retention(1 if patience is None and by_rule else patience, sessions, return_gap)
        self.max_steps = max_steps
        self.recent = recent
        self.seed = seed
        self.config = _resolve_config(
            config,
            {
                "domain": domain,
                "dataset": dataset,
                "data": {"path": data_dir, "enrich_file": enrich_file, "fold": fold, "history": history},
                "backend": {"name": backend, "model": model, "base_url": base_url, "max_concurrency": max_concurrency},
                "run": {
                    "refresh_every": refresh_every,
                    "feedback_output": "distribution" if sample_distribution else "value",
                },
            },
        )
        session = open_session(self.config, api_key)  # the same assembly as `lusifer run`
        plan = session.plan
        self.domain = plan.domain
        self.scale = plan.domain.scale
        self.threshold = default_threshold(self.scale) if threshold is None else threshold
        self.histories: dict[str, list[Interaction]] = histories_by_user(plan.history)
        self.users = population(list(self.histories), users, user_split)
        self._users_table = plan.data.users
        community = session.community
        self.catalogue = _catalogue(session.item_texts, community, candidates)
        self.embed = EmbeddingCache(make_encoder(encoder))
        catalogue = self.catalogue
        self.features = (
            CandidateFeatures(
                catalogue.item_ids,
                catalogue.candidate_index,
                catalogue.texts,
                community,
                self.scale.high - self.scale.low,
            )
            if candidate_features
            else None
        )
        self.sampler: RatingSampler | None = (
            NormalNoise(rating_noise, int(self.scale.low), int(self.scale.high)) if rating_noise else None
        )
        if sample_distribution:  # draw each rating from the backend's distribution of the item
            self.sampler = DistributionSampler(self.sampler)

        self.store: TimelineStore | None = None
        if run_dir is not None:
            self.store = TimelineStore(Path(run_dir))
            snapshot = config_snapshot(self.config)
            check_resumable(self.store, snapshot)
            self.store.set_meta("config", snapshot)
        self.loop = EventLoop()
        self.calls, self.simulator = session.start(self.store, self._record, item_texts=self.catalogue.texts)
        self._phase_one: dict[str, asyncio.Future[list[ProfileState]]] = {}
        self.observation_space, self.action_space = self._spaces()

    # spaces and observations ------------------------------------------------------------------------
    @property
    def pad(self) -> int:
        """The value of an empty slot in ``recent_items`` (the catalogue size)."""
        return len(self.catalogue.item_ids)

    def _spaces(self) -> tuple[spaces.Dict, spaces.Space[Any]]:
        low, high = self.embed.bounds()
        dim = self.embed.encoder.dim
        size = len(self.catalogue.candidate_ids)
        keys: dict[str, spaces.Space[Any]] = {
            "user": spaces.Box(low, high, (dim,), np.float32),
            "profile": spaces.Box(low, high, (dim,), np.float32),
            "recent_items": spaces.Box(0, self.pad, (self.recent,), np.int64),
            "recent_ratings": spaces.Box(min(0, self.scale.low), self.scale.high, (self.recent,), np.float32),
            "eligible": spaces.MultiBinary(size),
        }
        if self.features is not None:
            column_low, column_high = self.features.bounds()
            keys["candidates"] = spaces.Box(
                np.tile(column_low, (size, 1)), np.tile(column_high, (size, 1)), dtype=np.float32
            )
        observation = spaces.Dict(keys)
        if self.actions == "scores":
            assert self.features is not None
            return observation, spaces.Box(-1.0, 1.0, (self.features.dim,), np.float32)
        if self.actions == "item":
            return observation, spaces.Discrete(size)
        return observation, spaces.MultiDiscrete(np.full(self.slate_size, size, np.int64))

    def action_masks(self, session: Session) -> np.ndarray:
        """sb3-contrib's ``MaskablePPO`` mask: the eligible candidates, once per slate position (flat)."""
        return self.masks(session.eligible)

    def masks(self, eligible: np.ndarray) -> np.ndarray:
        """The action mask of an ``eligible`` vector (see :meth:`action_masks`)."""
        eligible = eligible.astype(np.bool_)
        return eligible if self.actions != "slate" else np.tile(eligible, self.slate_size)

    def observe(self, session: Session) -> dict[str, np.ndarray]:
        """The observation of ``session``: O(recent), whatever the length of the user's history."""
        items = np.full(self.recent, self.pad, np.int64)
        ratings = np.zeros(self.recent, np.float32)
        for position, entry in enumerate(reversed(session.user.history[-self.recent :])):
            items[position] = self.catalogue.index[entry.item_id]
            ratings[position] = entry.rating
        observation = {
            "user": session.user_vector.copy(),
            "profile": self.embed(session.user.profile or NO_PROFILE).copy(),
            "recent_items": items,
            "recent_ratings": ratings,
            "eligible": session.eligible.copy(),
        }
        if self.features is not None and session.taste is not None:
            if session.rows is None:
                session.rows = self.features.rows(session.taste, session.eligible)
            observation["candidates"] = session.rows.copy()
        return observation

    # episodes -------------------------------------------------------------------------------------------
    def sample_user(self, rng: np.random.Generator) -> str:
        return self.users[int(rng.integers(len(self.users)))]

    def check_options(self, options: dict[str, Any] | None, known: frozenset[str] = RESET_OPTIONS) -> dict[str, Any]:
        """``reset`` options, refusing unknown keys (a misspelt key would silently do nothing)."""
        options = dict(options or {})
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"unknown reset option(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
            )
        return options

    async def start(
        self, user_id: str, rng: np.random.Generator | None = None, *, seed: int | None = None
    ) -> tuple[Session, dict[str, Any]]:
        """A new episode of ``user_id`` from their real history and profile (built on first use).

        The episode's own generator (rating noise) is seeded with ``seed``, or with a draw from ``rng``
        taken before anything is awaited, so concurrent starts draw in the order they were created."""
        usage = _begin_usage()
        user_id = str(user_id)
        history = self.histories.get(user_id)
        if history is None and not self._known_user(user_id):
            raise NotFoundError(f"unknown user {user_id!r}")
        if rng is not None:
            seed = int(rng.integers(2**63))
        profiles = await self._profiles(user_id)
        user = SimulatedUser(user_id, self._user_info(user_id), list(history or ()), list(profiles))
        consumed = {entry.item_id for entry in user.history}
        eligible = np.array([item not in consumed for item in self.catalogue.candidate_ids], dtype=np.int8)
        stats = user.stats()
        baseline = float(stats["mean"]) if stats else (self.scale.low + self.scale.high) / 2
        session = Session(user, self.embed(user.user_info), consumed, eligible, np.random.default_rng(seed), baseline)
        if self.features is not None:
            session.taste = self.features.taste(user.history)
        info = {
            "user_id": user_id,
            "history_length": len(user.history),
            "profile_step": profiles[-1].step if profiles else -1,
            **usage.as_dict(CallCounters.REPORTED),
        }
        return session, info

    def prepare(self, user_id: str) -> None:
        """Start building ``user_id``'s phase-1 profile in the background (it progresses while steps run)."""
        if user_id not in self._phase_one and user_id in self.histories:
            task = asyncio.ensure_future(self._profiles(user_id), loop=self.loop.loop)
            task.add_done_callback(lambda done: done.cancelled() or done.exception())  # errors resurface at start()

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
        if session.done:
            raise gym.error.ResetNeeded("the episode has ended: call reset() before step()")
        usage = _begin_usage()
        slate = self._slate(action, session)
        new, duplicates, consumed = [], [], []
        for position, item_id in enumerate(slate):
            if item_id in slate[:position]:
                duplicates.append(item_id)
            elif item_id in session.consumed:
                consumed.append(item_id)
            else:
                new.append(item_id)
        user = session.user
        rater = user if session.rating_profiles is None else replace(user, profiles=session.rating_profiles)
        result = await self.simulator.rate(rater, new) if new else FeedbackResult()
        if isinstance(self.sampler, DistributionSampler):
            self.sampler.offer(result.distributions)
        rated = [
            (item_id, self._sample(session, item_id, result.ratings[item_id]))
            for item_id in new
            if item_id in result.ratings
        ]
        info: dict[str, Any] = {
            "user_id": user.user_id,
            "slate": slate,
            "feedback": dict(rated),
            "failures": dict(result.failures),
            "already_consumed": consumed,
            "duplicates": duplicates,
        }
        baseline = session.baseline if self.reward_baseline == "user_mean" else 0.0
        if self.feedback == "choose":
            chosen = choose(rated, self.threshold)
            taken = {} if chosen is None else {chosen: dict(rated)[chosen]}
            info["chosen"] = chosen
            reward = slate_reward(self.reward, [], self.threshold, None if chosen is None else taken[chosen], baseline)
        else:
            taken = dict(rated)
            reward = slate_reward(self.reward, list(taken.values()), self.threshold, None, baseline)
        reward -= self.repeat_penalty * (len(duplicates) + len(consumed))
        liked = sum(1 for rating in taken.values() if rating >= self.threshold)
        verdict = None
        if self.leave_decision == "llm":
            verdict = await self._ask_leave(session, slate, dict(rated), info)
        terminated = self._retain(session, liked, info, verdict)
        if self.store is not None and (rated or result.failures):
            self.store.add_feedback(user.user_id, dict(rated), result.failures, {}, source="online")
        session.consumed.update(taken)
        session.rows = None
        for item_id, rating in taken.items():
            if self.features is not None and session.taste is not None:
                self.features.add(session.taste, item_id, rating)
            slot = self.catalogue.candidate_position.get(item_id)
            if slot is not None:
                session.eligible[slot] = 0
        info["profile_refreshed"] = False
        if session.refresh is not None:  # the refresh started last step ran alongside this step's rating
            await self._report_refresh(*session.refresh, usage, info)
            session.refresh, session.rating_profiles = None, None
        if taken:
            refresh = self._observe(user, taken)
            await asyncio.sleep(0)  # observe() appends the feedback before its first await
            if self.overlap_refresh and not refresh[0].done() and not self._ends(session, terminated):
                session.refresh, session.rating_profiles = refresh, list(user.profiles)
            else:
                await self._report_refresh(*refresh, usage, info)
        session.steps += 1
        truncated = self.max_steps is not None and session.steps >= self.max_steps
        session.done = terminated or truncated
        info.update(step=session.steps, **usage.as_dict(CallCounters.REPORTED))
        session.last = {"reward": reward, **info}
        return StepOutcome(reward, terminated, truncated, info)

    def _ends(self, session: Session, terminated: bool) -> bool:
        """Whether the step being taken is the episode's last (no later step could report a refresh)."""
        return terminated or (self.max_steps is not None and session.steps + 1 >= self.max_steps)

    def _observe(
        self, user: SimulatedUser, taken: dict[str, int]
    ) -> tuple[asyncio.Task[ProfileState | None], CallCounters]:
        """Append ``taken`` and refresh the profile if due, as a task with its own usage record."""
        context, usage = contextvars.copy_context(), CallCounters()
        context.run(_current_usage.set, usage)
        # a task runs in a copy of the context it is created in (create_task's context= needs Python 3.11)
        return context.run(asyncio.get_running_loop().create_task, self.simulator.observe(user, taken)), usage

    @staticmethod
    async def _report_refresh(
        refresh: asyncio.Task[ProfileState | None], spent: CallCounters, usage: CallCounters, info: dict[str, Any]
    ) -> None:
        """Wait for a refresh, count its calls in ``usage`` and describe it in ``info``."""
        try:
            state = await refresh
        except ProfileError as error:  # feedback is kept; the refresh is retried with the next one
            info["failures"]["profile"] = str(error)
            return
        finally:
            usage.add(spent)
        if state is not None:
            info.update(profile_refreshed=True, profile_step=state.step, profile_explanation=state.explanation)

    def _sample(self, session: Session, item_id: str, rating: int) -> int:
        return rating if self.sampler is None else self.sampler.sample(item_id, rating, session.rng)

    async def _ask_leave(
        self, session: Session, slate: list[str], ratings: dict[str, int], info: dict[str, Any]
    ) -> bool:
        """The user's own leave decision (``leave_decision="llm"``); without one, leave if nothing was chosen."""
        shown = {item_id: ratings.get(item_id) for item_id in dict.fromkeys(slate)}
        decision = await ask_leave(self.simulator, session.user, shown, info["chosen"], session.steps + 1)
        if isinstance(decision, LeaveDecision):
            info["leave_reason"] = decision.reason
            return decision.leave
        info["failures"]["leave"] = decision
        return info["chosen"] is None

    def _retain(self, session: Session, liked: int, info: dict[str, Any], verdict: bool | None = None) -> bool:
        """Count a disappointing step; True when the user leaves for good (see :class:`Retention`).
        ``verdict``: the user's own decision to leave now (``leave_decision="llm"``)."""
        session.shown += 1
        session.liked += liked > 0
        session.misses = 0 if liked else session.misses + 1
        info.update(session=session.session, left=False)
        if not (verdict or self.retention.leaves(session.misses)):
            return False
        info["left"] = True
        if session.session + 1 >= self.retention.sessions:
            return True
        info["return_gap"] = self.retention.return_gap(session.liked, session.shown)
        session.session, session.misses, session.shown, session.liked = session.session + 1, 0, 0, 0
        return False

    def _slate(self, action: Any, session: Session) -> list[str]:
        candidates = self.catalogue.candidate_ids
        if self.actions == "scores":
            assert self.features is not None and session.taste is not None
            weights = np.asarray(action, dtype=np.float64).reshape(-1)
            if weights.shape != (self.features.dim,) or not np.isfinite(weights).all():
                raise ValueError(f"an action is {self.features.dim} finite feature weights, not {action!r}")
            rows = self.features.rows(session.taste, session.eligible) if session.rows is None else session.rows
            return [candidates[i] for i in top_scored(rows, weights, session.eligible, self.slate_size).tolist()]
        indices = np.asarray(action).reshape(-1)  # a Discrete action is one index
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
        self.loop.run(_cancel_pending())
        self.loop.run(self.calls.aclose())
        self.loop.close()
        if self.store is not None:
            self.store.close()


async def _cancel_pending() -> None:
    """Cancel what still runs in the background (refreshes in flight, prepared profiles)."""
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def _begin_usage() -> CallCounters:
    usage = CallCounters()
    _current_usage.set(usage)
    return usage


def _resolve_config(config: str | Path | LusiferConfig | None, overrides: dict[str, Any]) -> LusiferConfig:
    overrides = {key: value for key, value in overrides.items() if value is not None}
    for key, value in list(overrides.items()):
        if isinstance(value, dict):
            overrides[key] = {inner: item for inner, item in value.items() if item is not None}
    if isinstance(config, LusiferConfig):
        return validate_config(deep_merge(config.model_dump(), overrides))
    return load_config(Path(config) if config is not None else None, overrides=overrides)


def _catalogue(
    texts: dict[str, CatalogueItem],
    community: dict[str, dict[str, float]],
    candidates: int | Sequence[str | int] | None,
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
