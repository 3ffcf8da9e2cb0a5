"""Tiny MovieLens folders in the official formats, zips of them, and loopback HTTP servers for tests."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lusifer.domains.movies.datasets import DatasetSpec
from lusifer.testing.http import LoopbackServer

Response = tuple[int, dict[str, str], bytes]
Responder = Callable[[str, dict[str, list[str]], dict[str, str]], Response]
FLAGS = {"Action": 1, "Comedy": 5, "Drama": 8}  # positions among the 19 genre flags of u.item


def _flags(*genres: str) -> str:
    values = ["0"] * 19
    for genre in genres:
        values[FLAGS[genre]] = "1"
    return "|".join(values)


def write_100k(folder: Path) -> Path:
    """3 users, 4 movies, 10 ratings (user 1 has a timestamp tie), and fold u1."""
    folder.mkdir(parents=True, exist_ok=True)
    items = [
        f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|{_flags('Comedy')}",
        f"2|Usual Suspects, The (1995)|14-Aug-1995||http://us.imdb.com/x|{_flags('Drama')}",
        f"3|Misérables, Les (1995)|01-Jan-1995||http://us.imdb.com/x|{_flags('Drama')}",
        f"4|Nonexistent Film (1997)|01-Jan-1997||http://us.imdb.com/x|{_flags('Action', 'Comedy')}",
    ]
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n")
    ratings = [
        (1, 1, 5, 100), (1, 2, 3, 300), (1, 3, 4, 200), (1, 4, 1, 300),
        (2, 1, 4, 50), (2, 3, 2, 40), (2, 4, 5, 60),
        (3, 2, 3, 10), (3, 1, 1, 20), (3, 4, 2, 30),
    ]  # fmt: skip
    lines = ["\t".join(map(str, row)) for row in ratings]
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    (folder / "u1.base").write_text("\n".join(lines[:7]) + "\n")
    (folder / "u1.test").write_text("\n".join(lines[7:]) + "\n")
    return folder


def write_1m(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    movies = "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Star Wars: Episode IV (1977)::Action|Sci-Fi\n"
    (folder / "movies.dat").write_bytes(movies.encode("latin-1"))
    (folder / "ratings.dat").write_text("1::1::5::978300760\n1::2::3::978302109\n2::2::4::978301968\n")
    return folder


def write_latest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(
        'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,"American President, The (1995)",Comedy\n'
        "3,Some Film,(no genres listed)\n",
        encoding="utf-8",
    )
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0112346,\n3,,\n")
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,0.5,964981247\n2,1,3.5,964982224\n2,3,5.0,964983815\n"
    )
    return folder


def zip_folder(folder: Path, archive: Path, inside: str) -> Path:
    """Zip ``folder``'s files under ``inside/`` (as GroupLens zips do)."""
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.iterdir()):
            bundle.write(path, f"{inside}/{path.name}")
    return archive


def spec_for(archive: Path, url: str, name: str = "ml-100k", layout: str = "100k") -> DatasetSpec:
    data = archive.read_bytes()
    sha256, md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
    return DatasetSpec(name, url, name, layout, sha256=sha256, size=len(data), md5=md5)  # type: ignore[arg-type]


@contextmanager
def serve(respond: Responder) -> Iterator[tuple[str, list[str]]]:
    """Run ``respond(path, query, headers) -> (status, headers, body)`` on 127.0.0.1:<random port>.

    Yields the base URL and the list of request targets (path?query) received so far.
    """
    with LoopbackServer(respond) as server:
        yield server.base_url, server.requests


def files_responder(files: dict[str, bytes]) -> Callable[..., tuple[int, dict[str, str], bytes]]:
    def respond(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path in files:
            return 200, {"Content-Type": "application/zip"}, files[path]
        return 404, {}, b"not found"

    return respond


# A fake TMDB v3 API --------------------------------------------------------------------------------

TMDB_KEY = "sekrit-tmdb-key-123"
DETAILS = {
    862: {"id": 862, "imdb_id": "tt0114709", "title": "Toy Story", "overview": "Toys come alive.",
          "genres": [{"id": 16, "name": "Animation"}, {"id": 35, "name": "Comedy"}],
          "tagline": "To infinity.", "runtime": 81, "original_language": "en", "release_date": "1995-10-30"},
    629: {"id": 629, "imdb_id": "tt0114814", "title": "The Usual Suspects", "overview": "Five criminals.",
          "genres": [{"id": 80, "name": "Crime"}], "tagline": "", "runtime": 106, "original_language": "en",
          "release_date": "1995-07-19"},
    4415: {"id": 4415, "imdb_id": None, "title": "Les Misérables", "overview": "",
           "genres": [{"id": 18, "name": "Drama"}], "tagline": None, "runtime": 175, "original_language": "fr",
           "release_date": "1995-03-22"},
}  # fmt: skip


class FakeTMDB:
    """Routes of the fake TMDB API; ``fail`` maps a path to statuses answered before succeeding."""

    def __init__(self, key: str = TMDB_KEY) -> None:
        self.key = key
        self.fail: dict[str, list[tuple[int, dict[str, str]]]] = {}

    def __call__(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Response:
        if query.get("api_key") != [self.key] and headers.get("Authorization") != f"Bearer {self.key}":
            return self._json(401, {"status_message": "Invalid API key"})
        if self.fail.get(path):
            status, extra = self.fail[path].pop(0)
            return status, extra, b"{}"
        route = path.removeprefix("/3")
        if route.startswith("/movie/"):
            movie = DETAILS.get(int(route.split("/")[-1]))
            return self._json(200, movie) if movie else self._json(404, {"status_message": "not found"})
        if route == "/find/tt0114709":
            return self._json(200, {"movie_results": [{"id": 862}]})
        if route.startswith("/find/"):
            return self._json(200, {"movie_results": []})
        if route == "/search/movie":
            title, year = query.get("query", [""])[0], query.get("year", [None])[0]
            if title == "Toy Story":
                results = [{"id": 862, "title": "Toy Story"}]
            elif title == "The Usual Suspects" and year in ("1995", None):
                results = [{"id": 1, "title": "Suspects"}, {"id": 629, "title": "The Usual Suspects"}]
            elif title == "Les Misérables" and year is None:  # only found without the year
                results = [{"id": 4415, "title": "Les Misérables", "original_title": "Les Misérables"}]
            else:
                results = []
            return self._json(200, {"page": 1, "results": results})
        return self._json(404, {"status_message": "unknown route"})

    @staticmethod
    def _json(status: int, body: object) -> Response:
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()
