"""The contract checkers plugin authors use, run on the built-in domain and backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from lusifer.api.backend import Backend, LLMResponse
from lusifer.api.settings import BackendConfig, DataConfig
from lusifer.kernel.registry import get_backend, get_domain
from lusifer.testing import check_backend, check_domain
from lusifer.testing.fake_servers import FakeOpenAIServer


def test_movies_domain_passes(ml100k: Path) -> None:
    data, split = check_domain(get_domain("movies"), "ml-100k", DataConfig(path=ml100k))
    assert len(data.ratings) == 100_000 and split.fold == "u1"


def test_offline_and_openai_backends_pass() -> None:
    check_backend(get_backend("offline"), BackendConfig(name="offline"))
    with FakeOpenAIServer() as server:
        response = check_backend(
            get_backend("openai"), BackendConfig(name="openai", base_url=server.base_url), api_key="sk-test"
        )
    assert response.model


def test_a_backend_that_drops_items_fails_the_check() -> None:
    class Forgetful(Backend):
        name = "forgetful"

        async def acomplete(self, request):
            return LLMResponse('{"ratings": {"1": 4}}', "forgetful")

    with pytest.raises(AssertionError, match="does not rate every item"):
        check_backend(Forgetful, BackendConfig(name="forgetful"))
