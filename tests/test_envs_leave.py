"""The user's own leave decision in ``choose`` mode (``leave_decision="llm"``), as Agent4Rec's agents exit
with a reason: asked through the real openai SDK against the loopback fake server, validated and stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lusifer.api.errors import ConfigError
from lusifer.api.settings import LusiferConfig
from lusifer.engine.backends.offline import LEAVE_REASONS
from lusifer.envs.leave import LeaveValidator
from lusifer.envs.recommender import RecommenderEnv
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply, example_for_schema


def unseen(env: RecommenderEnv, count: int) -> np.ndarray:
    consumed = {entry.item_id for entry in env.user.history}
    return np.array([i for i, item in enumerate(env.catalogue.candidate_ids) if item not in consumed][:count])


def test_offline_backend_answers_the_leave_question_with_its_rule(ml100k: Path) -> None:
    env = RecommenderEnv(
        backend="offline",
        data_dir=ml100k,
        candidates=100,
        feedback="choose",
        leave_decision="llm",
        threshold=1,
        render_mode="ansi",
    )
    try:
        env.reset(options={"user_id": "1"})
        _, _, terminated, _, info = env.step(unseen(env, 5))  # threshold 1: something is always picked
        assert info["chosen"] and info["leave_reason"] == LEAVE_REASONS[True] and not terminated
        assert info["calls"] == 2  # the ratings, then the leave question
        seen = env.catalogue.candidate_ids.index(info["chosen"])
        _, _, terminated, _, info = env.step(np.full(5, seen))  # nothing new: nothing picked
        assert info["chosen"] is None and info["left"] and terminated
        assert info["leave_reason"] == LEAVE_REASONS[False]
        assert f"the user says: {LEAVE_REASONS[False]}" in env.render()
    finally:
        env.close()


def test_leave_decision_llm_needs_choose_mode(ml100k: Path) -> None:
    with pytest.raises(ConfigError, match="leave_decision"):
        RecommenderEnv(backend="offline", data_dir=ml100k, candidates=20, leave_decision="llm")
    with pytest.raises(ConfigError, match="leave_decision"):
        RecommenderEnv(backend="offline", data_dir=ml100k, candidates=20, feedback="choose", leave_decision="maybe")


class LeaveServer:
    """A fake OpenAI server that answers ratings with the schema's example and leave questions from a script."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.leave_requests: list[Any] = []
        self.server = FakeOpenAIServer(self.respond)

    def respond(self, payload: Any) -> FakeReply:
        schema = self.server.schema_of(payload) or {}
        if "leave" in schema.get("properties", {}):
            self.leave_requests.append(payload)
            return FakeReply(content=json.dumps(self.answers.pop(0) if self.answers else {"leave": False}))
        return FakeReply(content=json.dumps(example_for_schema(schema)))


def choose_env(server: FakeOpenAIServer, ml100k: Path, **kwargs: Any) -> RecommenderEnv:
    return RecommenderEnv(
        backend="openai",
        model="fake-model",
        base_url=server.base_url,
        api_key="sk-test",
        data_dir=ml100k,
        candidates=50,
        feedback="choose",
        leave_decision="llm",
        config=LusiferConfig.model_validate({"cache": {"enabled": False}}),
        **kwargs,
    )


def test_the_llm_decides_to_stay_or_leave_with_a_reason_through_the_openai_sdk(ml100k: Path, tmp_path: Path) -> None:
    fake = LeaveServer(
        [
            {"leave": False, "reason": "Nothing grabbed me, but I will look at a few more."},
            {"leave": "yes", "reason": "Still nothing for me tonight."},
        ]
    )
    with fake.server as server:
        env = choose_env(server, ml100k, run_dir=tmp_path / "run")
        try:
            env.reset(options={"user_id": "1"})
            # the example rating (3 of 5) is below the threshold: nothing is picked, but the user stays
            _, _, terminated, _, first = env.step(unseen(env, 5))
            _, _, left, _, second = env.step(unseen(env, 10)[5:])
        finally:
            env.close()
    assert first["chosen"] is None and not terminated and not first["left"]
    assert first["leave_reason"] == "Nothing grabbed me, but I will look at a few more."
    assert left and second["left"] and second["leave_reason"] == "Still nothing for me tonight."
    question = fake.leave_requests[0]["messages"][-1]["content"]
    assert "Nothing was good enough to pick" in question and "leave" in question
    store = RunStore(tmp_path / "run")
    try:
        answers = [exchange for exchange in store.exchanges("1") if exchange["task"] == "leave"]
    finally:
        store.close()
    assert len(answers) == 2 and "Still nothing for me tonight." in json.dumps(answers[-1])


def test_an_unusable_leave_answer_is_asked_again_then_reported(ml100k: Path) -> None:
    fake = LeaveServer(
        [
            {"leave": "maybe", "reason": ""},
            {"leave": True, "reason": "I have seen enough of these."},
            *[{"leave": "perhaps", "reason": "<short reason>"}] * 5,
        ]
    )
    with fake.server as server:
        env = choose_env(server, ml100k)
        try:
            env.reset(options={"user_id": "1"})
            _, _, left, _, fixed = env.step(unseen(env, 5))
            env.reset(options={"user_id": "2"})
            _, _, fallback_left, _, failed = env.step(unseen(env, 5))
        finally:
            env.close()
    assert left and fixed["leave_reason"] == "I have seen enough of these." and "leave" not in fixed["failures"]
    assert "Your previous answer was unusable" in fake.leave_requests[1]["messages"][-1]["content"]
    assert "no valid answer" in failed["failures"]["leave"] and "leave_reason" not in failed
    assert fallback_left and failed["chosen"] is None  # the rule: nothing picked, so the user leaves


def test_leave_validator_names_each_problem() -> None:
    from lusifer.api.backend import LLMRequest, Message

    request = LLMRequest("leave", (Message("user", "Would this person leave?"),), context={})
    validator = LeaveValidator()
    good = validator.validate({"leave": "no", "reason": "I like what I see."}, request)
    assert good.ok and good.value == {"leave": False, "reason": "I like what I see."} and good.repairs
    bad = validator.validate({"leave": 2, "reason": "word " * 40}, request)
    assert set(bad.problems) == {"leave", "reason"} and "too long" in bad.problems["reason"]
    assert "placeholder" in validator.validate({"leave": True, "reason": "<reason>"}, request).problems["reason"]
