"""Faithful parsers of the official MovieLens files into typed pandas tables.

Ratings files are read with pandas for speed and then validated; anything wrong (missing file,
truncated line, wrong column count, non-numeric or out-of-range value, undecodable bytes) is reported
as a :class:`~lusifer.api.errors.DataError` naming the file and the line. The small item and user files are
parsed line by line.

Tables: ratings have ``user_id``, ``item_id`` (int32), ``rating`` (int8) and ``timestamp`` (int64) in
file order. Half-star ratings of the ``latest`` layout are rounded half up (0.5 -> 1, 3.5 -> 4) onto the
1..5 scale. Items are indexed by ``item_id`` with ``title``, ``year`` (nullable Int16) and ``genres``
(``|``-separated, empty when unknown); users are indexed by ``user_id``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from lusifer.api.errors import DataError

RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
LATIN1 = "latin-1"
#: The 19 genre flags of ML-100K's ``u.item``, in file order (as listed in ``u.genre``).
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip
#: Genre placeholders that mean "no genre"; they are dropped from ``genres``.
NO_GENRE = {"unknown", "(no genres listed)"}
#: ML-1M ``users.dat`` codes (see the dataset README).
AGES_1M = {1: "under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55", 56: "56+"}
OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer",
    "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
_YEAR = re.compile(r"\((\d{4})\)\s*$")


# Ratings -------------------------------------------------------------------------------------------


def read_100k_ratings(path: Path) -> pd.DataFrame:
    """``u.data`` or a split file (``u1.base`` ... ``ub.test``): tab-separated, no header."""
    return _read_ratings(path, "\t", half_stars=False, header=None)


def read_1m_ratings(path: Path) -> pd.DataFrame:
    """``ratings.dat``: ``UserID::MovieID::Rating::Timestamp``."""
    return _read_ratings(path, "::", half_stars=False, header=None)


def read_latest_ratings(path: Path) -> pd.DataFrame:
    """``ratings.csv`` of ml-latest(-small) / ml-25m: half stars, rounded half up to 1..5."""
    return _read_ratings(path, ",", half_stars=True, header="userId,movieId,rating,timestamp")


def _read_ratings(path: Path, sep: str, half_stars: bool, header: str | None) -> pd.DataFrame:
    _require_file(path)
    source: Path | io.BytesIO = path
    if len(sep) > 1:  # pandas' C parser takes one-character separators only
        source = io.BytesIO(path.read_bytes().replace(sep.encode(), b"\t"))
    try:
        frame = pd.read_csv(
            source,
            sep="\t" if len(sep) > 1 else sep,
            header=None,
            skiprows=int(bool(header)),
            encoding=LATIN1 if header is None else "utf-8",
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise _locate_bad_rating(path, sep, half_stars, header, str(error)) from None
    if header is not None:
        _check_header(path, header)
    if not _ratings_ok(frame, half_stars):
        raise _locate_bad_rating(path, sep, half_stars, header, "unexpected values")
    frame.columns = RATING_COLUMNS
    rating = np.ceil(frame["rating"].to_numpy()) if half_stars else frame["rating"].to_numpy()
    return pd.DataFrame(
        {
            "user_id": frame["user_id"].to_numpy(np.int32),
            "item_id": frame["item_id"].to_numpy(np.int32),
            "rating": rating.astype(np.int8),
            "timestamp": frame["timestamp"].to_numpy(np.int64),
        }
    )


def _ratings_ok(frame: pd.DataFrame, half_stars: bool) -> bool:
    if frame.shape[1] != 4 or frame.isna().any().any():
        return False
    kinds = [frame[column].dtype.kind for column in frame.columns]
    if kinds[0] not in "iu" or kinds[1] not in "iu" or kinds[3] not in "iu":
        return False
    ratings = frame[frame.columns[2]]
    if half_stars:
        valid = ratings.dtype.kind in "iuf" and bool(((ratings * 2) % 1 == 0).all())
        return valid and bool(ratings.between(0.5, 5).all())
    return ratings.dtype.kind in "iu" and bool(ratings.between(1, 5).all())


def _locate_bad_rating(path: Path, sep: str, half_stars: bool, header: str | None, reason: str) -> DataError:
    """Scan ``path`` line by line for the first line that breaks the ratings format."""
    encoding = LATIN1 if header is None else "utf-8"
    for number, line in _lines(path, encoding):
        if header is not None and number == 1:
            continue
        if not line.strip():
            continue
        fields = line.split(sep)
        where = f"{path}, line {number}"
        if len(fields) != 4:
            return DataError(f"{where}: expected 4 fields separated by {sep!r}, found {len(fields)}: {line!r}")
        for name, value in zip(("user id", "item id", "timestamp"), (fields[0], fields[1], fields[3])):
            if not value.strip().isdigit():
                return DataError(f"{where}: {name} {value!r} is not a non-negative integer")
        if not _valid_rating(fields[2], half_stars):
            scale = "0.5..5 in half stars" if half_stars else "an integer from 1 to 5"
            return DataError(f"{where}: rating {fields[2]!r} is not {scale}")
    return DataError(f"{path}: could not be read as ratings ({reason})")


def _valid_rating(text: str, half_stars: bool) -> bool:
    try:
        rating = float(text)
    except ValueError:
        return False
    if not math.isfinite(rating):
        return False
    if half_stars:
        return rating * 2 == int(rating * 2) and 0.5 <= rating <= 5
    return rating in (1, 2, 3, 4, 5)


# Items and users -----------------------------------------------------------------------------------


def read_100k_items(path: Path) -> pd.DataFrame:
    """``u.item``: ``id|title|release date|video release date|IMDb URL|`` + 19 genre flags."""
    rows = []
    for number, fields in _split_lines(path, "|", 5 + len(GENRES_100K), LATIN1):
        flags = fields[5:]
        if any(flag not in ("0", "1") for flag in flags):
            raise DataError(f"{path}, line {number}: genre flags must be 0 or 1, found {'|'.join(flags)!r}")
        genres = [genre for genre, flag in zip(GENRES_100K, flags) if flag == "1"]
        release = fields[2].strip()
        year = release[-4:] if release[-4:].isdigit() else None
        rows.append(
            (
                _int(fields[0], path, number, "item id"),
                fields[1].strip(),
                release,
                fields[4].strip(),
                genres,
                year,
            )
        )
    frame = pd.DataFrame(rows, columns=["item_id", "title", "release_date", "imdb_url", "genres", "date_year"])
    frame = _finish_items(frame, path, fallback_year=frame.pop("date_year"))
    return frame[["title", "year", "genres", "release_date", "imdb_url"]]


def read_1m_movies(path: Path) -> pd.DataFrame:
    """``movies.dat``: ``MovieID::Title::Genres`` with ``|``-separated genres."""
    rows = [
        (_int(fields[0], path, number, "movie id"), fields[1].strip(), fields[2].strip().split("|"))
        for number, fields in _split_lines(path, "::", 3, LATIN1)
    ]
    return _finish_items(pd.DataFrame(rows, columns=["item_id", "title", "genres"]), path)


def read_latest_movies(path: Path) -> pd.DataFrame:
    """``movies.csv``: ``movieId,title,genres`` (UTF-8, quoted titles)."""
    rows = [
        (_int(fields[0], path, number, "movie id"), fields[1].strip(), fields[2].strip().split("|"))
        for number, fields in _csv_rows(path, "movieId,title,genres")
    ]
    return _finish_items(pd.DataFrame(rows, columns=["item_id", "title", "genres"]), path)


def read_latest_links(path: Path) -> pd.DataFrame:
    """``links.csv``: ``movieId,imdbId,tmdbId``, as ``imdb_id`` (``tt0114709``) and ``tmdb_id`` (Int64)."""
    rows = []
    for number, (movie, imdb, tmdb) in _csv_rows(path, "movieId,imdbId,tmdbId"):
        rows.append(
            (
                _int(movie, path, number, "movie id"),
                f"tt{_int(imdb, path, number, 'IMDb id'):07d}" if imdb.strip() else None,
                _int(tmdb, path, number, "TMDB id") if tmdb.strip() else None,
            )
        )
    frame = pd.DataFrame(rows, columns=["item_id", "imdb_id", "tmdb_id"])
    frame["tmdb_id"] = frame["tmdb_id"].astype("Int64")
    return frame.set_index(frame["item_id"].astype(np.int32)).drop(columns="item_id")


def read_100k_users(path: Path) -> pd.DataFrame:
    """``u.user``: ``id|age|gender|occupation|zip code``."""
    rows = [
        (
            _int(f[0], path, n, "user id"),
            _int(f[1], path, n, "age"),
            _gender(f[2], path, n),
            f[3].strip(),
            f[4].strip(),
        )
        for n, f in _split_lines(path, "|", 5, LATIN1)
    ]
    return _finish_users(pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip_code"]), path)


def read_1m_users(path: Path) -> pd.DataFrame:
    """``users.dat``: ``UserID::Gender::Age::Occupation::Zip-code`` with coded age and occupation."""
    rows = []
    for n, fields in _split_lines(path, "::", 5, LATIN1):
        age, occupation = _int(fields[2], path, n, "age code"), _int(fields[3], path, n, "occupation code")
        if age not in AGES_1M or not 0 <= occupation < len(OCCUPATIONS_1M):
            raise DataError(f"{path}, line {n}: unknown age code {age} or occupation code {occupation}")
        gender = _gender(fields[1], path, n)
        user = _int(fields[0], path, n, "user id")
        rows.append((user, AGES_1M[age], gender, OCCUPATIONS_1M[occupation], fields[4].strip()))
    return _finish_users(pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip_code"]), path)


def _finish_items(frame: pd.DataFrame, path: Path, fallback_year: pd.Series | None = None) -> pd.DataFrame:
    _check_unique(frame["item_id"], path, "item id")
    year = frame["title"].str.extract(_YEAR, expand=False)
    if fallback_year is not None:
        year = year.fillna(fallback_year)
    frame["year"] = pd.to_numeric(year).astype("Int16")
    frame["genres"] = ["|".join(g for g in genres if g and g not in NO_GENRE) for genres in frame["genres"]]
    return frame.set_index(frame.pop("item_id").astype(np.int32).rename("item_id"))


def _finish_users(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    _check_unique(frame["user_id"], path, "user id")
    for column in ("gender", "occupation"):
        frame[column] = frame[column].astype("category")
    if frame["age"].dtype.kind in "iu":
        frame["age"] = frame["age"].astype(np.int16)
    else:
        frame["age"] = pd.Categorical(frame["age"], categories=list(AGES_1M.values()), ordered=True)
    return frame.set_index(frame.pop("user_id").astype(np.int32).rename("user_id"))


def check_ids(ratings: pd.DataFrame, users: pd.Index, items: pd.Index, path: Path, header: bool = False) -> None:
    """Raise a :class:`DataError` at the first line of ``path`` whose user or item id is unknown."""
    for column, known, noun in (("user_id", users, "user"), ("item_id", items, "item")):
        unknown = ~ratings[column].isin(known).to_numpy()
        if unknown.any():
            row = int(np.argmax(unknown))
            line = _line_of_row(path, row, header)
            value = ratings[column].iloc[row]
            raise DataError(f"{path}, line {line}: unknown {noun} id {value} (not in the dataset's {noun}s)")


# Line-level helpers --------------------------------------------------------------------------------


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{path}: file not found (is this an unpacked official MovieLens folder?)")


def _decode(path: Path, encoding: str) -> str:
    _require_file(path)
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        byte = raw[error.start : error.start + 1].hex()
        raise DataError(f"{path}, line {line}: not valid {encoding} text (byte 0x{byte})") from None


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    yield from enumerate(_decode(path, encoding).splitlines(), start=1)


def _split_lines(path: Path, sep: str, count: int, encoding: str) -> Iterator[tuple[int, list[str]]]:
    for number, line in _lines(path, encoding):
        if not line.strip():
            continue
        fields = line.split(sep)
        if len(fields) != count:
            raise DataError(f"{path}, line {number}: expected {count} fields separated by {sep!r}, found {len(fields)}")
        yield number, fields


def _csv_rows(path: Path, header: str) -> Iterator[tuple[int, list[str]]]:
    expected = header.split(",")
    reader = csv.reader(io.StringIO(_decode(path, "utf-8"), newline=""))
    for fields in reader:
        number = reader.line_num
        if number == 1 and fields[: len(expected)] == expected:
            continue
        if number == 1:
            raise DataError(f"{path}, line 1: expected the header {header!r}")
        if not fields:
            continue
        if len(fields) != len(expected):
            raise DataError(
                f"{path}, line {number}: expected {len(expected)} comma-separated fields, found {len(fields)}"
            )
        yield number, fields


def _check_header(path: Path, header: str) -> None:
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = handle.readline().strip().lstrip("\ufeff")
    if first != header:
        raise DataError(f"{path}, line 1: expected the header {header!r}, found {first!r}")


def _int(value: str, path: Path, line: int, what: str) -> int:
    text = value.strip()
    if not text.isdigit():
        raise DataError(f"{path}, line {line}: {what} {value!r} is not a non-negative integer")
    return int(text)


def _gender(value: str, path: Path, line: int) -> str:
    if value.strip() not in ("M", "F"):
        raise DataError(f"{path}, line {line}: gender {value!r} is not M or F")
    return value.strip()


def _check_unique(ids: pd.Series, path: Path, what: str) -> None:
    duplicated = ids.duplicated().to_numpy()
    if duplicated.any():
        row = int(np.argmax(duplicated))
        raise DataError(f"{path}: {what} {ids.iloc[row]} appears twice (row {row + 1})")


def _line_of_row(path: Path, row: int, header: bool) -> int:
    """The 1-based line number of data row ``row`` (blank lines do not count as rows)."""
    seen = -1
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if (header and number == 1) or not line.strip():
                continue
            seen += 1
            if seen == row:
                return number
    return row + 1 + int(header)
