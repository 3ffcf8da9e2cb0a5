"""Nothing paid for is lost, nothing stale is replayed: the response cache, budgets, summaries, credentials.

Every test drives ``lusifer run`` (or ``evaluate``) through the real OpenAI or Anthropic SDK against a
fake server on loopback.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from simulation_fakes import ScriptedModel, good_answer, intended_rating, out_of_range, requested_ids

from lusifer.api.backend import Backend
from lusifer.api.settings import BackendConfig
from lusifer.cli import cli, load_plugin_commands
from lusifer.engine.calls.cache import cache_key
from lusifer.engine.validation import profile_words_within
from lusifer.kernel.registry import get_backend
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, FakeReply, FakeServer

SECRET = "sk-test-SECRET-77aa01"


def lusifer(*arguments: str | Path) -> Result:
    load_plugin_commands()
    return CliRunner().invoke(cli, [str(argument) for argument in arguments])


def run_args(ml100k: Path, server: FakeServer, out: Path, users: int = 3, backend: str = "openai") -> list[str]:
    model = "gpt-4o-mini" if backend == "openai" else "claude-haiku-4-5"
    return [
        "run", "--no-progress", "--data-dir", str(ml100k), "--users", str(users), "--out", str(out),
        "--backend", backend, "--model", model, "--base-url", server.base_url, "--history", "20",
        "--key", SECRET,
    ]  # fmt: skip


def feedback_requests(server: FakeServer) -> int:
    return sum(1 for request in server.requests if request.json and requested_ids(request.json) is not None)


# 1. only validated answers are cached ------------------------------------------------------------------


def test_answers_that_failed_validation_are_asked_again_on_rerun(ml100k: Path, tmp_path: Path) -> None:
    def unusable(request: dict) -> FakeReply:  # type: ignore[type-arg]
        return FakeReply(content=json.dumps({"unexpected": True}))  # JSON, but no profile and no ratings

    with FakeOpenAIServer(unusable) as server:
        first = lusifer(*run_args(ml100k, server, tmp_path / "run"))
    assert first.exit_code == 1 and "no valid answer" in first.output
    with FakeOpenAIServer(ScriptedModel()) as server:  # the model behaves now: the rerun must ask it
        second = lusifer(*run_args(ml100k, server, tmp_path / "run"))
        asked = len(server.requests)
    assert second.exit_code == 0, second.output
    assert asked == 9  # 3 users x (2 profile steps + 1 feedback call); before, the bad answers were replayed
    ratings = pd.read_csv(tmp_path / "run" / "ratings.csv", dtype={"item_id": str})
    assert (ratings["simulated_rating"] == ratings["item_id"].map(intended_rating)).all()


# 2. the cache key names the server -----------------------------------------------------------------------


def test_another_server_with_the_same_model_is_asked_not_served_from_cache(
    ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(ScriptedModel()) as good:
        assert lusifer(*run_args(ml100k, good, tmp_path / "first")).exit_code == 0
        with FakeOpenAIServer(lambda request: FakeReply(status=401)) as refusing:
            refused = lusifer(*run_args(ml100k, refusing, tmp_path / "second"))
            assert refused.exit_code == 1 and len(refusing.requests) > 0
            monkeypatch.setenv("LUSIFER_CACHE__SHARE_ACROSS_ENDPOINTS", "true")  # replicas of one model
            assert lusifer(*run_args(ml100k, good, tmp_path / "first-shared")).exit_code == 0
            shared = lusifer(*run_args(ml100k, refusing, tmp_path / "third"))
            asked_when_shared = len(refusing.requests)
            assert shared.exit_code == 0, shared.output
            assert len(refusing.requests) == asked_when_shared  # every answer came from the cache


def test_cache_identity_is_the_base_url_without_credentials() -> None:
    backend_class = get_backend("openai")
    backend: Backend = backend_class(BackendConfig(name="openai", base_url="http://bob:hunter2@gpu-7:8000/v1"))
    assert backend.cache_identity() == {"base_url": "http://***@gpu-7:8000/v1"}
    assert get_backend("offline")(BackendConfig()).cache_identity() == {}
    other = backend_class(BackendConfig(name="openai", base_url="http://gpu-8:8000/v1"))
    keys = {
        cache_key("openai", "m", request, {}, identity)
        for identity in (backend.cache_identity(), other.cache_identity(), {})
        for request in [_request()]
    }
    assert len(keys) == 3


def _request():  # type: ignore[no-untyped-def]
    from lusifer.api.backend import LLMRequest, Message

    return LLMRequest("feedback", (Message("user", "rate item 1"),))


# 5 and 6. the budget is for the whole run; answers in flight are kept; the summary covers the whole run ----


def test_budget_spans_invocations_keeps_answers_in_flight_and_summary_covers_the_run(
    ml100k: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with FakeOpenAIServer(ScriptedModel(), latency=0.02) as server:
        first = lusifer(*run_args(ml100k, server, out, users=12), "--budget-usd", "0.002", "--concurrency", "4")
        answered_first = len(server.requests)
        assert first.exit_code == 1 and "not started" in first.output and "--budget-usd" in first.output
        summary = json.loads((out / "summary.json").read_text())
        store = RunStore(out)
        assert summary["calls"] == answered_first == store.exchange_totals()["calls"]  # nothing paid is dropped
        assert summary["users_not_started"] > 0 and summary["users_done"] > 0
        statuses = {status for status, _ in store.user_statuses().values()}
        assert statuses <= {"done", "not started"}  # a budget stop is not a failure
        failures = pd.read_csv(out / "failures.csv")
        assert failures["reason"].str.startswith("not started").all()
        again = lusifer(*run_args(ml100k, server, out, users=12), "--budget-usd", "0.002", "--concurrency", "4")
        assert again.exit_code == 1
        assert RunStore(out).exchange_totals()["cost_usd"] <= 0.002  # the second invocation did not get $0.002 more
        final = lusifer(*run_args(ml100k, server, out, users=12), "--budget-usd", "1", "--concurrency", "4")
        assert final.exit_code == 0, final.output
        total_requests = len(server.requests)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["users_done"] == 12 and summary["ratings_failed"] == 0
    assert summary["calls"] == total_requests  # the whole run, not the last invocation
    assert 0 < summary["last_invocation"]["calls"] < summary["calls"]
    assert summary["cost_usd"] == pytest.approx(RunStore(out).exchange_totals()["cost_usd"])


def test_merge_writes_a_summary(ml100k: Path, tmp_path: Path) -> None:
    for index in (1, 2):
        common = ["--data-dir", ml100k, "--users", "6", "--history", "20", "--shard", f"{index}/2"]
        assert lusifer("run", "--no-progress", *common, "--out", tmp_path / f"s{index}").exit_code == 0
    assert lusifer("merge", tmp_path / "merged", tmp_path / "s1", tmp_path / "s2").exit_code == 0
    summary = json.loads((tmp_path / "merged" / "summary.json").read_text())
    assert summary["users_done"] == 6 and summary["ratings"] == len(pd.read_csv(tmp_path / "merged" / "ratings.csv"))


# 7. credentials in a base URL never reach files or output -------------------------------------------------


def test_credentials_in_the_base_url_are_redacted_everywhere(ml100k: Path, tmp_path: Path) -> None:
    password = "pa55-W0rd-9c1e"
    basic = base64.b64encode(f"alice:{password}".encode()).decode()
    with FakeOpenAIServer(ScriptedModel()) as server:
        url = server.base_url.replace("http://", f"http://alice:{password}@")
        arguments = run_args(ml100k, server, tmp_path / "run")
        arguments[arguments.index(server.base_url)] = url
        result = lusifer(*arguments)
        server.inject(*[FakeReply(status=404)] * 40)
        failing = lusifer(*arguments[:-2], "--out", tmp_path / "failing", "--key", SECRET, "--no-cache")
    assert result.exit_code == 0, result.output
    assert failing.exit_code == 1
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["backend"]["base_url"].startswith("http://***@127.0.0.1:")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert password.encode() not in data and basic.encode() not in data and SECRET.encode() not in data, path
    assert password not in result.output + failing.output


def test_redaction_covers_query_keys_and_basic_auth() -> None:
    from lusifer.api.redaction import redact_credentials, redact_url

    assert redact_url("https://h/v1?api_key=abc&x=1") == "https://h/v1?api_key=***&x=1"
    assert redact_url("http://u:p@h:1/v1") == "http://***@h:1/v1"
    text = redact_credentials("GET http://u:p@h/v1?token=t1 failed; Authorization: Basic dTpwMTIzNDU=")
    assert "p@" not in text and "t1" not in text and "dTpw" not in text and "http://***@h/v1?token=***" in text


# 12. a final re-ask pass; the default retries let a 20 %-malformed run complete ---------------------------


class BurstsOfMalformed:
    """20 % of the answers are prose instead of JSON, in bursts of three (requests 1-3, 16-18, 31-33, ...).

    Unlucky streaks are what random faults do now and then; bursts make them happen on every run.
    """

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, request: dict) -> FakeReply:  # type: ignore[type-arg]
        self.count += 1
        if (self.count - 1) % 15 < 3:
            return FakeReply(content="I would rather not answer in JSON today.")
        return FakeReply(content=json.dumps(good_answer(request)))


def test_a_twenty_percent_malformed_run_completes(ml100k: Path, tmp_path: Path) -> None:
    with FakeAnthropicServer(BurstsOfMalformed()) as server:
        arguments = run_args(ml100k, server, tmp_path / "run", users=40, backend="anthropic")
        result = lusifer(*arguments, "--concurrency", "1")  # one at a time: the same faults on every run
    assert result.exit_code == 0, result.output
    ratings = pd.read_csv(tmp_path / "run" / "ratings.csv", dtype={"item_id": str})
    assert ratings["simulated_rating"].notna().all()
    assert (ratings["simulated_rating"] == ratings["item_id"].map(intended_rating)).all()


def test_items_still_missing_get_a_final_re_ask_pass(
    ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUSIFER_RUN__VALIDATION_RETRIES", "0")  # one try per chunk in the main pass
    with FakeOpenAIServer(ScriptedModel(faults={1: out_of_range})) as server:
        result = lusifer(*run_args(ml100k, server, tmp_path / "run", users=2))
        asked = feedback_requests(server)
    assert result.exit_code == 0, result.output
    assert asked == 3  # two users, and the one bad answer asked again at the end


# 14. the cut answer names max_tokens ----------------------------------------------------------------------


def cut_reply(request: dict, text: str, completion_tokens: int) -> FakeReply:  # type: ignore[type-arg]
    """The first half of `text`, finished for the token limit (`finish_reason` "length")."""
    body = FakeOpenAIServer().envelope(request, text[: len(text) // 2], completion_tokens)
    body["choices"][0]["finish_reason"] = "length"
    return FakeReply(json=body)


def test_an_answer_cut_at_max_tokens_says_so(ml100k: Path, tmp_path: Path) -> None:
    def cut(request: dict) -> FakeReply:  # type: ignore[type-arg]
        text = json.dumps(good_answer(request))
        if requested_ids(request) is None:
            return FakeReply(content=text)
        return cut_reply(request, text, 1)

    with FakeOpenAIServer(cut) as server:
        result = lusifer(*run_args(ml100k, server, tmp_path / "run", users=1))
    assert result.exit_code == 1
    reasons = pd.read_csv(tmp_path / "run" / "failures.csv")["reason"]
    assert reasons.str.contains("cut at max_tokens").all() and reasons.str.contains("backend.max_tokens").all()


def test_a_profile_cut_at_max_tokens_is_re_asked_short_enough_to_fit(ml100k: Path, tmp_path: Path) -> None:
    words = profile_words_within(1024)  # the default max_tokens
    profile_prompts: list[str] = []

    def cut_first_profile(request: dict) -> FakeReply:  # type: ignore[type-arg]
        text = json.dumps(good_answer(request))
        if requested_ids(request) is not None:
            return FakeReply(content=text)
        profile_prompts.append(request["messages"][-1]["content"])
        if len(profile_prompts) > 1:
            return FakeReply(content=text)
        return cut_reply(request, text, 1024)

    with FakeOpenAIServer(cut_first_profile) as server:
        result = lusifer(*run_args(ml100k, server, tmp_path / "run", users=1))
    assert result.exit_code == 0, result.output
    first, re_ask = profile_prompts[:2]
    assert "at most 120 words" in first and "at most 120 words" not in re_ask
    assert f"at most {words} words" in re_ask and "cut off at the token limit" in re_ask
    assert all(f"at most {words} words" not in prompt for prompt in profile_prompts[2:])  # the next step: 120 again
