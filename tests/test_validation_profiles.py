"""Profiles need substance (re-asked with the reason otherwise), and near-JSON with raw newlines parses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from simulation_fakes import ScriptedModel

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.domain import STAR_RATING
from lusifer.api.prompt_context import ProfileContext, RatedItem
from lusifer.api.settings import PROFILE_MIN_WORDS, LusiferConfig
from lusifer.cli import cli, load_plugin_commands
from lusifer.engine.simulator import Simulator
from lusifer.engine.validation import ProfileValidator, QuestionText, parse_json, text_problem
from lusifer.kernel.registry import get_domain
from lusifer.runs.store import RunStore
from lusifer.testing.fake_behaviours import JunkProfiles, with_raw_newlines
from lusifer.testing.fake_servers import FakeOpenAIServer

SECRET = "sk-test-SECRET-7a2b"
GOOD = "Loves witty comedies and animated family films, dislikes slow dramas, and rates generously overall."
TITLES = ("Toy Story (1995)", "Heat (1995)")
PROMPT = "This person rated these 2 movies:\n- Toy Story (1995): A cowboy doll is threatened. Rated 5.\n"


def _context(previous: str | None = None, min_words: int = PROFILE_MIN_WORDS) -> ProfileContext:
    rated = [RatedItem(item_id=str(i), title=title, item_info="", rating=4) for i, title in enumerate(TITLES)]
    return ProfileContext(
        user_id="1",
        user_info="",
        scale=STAR_RATING,
        item_noun="movie",
        step=0 if previous is None else 1,
        previous_profile=previous,
        batch=tuple(rated),
        profile_min_words=min_words,
    )


def _profile_request(min_words: int = PROFILE_MIN_WORDS, previous: str | None = None) -> LLMRequest:
    messages = (Message("system", "You simulate a user."), Message("user", PROMPT + (previous or "")))
    return LLMRequest("profile", messages, context=_context(previous, min_words))


@pytest.mark.parametrize(
    ("profile", "reason"),
    [
        ("<updated profile>", "placeholder"),
        ("<profile>", "placeholder"),
        ("...", "placeholder"),
        ("<pre><code>Likes comedies and animation, dislikes long dramas a lot.</code></pre>", "markup"),
        ("```Likes comedies and animation, dislikes long dramas and slow films.```", "markup"),
        ("Toy Story (1995)", "title of one rated item"),
        ("toy story", "title of one rated item"),
        ("A cowboy doll is threatened.", "repeats text of the question"),
        ("Likes comedies.", "too short (2 words; at least 5"),
        ("", "missing or empty"),
    ],
)
def test_junk_profiles_are_problems_that_say_what_is_wrong(profile: str, reason: str) -> None:
    result = ProfileValidator().validate({"profile": profile}, _profile_request())
    assert reason in result.problems["profile"] and "profile" not in result.value


def test_a_profile_with_substance_passes_and_an_unchanged_update_is_no_echo() -> None:
    assert ProfileValidator().validate({"profile": GOOD}, _profile_request()).value == {"profile": GOOD}
    update = LLMRequest("profile_update", _profile_request(previous=GOOD).messages, context=_context(GOOD))
    result = ProfileValidator().validate({"profile": GOOD, "explanation": "Nothing new changed it."}, update)
    assert result.ok


def test_one_question_text_judges_every_text_of_an_answer_as_text_problem_does() -> None:
    update = LLMRequest("profile_update", _profile_request(previous=GOOD).messages, context=_context(GOOD))
    question = QuestionText(update)  # the prompt and titles are normalised once, for all the texts below
    texts = [GOOD, "<profile>", "toy story", "A cowboy doll is threatened.", "Nothing new.", "Heat 1995", "Stärker"]
    for text in texts:
        for min_words in (0, 5):
            assert question.problem(text, min_words) == text_problem(text, update, min_words)
    assert question.problem("toy story") is not None and question.problem(GOOD) is None


def test_comparisons_ignore_case_and_punctuation_of_any_script() -> None:
    request = _profile_request()
    assert "repeats text" in (text_problem("a COWBOY... doll—is threatened!", request) or "")
    unicode_title = LLMRequest(
        "profile",
        request.messages,
        context=_context().model_copy(
            update={
                "batch": (
                    RatedItem(
                        item_id="9", title="Amélie (Le Fabuleux Destin d'Amélie Poulain) (2001)", item_info="", rating=5
                    ),
                )
            }
        ),
    )
    assert "title of one rated item" in (
        text_problem("amélie le fabuleux destin d amélie poulain", unicode_title) or ""
    )


def test_the_minimum_length_is_a_setting_that_a_domain_may_tighten() -> None:
    validator = ProfileValidator()
    assert validator.validate({"profile": GOOD}, _profile_request(min_words=30)).problems  # GOOD has 14 words
    config = LusiferConfig.model_validate({"validation": {"profile_min_words": 9}})
    domain = get_domain("movies")
    simulator = Simulator(domain, None, config, {}, {})  # type: ignore[arg-type]
    assert simulator.requests.profile_min_words == 9
    type(domain).profile_min_words = 12  # a domain asking for more wins over a looser setting
    try:
        assert Simulator(domain, None, config, {}, {}).requests.profile_min_words == 12  # type: ignore[arg-type]
    finally:
        del type(domain).profile_min_words


def test_raw_newlines_inside_strings_are_accepted_and_noted() -> None:
    data, repairs = parse_json('{"profile": "Likes comedies.\nDislikes\tslow dramas."}')
    assert data == {"profile": "Likes comedies.\nDislikes\tslow dramas."}
    assert repairs == ["accepted raw control characters inside strings"]
    fenced, repairs = parse_json('Here it is: ```json\n{"ratings": {"1": "4\n"}}\n``` done')
    assert fenced == {"ratings": {"1": "4\n"}} and "removed code fence" in repairs


def _run(ml100k: Path, server: FakeOpenAIServer, out: Path) -> tuple[int, str]:
    load_plugin_commands()
    arguments = ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "1", "--out", str(out)]
    arguments += ["--backend", "openai", "--model", "gpt-4o-mini", "--base-url", server.base_url]
    result = CliRunner().invoke(cli, [*arguments, "--history", "20", "--key", SECRET])
    return result.exit_code, result.output


def test_placeholder_and_html_profiles_are_re_asked_with_the_reason(ml100k: Path, tmp_path: Path) -> None:
    model = JunkProfiles(ScriptedModel(), junk=["<updated profile>", "<pre><code>likes movies</code></pre>"])
    with FakeOpenAIServer(model) as server:
        code, output = _run(ml100k, server, tmp_path / "run")
        prompts = [request.json["messages"][-1]["content"] for request in server.requests]
    store = RunStore(tmp_path / "run")
    profiles = [state.profile for state in store.profiles("1")]
    print(f"junk profiles: {len(prompts)} calls, exit {code}, stored {profiles}")
    assert code == 0, output
    assert len(prompts) == 2 + 2 + 1  # step 0 asked three times, step 1 once, then one rating call
    assert "placeholder" in prompts[1] and "markup" in prompts[2]  # each re-ask names the problem
    assert len(profiles) == 2 and not any("<" in profile for profile in profiles)  # today: "<updated profile>"


def test_a_model_repeating_the_same_refused_profile_is_not_asked_again(ml100k: Path, tmp_path: Path) -> None:
    model = JunkProfiles(ScriptedModel(), junk=["<pre><code>Toy Story</code></pre>"] * 10)
    with FakeOpenAIServer(model) as server:
        code, output = _run(ml100k, server, tmp_path / "run")
        calls = len(server.requests)
    store = RunStore(tmp_path / "run")
    status, reason = store.user_statuses()["1"]
    print(f"same junk profile: {calls} calls, exit {code}, {status}: {reason}")
    assert code == 1 and status == "failed" and not store.profiles("1")
    assert calls == 2  # today 4: two more re-asks, each the same request, answered the same
    assert reason is not None and "markup" in reason and "same answer again" in reason


def test_answers_with_raw_newlines_in_strings_are_used_without_re_asking(ml100k: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(with_raw_newlines(ScriptedModel())) as server:
        code, output = _run(ml100k, server, tmp_path / "run")
        calls = len(server.requests)
        raw = [json.dumps(request.json) for request in server.requests]
    profiles = [state.profile for state in RunStore(tmp_path / "run").profiles("1")]
    print(f"raw newlines: {calls} calls, exit {code}")
    assert code == 0, output
    assert calls == 3 and not any("unusable" in body for body in raw)  # today: every profile step re-asked
    assert all("\n" in profile for profile in profiles)
