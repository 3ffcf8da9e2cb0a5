"""The composition root: one place that turns a configuration into a working data path.

:func:`open_session` loads and checks everything a run needs without writing anything (the data and
its selection, the templates, the calibrator, the backend); :meth:`Session.start` then wires the call
layer and the simulator to a store. The CLI's ``lusifer run`` (:mod:`lusifer.runs.runner`), the
Gymnasium environment (:mod:`lusifer.envs`) and Python callers all assemble a run through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lusifer.api.errors import ConfigError, DataError
from lusifer.engine.calls import CallLayer, CallSettings
from lusifer.engine.inputs import community_stats, item_texts
from lusifer.engine.simulator import Simulator
from lusifer.engine.templates import check_templates, template_environment
from lusifer.kernel.registry import exchange_recorder, get_domain
from lusifer.kernel.settings import with_default_dataset
from lusifer.runs.backend_factory import create_backend

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.api.backend import Backend
    from lusifer.api.domain import Dataset, Domain
    from lusifer.api.exchange import Exchange
    from lusifer.api.settings import LusiferConfig
    from lusifer.engine.calls.batch import BatchCallLayer
    from lusifer.engine.ports import BatchStore, ProfileStore


@dataclass
class RunPlan:
    """What a run simulates: the loaded data, the training slice, the targets and the users."""

    domain: Domain
    data: Dataset
    history: pd.DataFrame
    targets: pd.DataFrame
    user_ids: list[str]


def plan_run(config: LusiferConfig) -> RunPlan:
    """Load the data and select the history slice, test items and users of a run."""
    from lusifer.engine.selection import protocol_slices

    domain = get_domain(config.domain)
    dataset = with_default_dataset(config).dataset
    assert dataset is not None  # with_default_dataset names one
    data = domain.load(dataset, config.data)
    split = domain.split(data, config.data.fold, config.seed)
    history, targets = protocol_slices(split, data.items, config.data)
    # The index is each target's place in the whole test split: a shard or a --user-ids partition keeps its
    # targets' places, so that merged partitions export in the order of one run.
    targets = targets.reset_index(drop=True)
    user_ids = [str(user) for user in dict.fromkeys(targets["user_id"].tolist())]
    if config.run.user_ids:
        known = set(user_ids)
        unknown = [user for user in config.run.user_ids if user not in known]
        if unknown:
            raise ConfigError(f"unknown or untested user ids: {', '.join(unknown[:10])}")
        wanted = set(config.run.user_ids)
        user_ids = [user for user in user_ids if user in wanted]
    if config.run.users is not None:
        user_ids = user_ids[: config.run.users]
    if not user_ids:
        raise DataError(_nothing_to_simulate(config))
    selected = set(user_ids)
    targets = targets[targets["user_id"].astype(str).isin(selected)]
    if config.run.shard is not None:
        index, count = (int(part) for part in config.run.shard.split("/"))
        user_ids = [user for user in user_ids if shard_of(user, count) == index]
        targets = targets[targets["user_id"].astype(str).isin(set(user_ids))]
    _check_unique_targets(targets, config)
    return RunPlan(domain, data, history, targets, user_ids)


def _nothing_to_simulate(config: LusiferConfig) -> str:
    enrich = config.data.enrich_file
    if config.data.require_text and enrich is not None:
        return (
            f"no test item has text to show: {enrich} is empty or its ids match no item of "
            f"{config.dataset}; check the file (its id column must hold the dataset's item ids)"
        )
    return f"no user with test items was selected from {config.dataset} (check --users, --user-ids and the split)"


def _check_unique_targets(targets: pd.DataFrame, config: LusiferConfig) -> None:
    """Refuse test rows that name one (user, item) twice: they cannot be stored or scored once each."""
    repeated = targets[targets.duplicated(subset=["user_id", "item_id"], keep="first")]
    if len(repeated):
        user, item = repeated.iloc[0]["user_id"], repeated.iloc[0]["item_id"]
        source = config.data.path or config.dataset
        raise DataError(
            f"the test split of {source} holds user {user}, item {item} more than once "
            f"({len(repeated)} repeated rows); keep one row per (user, item) in the test file"
        )


def shard_of(user_id: str, count: int) -> int:
    """The shard (1..count) of ``user_id``: a stable hash, the same on every machine and Python version."""
    return int(hashlib.sha256(user_id.encode()).hexdigest(), 16) % count + 1


@dataclass
class Session:
    """A checked configuration with its plan and backend, ready to :meth:`start`."""

    config: LusiferConfig
    plan: RunPlan
    backend: Backend
    #: Item id -> text, and the community statistics of the training slice (what prompts show).
    item_texts: dict[str, Any] = field(default_factory=dict)
    community: dict[str, dict[str, float]] = field(default_factory=dict)

    def start(
        self,
        store: Any = None,
        on_exchange: Callable[[Exchange], None] | None = None,
        *,
        item_texts: Mapping[str, Any] | None = None,
    ) -> tuple[CallLayer, Simulator]:
        """The call layer and simulator of this session; ``store`` keeps profile steps (and vendor
        batches when ``run.vendor_batch`` is on). ``item_texts`` replaces the session's (e.g. a catalogue)."""
        calls = self.call_layer(store, on_exchange)
        texts = dict(self.item_texts if item_texts is None else item_texts)
        profile_store: ProfileStore | None = store
        return calls, Simulator(self.plan.domain, calls, self.config, texts, self.community, profile_store)

    def call_layer(self, store: Any = None, on_exchange: Callable[[Exchange], None] | None = None) -> CallLayer:
        """The call layer: the vendor-batch one when ``run.vendor_batch`` is on (it needs a ``store``); each
        exchange goes to ``on_exchange`` and the ``exchange_recorded`` hook."""
        on_exchange = exchange_recorder(on_exchange)  # and the exchange_recorded hook
        if self.config.run.vendor_batch:
            from lusifer.engine.calls.batch import BatchCallLayer

            if store is None:
                raise ConfigError("run.vendor_batch needs a run store (a run directory) to remember submitted batches")
            batch_store: BatchStore = store
            layer: BatchCallLayer = BatchCallLayer(
                self.backend,
                call_settings(self.config),
                batch_store,
                on_exchange,
                poll_seconds=self.config.run.batch_poll,
            )
            return layer
        return CallLayer(self.backend, call_settings(self.config), on_exchange=on_exchange)


def call_settings(config: LusiferConfig) -> CallSettings:
    """What a call layer for a run of ``config`` needs: its backend and cache sections, budget, feedback
    output and prices."""
    return CallSettings(
        backend=config.backend,
        cache=config.cache,
        budget_usd=config.run.budget_usd,
        feedback_output=config.run.feedback_output,
        prices=config.prices,
    )


def open_session(config: LusiferConfig, api_key: str | None = None) -> Session:
    """Check and load everything a run of ``config`` needs, writing nothing.

    Fails with one clear error on bad data, an empty selection, a broken template, an unreadable
    calibrator, an unknown backend or a missing key.
    """
    plan = plan_run(config)
    if config.run.calibrator is not None:
        from lusifer.engine.calibration import load_calibrator

        calibrator = load_calibrator(config.run.calibrator)  # a bad file fails before anything is written
        if calibrator.input == "expected_rating" and config.run.feedback_output != "distribution":
            raise ConfigError(
                f"--calibrator {config.run.calibrator} was fitted on expected_rating: "
                "it needs a distribution-mode run (--distribution)"
            )
    check_templates(template_environment(config.prompts_dir), plan.domain.templates)
    backend = create_backend(config, api_key)
    return Session(config, plan, backend, item_texts(plan.data.items, plan.domain), community_stats(plan.history))
