"""The TMDB client against a fake TMDB API on loopback: matching, retries, cache, key hygiene."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from movies_fakes import TMDB_KEY, FakeTMDB, serve

from lusifer.domains.movies.tmdb import MovieRef, TMDBClient, TMDBError, clean_title, enrich_items, redact


def _client(url: str, tmp_path: Path, key: str = TMDB_KEY, **options: object) -> TMDBClient:
    options = {"requests_per_second": 1000.0, "sleep": lambda seconds: None, **options}
    return TMDBClient(key, base_url=f"{url}/3", cache_path=tmp_path / "tmdb.jsonl", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("Usual Suspects, The (1995)", "The Usual Suspects"),
        ("Misérables, Les (1995)", "Les Misérables"),
        ("City of Lost Children, The (Cité des enfants perdus, La) (1995)", "The City of Lost Children"),
        ("Toy Story (1995)", "Toy Story"),
        ("Homme et une femme, Un (1966)", "Homme et une femme, Un"),
    ],
)
def test_clean_title(title: str, clean: str) -> None:
    assert clean_title(title) == clean


def test_match_by_tmdb_id_imdb_id_and_search(tmp_path: Path) -> None:
    with serve(FakeTMDB()) as (url, requests):
        client = _client(url, tmp_path)
        by_tmdb = client.match(MovieRef(1, "Toy Story (1995)", 1995, tmdb_id=862))
        by_imdb = client.match(MovieRef(1, "Toy Story (1995)", 1995, imdb_id="tt0114709"))
        stale_id = client.match(MovieRef(1, "Toy Story (1995)", 1995, imdb_id="tt0114709", tmdb_id=12345))
        searched = client.match(MovieRef(2, "Usual Suspects, The (1995)", 1995))
        fallback = client.match(MovieRef(3, "Misérables, Les (1995)", 1995))  # found only without the year
        missing = client.match(MovieRef(4, "Nonexistent Film (1997)", 1997, imdb_id="tt9999999"))
        client.close()
    assert by_tmdb == by_imdb == stale_id  # a TMDB id that 404s falls through to the IMDb id
    assert (
        by_tmdb is not None
        and by_tmdb["overview"] == "Toys come alive."
        and by_tmdb["tmdb_genres"] == "Animation|Comedy"
    )
    assert (by_tmdb["tagline"], by_tmdb["runtime"], by_tmdb["original_language"]) == (
        "To infinity.",
        81,
        "en",
    )
    assert searched is not None and (searched["tmdb_id"], searched["tagline"]) == (
        629,
        None,
    )  # exact title wins
    assert fallback is not None and (fallback["tmdb_id"], fallback["overview"]) == (4415, None)
    assert missing is None
    assert all(f"api_key={TMDB_KEY}" in request for request in requests)
    assert any(
        request.startswith("/3/find/tt0114709?") and "external_source=imdb_id" in request for request in requests
    )


def test_answers_are_cached_on_disk(tmp_path: Path) -> None:
    with serve(FakeTMDB()) as (url, requests):
        first = _client(url, tmp_path)
        record = first.match(MovieRef(2, "Usual Suspects, The (1995)", 1995))
        assert first.match(MovieRef(5, "Nonexistent Film (1997)", 1997)) is None
        first.close()
        count = len(requests)
        second = _client(url, tmp_path)
        assert second.match(MovieRef(2, "Usual Suspects, The (1995)", 1995)) == record
        assert second.match(MovieRef(5, "Nonexistent Film (1997)", 1997)) is None  # "not found" is cached too
        second.close()
    assert len(requests) == count and second.requests == 0
    assert TMDB_KEY not in (tmp_path / "tmdb.jsonl").read_text()


def test_429_with_retry_after_then_success(tmp_path: Path) -> None:
    fake = FakeTMDB()
    fake.fail["/3/movie/862"] = [(429, {"Retry-After": "3"}), (503, {})]
    waits: list[float] = []
    with serve(fake) as (url, requests):
        client = _client(url, tmp_path, sleep=waits.append)
        assert client.details(862)["title"] == "Toy Story"  # type: ignore[index]
        client.close()
    assert len(requests) == 3 and 3.0 in waits


def test_errors_never_show_the_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTMDB()
    fake.fail["/3/movie/1"] = [(500, {})] * 10
    caplog.set_level(logging.DEBUG)
    with serve(fake) as (url, _):
        client = _client(url, tmp_path, max_retries=2)
        with pytest.raises(TMDBError) as failed:
            client.details(1)
        client.close()
        bad_key = _client(url, tmp_path / "other", key="wrong-key-456")
        with pytest.raises(TMDBError, match="rejected the API key") as rejected:
            bad_key.details(862)
        bad_key.close()
    unreachable = _client("http://127.0.0.1:9", tmp_path / "down", max_retries=1)
    with pytest.raises(TMDBError, match="ConnectError") as down:
        unreachable.details(862)
    message = str(failed.value)
    assert "HTTP 500" in message and "gave up after 3 attempts" in message and "/3/movie/1" in message
    for text in (message, str(rejected.value), str(down.value), caplog.text):
        assert TMDB_KEY not in text and "wrong-key-456" not in text
    assert "api_key=***" in caplog.text  # httpx logged the requests, redacted


def test_read_access_token_goes_in_the_header(tmp_path: Path) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    with serve(FakeTMDB(key=token)) as (url, requests):
        client = _client(url, tmp_path, key=token)
        assert client.details(862) is not None
        client.close()
    assert "api_key" not in requests[0]


def test_enrich_items(tmp_path: Path) -> None:
    items = pd.DataFrame(
        {
            "title": ["Toy Story (1995)", "Nonexistent Film (1997)"],
            "year": pd.array([1995, 1997], dtype="Int16"),
        },
        index=pd.Index([1, 4], name="item_id"),
    )
    items["imdb_id"] = ["tt0114709", None]
    with serve(FakeTMDB()) as (url, _):
        client = _client(url, tmp_path)
        table, unmatched = enrich_items(items, client, show_progress=False)
        client.close()
    assert table["movie_id"].tolist() == [1] and unmatched == [4]
    assert table.loc[0, "overview"] == "Toys come alive." and table.loc[0, "imdb_id"] == "tt0114709"


def test_redact() -> None:
    assert redact("GET http://x/3/movie/1?api_key=abc&x=1") == "GET http://x/3/movie/1?api_key=***&x=1"
