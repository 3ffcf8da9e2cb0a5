"""Online use (RL): feedback on new items is appended to the history and refreshes the profile."""

from __future__ import annotations

import asyncio

from lusifer.api.backend import LLMRequest, LLMResponse
from lusifer.api.errors import BackendError
from lusifer.api.prompt_context import ItemFeatures
from lusifer.engine.backends.offline import OfflineBackend
from lusifer.engine.calls import CallLayer
from lusifer.engine.requests import CatalogueItem, Interaction
from lusifer.engine.simulator import SimulatedUser, Simulator
from lusifer.kernel.registry import get_domain
from lusifer.kernel.settings import load_config
from lusifer.runs.session import call_settings

ITEMS = {
    str(i): CatalogueItem(
        f"Movie {i}",
        f"Movie {i} (1990). Genres: {'Comedy' if i % 2 else 'Horror'}.",
        ItemFeatures(genres=("Comedy" if i % 2 else "Horror",), description=f"Movie {i} (1990)."),
    )
    for i in range(30)
}
HISTORY = [Interaction(str(i), 5 if i % 2 else 1, i) for i in range(10)]


class FailingUpdates(OfflineBackend):
    """The offline model, except that every profile update fails for good."""

    name = "failing-updates"

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        if request.task == "profile_update":
            raise BackendError("the update service is down")
        return await super().acomplete(request)


def _simulate(backend_class: type[OfflineBackend], batches: list[list[str]]) -> tuple[SimulatedUser, list]:
    config = load_config(overrides={"run": {"refresh_every": 4}}, environ={})
    user = SimulatedUser("7", "Age: 30", list(HISTORY))

    async def go() -> list:
        calls = CallLayer(backend_class(config.backend), call_settings(config))
        simulator = Simulator(get_domain("movies"), calls, config, ITEMS, {})
        await simulator.build_profiles(user)
        results = [await simulator.simulate_feedback(user, batch) for batch in batches]
        await calls.aclose()
        return results

    return user, asyncio.run(go())


def test_feedback_is_appended_and_the_profile_refreshes_every_m() -> None:
    user, results = _simulate(OfflineBackend, [["11", "12", "13"], ["14", "15"]])
    assert results[0].profile_update is None and set(results[0].ratings) == {"11", "12", "13"}
    update = results[1].profile_update
    assert update is not None and update.source == "online" and update.step == 1
    assert update.item_ids == ["11", "12", "13", "14", "15"] and update.explanation
    assert [entry.item_id for entry in user.history[-5:]] == ["11", "12", "13", "14", "15"]
    assert user.pending == [] and user.stats()["count"] == 15


def test_a_failed_refresh_keeps_the_feedback_and_retries_later() -> None:
    user, results = _simulate(FailingUpdates, [["11", "12", "13", "14"], ["15"]])
    assert "the update service is down" in results[0].failures["profile"]
    assert set(results[0].ratings) == {"11", "12", "13", "14"}
    assert len(user.history) == 15 and len(user.pending) == 5 and len(user.profiles) == 1
    assert "profile" in results[1].failures
