"""Gemini through the kernel's call layer (retries, rate limits, cost, recording) and ``lusifer run``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gemini_fixtures import KEY, REQUEST
from lusifer import BackendConfig, BackendError, Exchange
from lusifer.testing import FakeReply, FeedbackValidator, call_layer, invoke_cli
from lusifer_plugin_gemini.backend import GeminiBackend
from lusifer_plugin_gemini.fake_server import FakeGeminiServer

PRICE = GeminiBackend.prices["gemini-2.5-flash"]  # the backend's own list price


def _call(server: FakeGeminiServer, exchanges: list[Exchange]) -> Any:
    backend = GeminiBackend(BackendConfig(name="gemini", base_url=server.base_url, max_retries=2), SecretStr(KEY))
    calls = call_layer(backend, on_exchange=exchanges.append)  # the response cache off

    async def call() -> Any:
        try:
            return await calls.call(REQUEST, [FeedbackValidator()])
        finally:
            await calls.aclose()

    result = asyncio.run(call())
    return result


def test_a_429_is_retried_after_its_delay_then_answered_priced_and_recorded(server: FakeGeminiServer) -> None:
    server.inject(FakeReply(status=429, headers={"Retry-After": "0.05"}))
    exchanges: list[Exchange] = []
    result = _call(server, exchanges)
    assert len(server.requests) == 2 and result.exchange.attempts == 2
    assert result.validation is not None and result.validation.ok
    assert result.validation.value == {"1": 3, "2": 3}
    exchange = exchanges[-1]
    expected = (exchange.prompt_tokens * PRICE.input + exchange.completion_tokens * PRICE.output) / 1e6
    assert exchange.cost_usd == pytest.approx(expected) and exchange.cost_usd > 0


def test_server_errors_until_retries_run_out_fail_without_the_key(server: FakeGeminiServer) -> None:
    body = {"error": {"code": 500, "message": f"internal error for key {KEY}", "status": "INTERNAL"}}
    server.inject(*[FakeReply(status=500, json=body)] * 3)
    exchanges: list[Exchange] = []
    with pytest.raises(BackendError) as caught:
        _call(server, exchanges)
    assert len(server.requests) == 3  # one try and max_retries=2 retries
    assert KEY not in str(caught.value) and exchanges[-1].error and KEY not in exchanges[-1].error


def _write_ml100k(folder: Path) -> Path:
    """A four-user MovieLens 100K folder (u.data, u.item, u.user and the u1 split)."""
    folder.mkdir()
    genres = "|".join(["0"] * 18 + ["1"])
    titles = ["Toy Story (1995)", "Heat (1995)", "Casino (1995)", "Babe (1995)", "Fargo (1996)", "Emma (1996)"]
    items = [f"{n}|{title}|01-Jan-1995||http://example.org/{n}|{genres}" for n, title in enumerate(titles, 1)]
    (folder / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")
    users = [f"{n}|{20 + n}|{'MF'[n % 2]}|writer|0000{n}" for n in range(1, 5)]
    (folder / "u.user").write_text("\n".join(users) + "\n", encoding="latin-1")
    rows = [
        (user, item, 1 + (user + item) % 5, 880000000 + 10 * user + item)
        for user in range(1, 5)
        for item in range(1, 7)
    ]
    lines = ["\t".join(map(str, row)) for row in rows]
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    for name, tested in (("u1.base", False), ("u1.test", True)):  # movies 5 and 6 are the test items
        kept = [line for line, (_, item, _, _) in zip(lines, rows) if (item >= 5) is tested]
        (folder / name).write_text("\n".join(kept) + "\n")
    return folder


def test_lusifer_run_with_the_gemini_backend_end_to_end(server: FakeGeminiServer, tmp_path: Path) -> None:
    config = tmp_path / "lusifer.toml"
    config.write_text('[prices."gemini-2.5-flash"]\ninput = 1.0\noutput = 1.0\n')  # overrides the list price
    server.inject(FakeReply(status=429, headers={"Retry-After": "0.05"}))
    out = tmp_path / "run"
    data_dir = _write_ml100k(tmp_path / "ml-100k")
    result = invoke_cli(
        "run", "--config", str(config), "--data-dir", str(data_dir), "--backend", "gemini",
        "--base-url", server.base_url, "--key", KEY, "--users", "2", "--out", str(out), "--no-progress",
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["users_done"] == 2 and summary["ratings"] == 4
    tokens = summary["prompt_tokens"] + summary["completion_tokens"]
    assert summary["cost_usd"] == pytest.approx(tokens / 1e6) and tokens > 0
    assert all(request.path.endswith("gemini-2.5-flash:generateContent") for request in server.requests)
    assert summary["calls"] == len(server.requests)  # the 429 was retried by the call layer
    assert KEY not in "".join(path.read_text(errors="ignore") for path in out.iterdir() if path.is_file())
