"""Assemble :class:`~lusifer.api.validity.ValidityData` from recorded output, a finished run or a live
simulator, and estimate what the live checks will cost before any call is made."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from lusifer.api.backend import Backend, LLMRequest, LLMResponse, Usage
from lusifer.api.errors import DataError
from lusifer.api.prompt_context import FeedbackContext
from lusifer.api.validity import ValidityData

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.api.settings import LusiferConfig
    from lusifer.validity.live import LiveSimulator

SIMULATED = "simulated_rating"


def paper_items(data_dir: Path | None, enrich_file: Path | None) -> pd.DataFrame:
    """The ML-100K item table (titles and text) of the paper protocol."""
    from lusifer.domains.movies.protocol import PAPER_DATASET, PAPER_DOMAIN, paper_data_config
    from lusifer.kernel.registry import get_domain

    return get_domain(PAPER_DOMAIN).load(PAPER_DATASET, paper_data_config(data_dir, enrich_file)).items


def recorded_data(
    predictions: Path,
    columns: Sequence[str],
    history: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    **settings: Any,
) -> ValidityData:
    """Recorded predictions (``user_id, item_id|movie_id, rating`` and ``columns``) as battery input."""
    from lusifer.evaluation.inputs import read_predictions

    frame = read_predictions(predictions, columns, "rating")
    if "scale" not in settings:  # clicks are 0/1; ratings span what the truth spans
        truth = frame["rating"]
        binary = set(truth.unique()) <= {0.0, 1.0}
        settings["scale"] = (0.0, 1.0) if binary else (float(truth.min()), float(truth.max()))
    return ValidityData(frame, list(columns), history=history, items=items, **settings)


def run_config(run_dir: Path) -> LusiferConfig:
    """The configuration a run directory was made with (``config.json``)."""
    from lusifer.api.settings import LusiferConfig

    path = run_dir / "config.json"
    if not path.is_file():
        raise DataError(f"{run_dir}: not a run directory (no config.json)")
    try:
        return LusiferConfig.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as error:
        raise DataError(f"{path}: not a valid run configuration ({str(error).splitlines()[0]})") from None


def _stored_profiles(run_dir: Path) -> dict[str, list[Any]]:
    from lusifer.runs.store import STORE_FILE, RunStore

    if not (run_dir / STORE_FILE).exists():
        return {}
    store = RunStore(run_dir)
    try:
        profiles: dict[str, list[Any]] = {}
        for state in store.profiles():
            if state.source == "history":
                profiles.setdefault(state.user_id, []).append(state)
        return {user: sorted(states, key=lambda s: s.step) for user, states in profiles.items()}
    finally:
        store.close()


def live_data(
    config: LusiferConfig | None = None,
    run_dir: Path | None = None,
    backend: Backend | None = None,
    api_key: str | None = None,
    **settings: Any,
) -> ValidityData:
    """Battery input with a live simulator: a finished run's output (its config, ratings and stored
    profiles; only the checks' extra calls are made) or, without ``run_dir``, fresh held-out ratings."""
    from lusifer.evaluation.inputs import read_run_dir
    from lusifer.runs.backend_factory import create_backend
    from lusifer.runs.session import plan_run
    from lusifer.validity.live import LiveSimulator

    if run_dir is not None:
        config = run_config(Path(run_dir))
    if config is None:
        raise DataError("live validation needs a configuration or a run directory")
    plan = plan_run(config)
    backend = backend or create_backend(config, api_key)
    live = LiveSimulator(config, plan, backend, _stored_profiles(Path(run_dir)) if run_dir else None)
    if run_dir is not None:
        frame = read_run_dir(Path(run_dir), [SIMULATED]).frame
    else:
        frame = plan.targets[["user_id", "item_id", "rating"]].reset_index(drop=True).copy()
        frame[SIMULATED] = simulate_targets(live, frame)
    scale = (float(plan.domain.scale.low), float(plan.domain.scale.high))
    return ValidityData(
        frame, [SIMULATED], history=plan.history, items=plan.data.items, scale=scale, live=live, **settings
    )


def simulate_targets(live: LiveSimulator, frame: pd.DataFrame) -> list[float]:
    """The simulator's ratings of each user's held-out items, requested together per user."""
    users, items = frame["user_id"].astype(str).tolist(), frame["item_id"].astype(str).tolist()
    targets: dict[str, list[str]] = {}
    for user, item in zip(users, items):
        targets.setdefault(user, []).append(item)
    ratings = live.map_users(list(targets), lambda user: live.rate(user, targets[user]))
    return [ratings[user].get(item, float("nan")) for user, item in zip(users, items)]


# Estimate ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidityEstimate:
    """Predicted calls, tokens and price of the live checks; ``cached`` requests are already answered
    by the response cache (free)."""

    calls: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    model: str
    cost_usd: float


class CountingBackend(Backend):
    """Answers like the offline backend while counting the calls and tokens the real model would get.

    A request the real backend's response cache already answers counts as ``cached`` instead (the
    cache is only read, never written).
    """

    name = "estimate"
    key_name = None
    default_model = "estimate"
    cacheable = False

    def __init__(self, config: LusiferConfig, real_class: type[Backend], model: str) -> None:
        from lusifer.engine.backends.offline import OfflineBackend
        from lusifer.engine.calls.cache import ResponseCache
        from lusifer.runs.session import call_settings

        super().__init__(config.backend)
        self.offline = OfflineBackend(config.backend)
        self.real = (real_class.name, model)
        reads_cache = real_class.cacheable and config.cache.enabled and not config.cache.refresh
        self.cache = ResponseCache(config.cache.path) if reads_cache else None
        self.call_settings = call_settings(config)
        # and the endpoint identity the real backend adds to them (its cache_identity reads only settings)
        identity = real_class.cache_identity(SimpleNamespace(config=config.backend))  # type: ignore[arg-type]
        self.endpoint = {} if config.cache.share_across_endpoints else identity
        self.calls = self.cached = self.prompt_tokens = self.completion_tokens = 0

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        from lusifer.engine.calls.layer import estimate_tokens, request_cache_key
        from lusifer.runs.estimate import PROFILE_COMPLETION_TOKENS, TOKENS_PER_RATING

        key = request_cache_key(self.call_settings, *self.real, request, self.endpoint)  # exactly the call layer's key
        if self.cache is not None and self.cache.get(key):
            self.cached += 1
        else:
            self.calls += 1
            self.prompt_tokens += estimate_tokens(request)
            items = len(request.context.item_ids) if isinstance(request.context, FeedbackContext) else 0
            self.completion_tokens += TOKENS_PER_RATING * items + 10 if items else PROFILE_COMPLETION_TOKENS
        return await self.offline.acomplete(request)

    async def aclose(self) -> None:
        if self.cache is not None:
            self.cache.close()


def estimate_live(config: LusiferConfig | None, run_dir: Path | None, run: Any) -> ValidityEstimate:
    """Run the battery's live part (``run(data)``) against :class:`CountingBackend` and price it."""
    from lusifer.engine.calls.costs import cost, price_table
    from lusifer.kernel.registry import get_backend

    if run_dir is not None:
        config = run_config(Path(run_dir))
    assert config is not None
    backend_class = get_backend(config.backend.name)
    model = config.backend.model or backend_class.default_model
    counting = CountingBackend(config, backend_class, model)
    data = live_data(config, run_dir, backend=counting, reps=0, permutations=0)
    assert data.live is not None
    try:
        run(data)
    finally:
        data.live.close()
    usage = Usage(counting.prompt_tokens, counting.completion_tokens)
    price = cost(model, usage, price_table(backend_class, config.prices)) if backend_class.key_name else 0.0
    return ValidityEstimate(counting.calls, counting.cached, usage.prompt_tokens, usage.completion_tokens, model, price)
