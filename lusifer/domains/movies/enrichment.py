"""Extra item text from an enrichment CSV (e.g. TMDB overviews), merged onto the items table.

An enrichment CSV has one row per movie: a ``movie_id`` (or ``item_id``) column with the dataset's
ids and any of ``overview``, ``tagline``, ``tmdb_genres`` (``|``-separated), ``runtime`` (minutes),
``original_language``, plus bookkeeping columns such as ``tmdb_id``, ``imdb_id``, ``tmdb_title`` and
``tmdb_release_date``. ``lusifer data enrich`` writes such a file to :func:`default_enrichment_path`,
which :class:`~lusifer.domains.movies.domain.MoviesDomain` then picks up automatically.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lusifer.api.errors import DataError
from lusifer.paths import data_cache_dir

#: Columns of the files ``lusifer data enrich --source tmdb`` writes, in order.
TMDB_COLUMNS = (
    "movie_id", "tmdb_id", "imdb_id", "tmdb_title", "overview", "tmdb_genres", "tagline", "runtime",
    "original_language", "tmdb_release_date",
)  # fmt: skip


def default_enrichment_path(dataset: str, source: str = "tmdb") -> Path:
    """Where ``lusifer data enrich DATASET --source SOURCE`` writes (and loading looks)."""
    return data_cache_dir() / "enrichment" / f"{dataset}-{source}.csv"


def read_enrichment(path: Path) -> pd.DataFrame:
    """Read an enrichment CSV, indexed by ``item_id``; problems name the file and the line."""
    if not Path(path).is_file():
        raise DataError(f"{path}: enrichment file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as error:
        line = Path(path).read_bytes()[: error.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not valid UTF-8 text") from None
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{path}: not a readable CSV file ({str(error).strip()})") from None
    key = "movie_id" if "movie_id" in frame.columns else "item_id"
    if key not in frame.columns:
        raise DataError(f"{path}: needs a 'movie_id' (or 'item_id') column; found {', '.join(frame.columns)}")
    raw_ids = frame.pop(key).str.strip()
    ids = pd.to_numeric(raw_ids, errors="coerce")
    for problem, rows in (
        ("is not an integer", ids.isna() | (ids % 1 != 0)),
        ("appears twice", ids.duplicated()),
    ):
        if rows.any():
            row = int(rows.to_numpy().argmax())
            raise DataError(f"{path}, line {row + 2}: {key} {raw_ids.iloc[row]!r} {problem}")
    frame = frame.replace("", pd.NA)
    if "runtime" in frame.columns:
        frame["runtime"] = pd.to_numeric(frame["runtime"], errors="coerce")
    frame.index = pd.Index(ids.astype("int64"), name="item_id")
    return frame


def apply_enrichment(items: pd.DataFrame, enrichment: pd.DataFrame) -> pd.DataFrame:
    """Add the enrichment's columns to ``items`` (rows of unknown ids are ignored).

    Columns the items table already has (e.g. ``imdb_id`` from ``links.csv``) are kept as they are.
    """
    extra = enrichment[[column for column in enrichment.columns if column not in items.columns]]
    return items.join(extra.reindex(items.index))
