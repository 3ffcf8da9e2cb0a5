"""A small TMDB API v3 client that matches MovieLens movies and fetches their text.

Matching, in order: the TMDB id from ``links.csv`` (``/movie/{id}``), else the IMDb id
(``/find/{imdb_id}?external_source=imdb_id``), else ``/search/movie`` by cleaned title and year (then
by title alone). Details come from ``/movie/{id}``: overview, genres, tagline, runtime, language.

Every answer (including "not found") is appended to a JSON-lines cache in the data cache dir, so a
dataset is enriched once and an interrupted run resumes where it stopped. Requests are spaced to
``requests_per_second`` and retried on 429/5xx and network errors, honouring ``Retry-After``.

The key goes in the ``api_key`` query parameter (or, for a v4 read-access token, the Authorization
header); error messages and httpx's request log show URLs with the key replaced by ``***``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from lusifer.api.errors import LusiferError
from lusifer.paths import data_cache_dir

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BASE_URL = "https://api.themoviedb.org/3"
#: Longest wait honoured from a Retry-After header, in seconds.
MAX_RETRY_AFTER = 120.0
_ARTICLES = r"The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El|Los|Las|Det|Den"
_TRAILING_ARTICLE = re.compile(rf"^(?P<rest>.+), (?P<article>{_ARTICLES})$")
_TRAILING_PARENS = re.compile(r"\s*\([^()]*\)\s*$")


class TMDBError(LusiferError):
    """A TMDB request failed for good (bad key, client error, or still failing after retries)."""


class _TransientError(TMDBError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class MovieRef:
    """What is known about a movie before matching it on TMDB."""

    movie_id: int
    title: str
    year: int | None = None
    imdb_id: str | None = None
    tmdb_id: int | None = None


def redact(text: str) -> str:
    """``text`` with any ``api_key=...`` query value replaced by ``***``."""
    return re.sub(r"(api_key=)[^&\s\"')]+", r"\1***", text)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(str(arg)) if "api_key=" in str(arg) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def _install_log_redaction() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _RedactingFilter) for existing in logger.filters):
            logger.addFilter(_RedactingFilter())


def clean_title(title: str) -> str:
    """A MovieLens title as TMDB spells it: ``"Usual Suspects, The (1995)"`` -> ``"The Usual Suspects"``."""
    text = title.strip()
    while _TRAILING_PARENS.search(text) and _TRAILING_PARENS.sub("", text):
        text = _TRAILING_PARENS.sub("", text)
    match = _TRAILING_ARTICLE.match(text)
    if match:
        article = match["article"]
        text = f"{article}{'' if article.endswith(chr(39)) else ' '}{match['rest']}"
    return text


class TMDBClient:
    """Cached, rate-limited, retrying access to the TMDB v3 API."""

    def __init__(
        self,
        api_key: SecretStr | str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        cache_path: Path | None = None,
        requests_per_second: float = 20.0,
        max_retries: int = 5,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._key = key
        bearer = key.startswith("eyJ") and key.count(".") == 2  # a v4 read-access token
        self._params = {} if bearer else {"api_key": key}
        headers = {"Accept": "application/json"} | ({"Authorization": f"Bearer {key}"} if bearer else {})
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self._interval = 1.0 / requests_per_second
        self._next_request = 0.0
        self._max_retries = max_retries
        self._sleep = sleep
        self.cache_path = cache_path or data_cache_dir() / "tmdb" / "responses.jsonl"
        self._cache = _read_cache(self.cache_path)
        self.requests = 0
        _install_log_redaction()

    def close(self) -> None:
        self._http.close()

    # Lookups -------------------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """GET ``path`` (JSON), from the cache when asked before; None when TMDB answers 404."""
        params = {name: value for name, value in (params or {}).items() if value is not None}
        cache_key = f"{path}?{json.dumps(params, sort_keys=True, ensure_ascii=False)}"
        if cache_key in self._cache:
            return self._cache[cache_key]
        retrying = Retrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=_wait,
            retry=retry_if_exception_type(_TransientError),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            body = retrying(self._request, path, params)
        except _TransientError as error:
            raise TMDBError(f"{error} (gave up after {self._max_retries + 1} attempts)") from None
        self._cache[cache_key] = body
        _append_cache(self.cache_path, cache_key, body)
        return body

    def details(self, tmdb_id: int) -> dict[str, Any] | None:
        """``/movie/{id}``: title, overview, genres, tagline, runtime, language, IMDb id."""
        return self.get(f"/movie/{int(tmdb_id)}")

    def find_imdb(self, imdb_id: str) -> int | None:
        """The TMDB id of the movie with IMDb id ``imdb_id`` (``tt0114709``), if any."""
        found = self.get(f"/find/{imdb_id}", {"external_source": "imdb_id"}) or {}
        results = found.get("movie_results") or []
        return int(results[0]["id"]) if results else None

    def search(self, title: str, year: int | None = None) -> int | None:
        """The TMDB id best matching ``title`` (and ``year``), preferring an exact title match."""
        query = clean_title(title)
        for attempt_year in (year, None) if year else (None,):
            found = self.get("/search/movie", {"query": query, "year": attempt_year, "include_adult": "false"})
            results = (found or {}).get("results") or []
            if results:
                wanted = query.casefold()
                exact = [
                    r
                    for r in results
                    if wanted in (str(r.get("title")).casefold(), str(r.get("original_title")).casefold())
                ]
                return int((exact or results)[0]["id"])
        return None

    def match(self, movie: MovieRef) -> dict[str, Any] | None:
        """The enrichment record of ``movie`` (see ``TMDB_COLUMNS``), or None when unmatched.

        Tries the known TMDB id, then the IMDb id, then a title search; the first that leads to a
        movie wins (an id TMDB no longer knows falls through to the next way).
        """
        lookups: tuple[Callable[[], int | None], ...] = (
            lambda: movie.tmdb_id,
            lambda: self.find_imdb(movie.imdb_id) if movie.imdb_id else None,
            lambda: self.search(movie.title, movie.year),
        )
        details, tmdb_id = None, None
        for lookup in lookups:
            tmdb_id = lookup()
            details = self.details(tmdb_id) if tmdb_id is not None else None
            if details is not None:
                break
        else:
            return None
        assert tmdb_id is not None  # the details came from it
        return {
            "movie_id": movie.movie_id,
            "tmdb_id": int(details.get("id") or tmdb_id),
            "imdb_id": details.get("imdb_id") or movie.imdb_id,
            "tmdb_title": details.get("title"),
            "overview": details.get("overview") or None,
            "tmdb_genres": "|".join(genre["name"] for genre in details.get("genres") or []) or None,
            "tagline": details.get("tagline") or None,
            "runtime": details.get("runtime"),
            "original_language": details.get("original_language"),
            "tmdb_release_date": details.get("release_date") or None,
        }

    # Transport -----------------------------------------------------------------------------------

    def _request(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        wait = self._next_request - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        self._next_request = time.monotonic() + self._interval
        self.requests += 1
        try:
            response = self._http.get(path, params={**params, **self._params})
        except httpx.HTTPError as error:
            raise _TransientError(
                f"TMDB request {self._describe(path, params)} failed: {type(error).__name__}"
            ) from None
        if response.status_code == 404:
            return None
        if response.status_code == 429 or response.status_code >= 500:
            raise _TransientError(
                f"TMDB request {self._describe(path, params)} failed: HTTP {response.status_code}",
                _retry_after(response.headers.get("retry-after")),
            )
        if response.status_code == 401:
            raise TMDBError("TMDB rejected the API key (HTTP 401); check it with 'lusifer keys set tmdb'")
        if response.status_code != 200:
            raise TMDBError(f"TMDB request {self._describe(path, params)} failed: HTTP {response.status_code}")
        try:
            body: dict[str, Any] = response.json()
            return body
        except ValueError:
            raise TMDBError(f"TMDB request {self._describe(path, params)} returned invalid JSON") from None

    def _describe(self, path: str, params: dict[str, Any]) -> str:
        text = str(httpx.URL(str(self._http.base_url).rstrip("/") + path, params=params))
        return redact(text).replace(self._key, "***") if self._key else redact(text)


def _retry_after(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value is not None else None
    except ValueError:
        return None


_backoff = wait_exponential(multiplier=0.5, max=30)


def _wait(state: Any) -> float:
    error = state.outcome.exception() if state.outcome else None
    retry_after = getattr(error, "retry_after", None)
    return retry_after if retry_after is not None else _backoff(state)


def _read_cache(path: Path) -> dict[str, dict[str, Any] | None]:
    cache: dict[str, dict[str, Any] | None] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                cache[entry["key"]] = entry["body"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an interrupted run
    return cache


def _append_cache(path: Path, key: str, body: dict[str, Any] | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"key": key, "body": body}, ensure_ascii=False) + "\n")


def enrich_items(items: pd.DataFrame, client: TMDBClient, show_progress: bool = True) -> tuple[pd.DataFrame, list[int]]:
    """Match every movie of ``items`` (``title``, ``year``, optional ``imdb_id``/``tmdb_id``).

    :returns: the enrichment table (columns ``TMDB_COLUMNS``, one row per matched movie) and the ids
        of the unmatched movies.
    """
    import pandas as pd
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

    from lusifer.domains.movies.enrichment import TMDB_COLUMNS
    from lusifer.download import progress_bar

    records, unmatched = [], []
    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with progress_bar(*columns, enabled=show_progress) as progress:
        task = progress.add_task("Matching movies on TMDB", total=len(items))
        for movie in _movie_refs(items):
            record = client.match(movie)
            if record is None:
                unmatched.append(movie.movie_id)
            else:
                records.append(record)
            progress.advance(task)
    table = pd.DataFrame.from_records(records, columns=list(TMDB_COLUMNS))
    table["tmdb_id"] = table["tmdb_id"].astype("Int64")
    return table, unmatched


def _movie_refs(items: pd.DataFrame) -> Iterator[MovieRef]:
    import pandas as pd

    frame = items.reindex(columns=["title", "year", "imdb_id", "tmdb_id"])
    for item_id, title, year, imdb, tmdb in frame.itertuples(name=None):
        yield MovieRef(
            movie_id=int(item_id),
            title=str(title),
            year=None if pd.isna(year) else int(year),
            imdb_id=None if pd.isna(imdb) else str(imdb),
            tmdb_id=None if pd.isna(tmdb) else int(tmdb),
        )
