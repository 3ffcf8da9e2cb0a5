"""``RecommenderEnv``: a Gymnasium environment in which an agent recommends slates to one simulated user.

See ``docs/rl-environment.md`` for the full description of spaces, feedback modes and rewards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, SupportsFloat

import gymnasium as gym
import numpy as np

from lusifer.api.errors import ConfigError
from lusifer.envs.core import Catalogue, RecommenderCore, Session
from lusifer.envs.render import render_text

if TYPE_CHECKING:
    from lusifer.engine.simulator import SimulatedUser
    from lusifer.envs.encoders import TextEncoder


class RecommenderEnv(gym.Env[dict[str, Any], Any]):  # actions: an int ("item") or an array of K indices
    """One simulated user per episode, recommended ``slate_size`` items per step.

    Keyword arguments (all optional):

    :param domain: installed domain name (default: the configured one, ``movies``).
    :param dataset: dataset of the domain (default: the configured one, ``ml-100k``).
    :param data_dir: an unpacked official dataset folder (otherwise downloaded to the data cache).
    :param enrich_file: CSV of extra item text (movies: TMDB overviews).
    :param fold: train/test fold; users start from the last ``history`` ratings of its training part.
    :param backend: LLM backend name (``offline``, ``openai``, ``anthropic``, ...).
    :param model: model of the backend.
    :param base_url: API base URL (OpenAI-compatible servers).
    :param config: a ``lusifer.toml`` path or a :class:`~lusifer.api.settings.LusiferConfig`; the keyword
        arguments above override it. Without it, ``./lusifer.toml`` and ``LUSIFER_*`` variables apply.
    :param slate_size: K, items per recommendation.
    :param feedback: ``"rate"`` (the user rates every new item) or ``"choose"`` (the user consumes the
        best-rated item if it reaches ``threshold``, else leaves: the episode terminates).
    :param reward: ``"mean_rating"`` or ``"liked_count"`` with ``rate``; ``"chosen_rating"`` with
        ``choose`` (default: the first of these for the feedback mode).
    :param threshold: lowest rating that counts as liked / is good enough to choose (default: 4 on
        1-5 stars, 1 on a 0/1 scale).
    :param max_steps: steps before the episode is truncated (None: never).
    :param candidates: what actions index: None for the whole catalogue, M for the M most-rated items of
        the training slice, or an explicit list of item ids.
    :param history: N, the last N training ratings a user starts from (default: configured, 40).
    :param refresh_every: m, fold new feedback into the profile every m interactions (default: 10).
    :param recent: k, interactions shown in ``recent_items`` / ``recent_ratings``.
    :param run_dir: persist profile states (every step, with explanations), feedback and exchanges in a
        run store there; ``lusifer show user ID --run DIR`` replays them.
    :param encoder: ``"hashing"`` (default), ``"sentence-transformers[:model]"`` or an object with
        ``dim`` and ``encode(list[str]) -> np.ndarray``.
    :param seed: seed of the first ``reset()`` that gives none (the data split follows the configuration's
        ``seed``).
    :param api_key: the backend's key (default: stored key or the vendor's environment variable).
    :param actions: ``"slate"`` (``MultiDiscrete``, K candidates), ``"item"`` (``Discrete``, one candidate) or
        ``"scores"`` (``Box``: weights over the candidate features; the slate is the K best-scored eligible ones).
    :param candidate_features: add the ``candidates`` observation key, one feature row per candidate (default).
    :param repeat_penalty: subtracted from the reward per duplicate or already-consumed item of a slate.
    :param reward_baseline: ``"user_mean"`` takes rating rewards relative to the user's mean rating.
    :param rating_noise: standard deviation of a seeded normal around the backend's ratings (0: none).
    :param patience: the user leaves after this many consecutive steps with no liked new item (None:
        never in ``rate`` mode; 1 in ``choose`` mode).
    :param leave_decision: ``"rule"`` (``patience``) or, in ``choose`` mode, ``"llm"``: the user says after
        each step whether they leave, with a short reason (``info["leave_reason"]``).
    :param sessions: sessions per episode: a user who leaves with sessions left returns after a gap.
    :param return_gap: the longest gap before returning (a fully disappointing session).
    :param users: the user ids episodes are drawn from.
    :param user_split: ``("train" | "test", fraction, seed)``: draw from one part of a seeded user split.
    :param max_concurrency: LLM requests in flight at once (``backend.max_concurrency``).
    :param render_mode: ``"ansi"`` (``render()`` returns text) or ``"human"`` (prints it every step).
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "human"], "render_fps": 1}  # noqa: RUF012

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode must be one of {', '.join(self.metadata['render_modes'])} or None")
        self.render_mode = render_mode
        self.core = RecommenderCore(**kwargs)
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self._session: Session | None = None

    @property
    def catalogue(self) -> Catalogue:
        """Item ids of the catalogue and of the candidate set (``candidate_ids[action[i]]``)."""
        return self.core.catalogue

    @property
    def encoder(self) -> TextEncoder:
        """The text encoder of the observations (e.g. to encode item texts the same way)."""
        return self.core.embed.encoder

    @property
    def user(self) -> SimulatedUser | None:
        """The current episode's simulated user: history and every profile state (None before reset)."""
        return None if self._session is None else self._session.user

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode for ``options["user_id"]`` or a user drawn with ``self.np_random``."""
        if seed is None and self._np_random is None:
            seed = self.core.seed
        super().reset(seed=seed)
        user_id = self.core.check_options(options).get("user_id")
        if user_id is None:
            user_id = self.core.sample_user(self.np_random)
        self._session, info = self.core.run(self.core.start(user_id, self.np_random))
        if self.render_mode == "human":
            self.render()
        return self.core.observe(self._session), info

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], SupportsFloat, bool, bool, dict[str, Any]]:
        """Recommend the slate ``action`` (K candidate indices); see the class docstring for feedback."""
        if self._session is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        outcome = self.core.run(self.core.step(self._session, action))
        if self.render_mode == "human":
            self.render()
        return self.core.observe(self._session), outcome.reward, outcome.terminated, outcome.truncated, outcome.info

    def action_masks(self) -> np.ndarray:
        """The valid actions (sb3-contrib ``MaskablePPO``): unconsumed candidates, flat over the slate
        positions for ``MultiDiscrete``; one per candidate for ``actions="item"``."""
        if self._session is None:
            raise gym.error.ResetNeeded("call reset() before action_masks()")
        return self.core.action_masks(self._session)

    def render(self) -> str | None:
        """The last slate with its feedback and the current profile's explanation: returned as text
        (``"ansi"``) or printed (``"human"``)."""
        if self.render_mode is None:
            gym.logger.warn("render() needs render_mode='ansi' or 'human'")
            return None
        text = "" if self._session is None else render_text(self.core, self._session)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        """Close the call layer, the event loop and the run store."""
        self.core.close()
        super().close()
