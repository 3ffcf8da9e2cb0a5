"""Reading what ``lusifer evaluate`` scores: run directories, prediction CSVs, training slices.

Every problem is a :class:`lusifer.api.errors.DataError` (or ``NotFoundError``) whose one-line message
names the file and, where known, the column or line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lusifer.api.errors import DataError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

#: Accepted names of the item column, in order of preference (renamed to ``item_id``).
ITEM_COLUMNS = ("item_id", "movie_id")
SIMULATED = "simulated_rating"
CALIBRATED = "calibrated_rating"
#: Distribution mode's mean rating (``ratings.csv`` of a ``--distribution`` run).
EXPECTED = "expected_rating"


@dataclass
class EvaluationInput:
    """Predictions to score plus their context (training slice, scale, profiles)."""

    frame: pd.DataFrame
    columns: list[str]
    truth: str = "rating"
    history: pd.DataFrame | None = None
    kind: str | None = None
    scale: tuple[float, float] | None = None
    profiles: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    #: The domain's headline metrics (``Domain.evaluators``), printed first; None when unknown.
    headline: list[str] | None = None


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV file as a table; missing or unreadable files are DataErrors naming the file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{path}: not a readable CSV file ({first_line})") from None


def _numeric(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """``column`` as floats; empty cells become NaN, any other non-number is an error."""
    import pandas as pd

    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna() & (frame[column].astype(str).str.strip() != "")
    if bad.any():
        position = int(bad.to_numpy().argmax())
        raise DataError(
            f"{path}: column '{column}' has a non-numeric value {frame[column].iloc[position]!r} on line {position + 2}"
        )
    return values.astype(float)


def _require(frame: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(map(str, frame.columns))})")


def _with_item_id(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    for name in ITEM_COLUMNS:
        if name in frame.columns:
            return frame.rename(columns={name: "item_id"}) if name != "item_id" else frame
    raise DataError(f"{path}: missing column item_id (or {', '.join(ITEM_COLUMNS[1:])})")


def read_predictions(
    path: Path, columns: Sequence[str], truth: str = "rating", frame: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``user_id, item_id`` (or ``movie_id``), ``truth`` and ``columns`` of a predictions CSV, as floats.

    ``frame``: the file's table already read (e.g. renamed by :mod:`lusifer.evaluation.foreign`).
    """
    from lusifer.kernel.registry import unknown_name_message

    path = Path(path)
    frame = _with_item_id(read_csv(path) if frame is None else frame, path)
    _require(frame, ("user_id",), path)
    if truth not in frame.columns:
        raise DataError(f"{path}: missing truth column '{truth}' (set it with --truth)")
    available = [str(column) for column in frame.columns if column not in ("user_id", "item_id", truth)]
    for column in columns:
        if column not in frame.columns:
            raise NotFoundError(f"{path}: " + unknown_name_message("column", column, available))
    result = frame[["user_id", "item_id"]].copy()
    for column in dict.fromkeys([truth, *columns]):
        result[column] = _numeric(frame, column, path)
    if result[truth].isna().any():
        line = int(result[truth].isna().to_numpy().argmax()) + 2
        raise DataError(f"{path}: truth column '{truth}' is empty on line {line}")
    _check_unique_pairs(result, path)
    return result


def _check_unique_pairs(frame: pd.DataFrame, path: Path) -> None:
    """One row per (user, item): a repeated pair would be scored twice (or disagree with itself)."""
    keys = frame["user_id"].astype(str) + "\x00" + frame["item_id"].astype(str)
    repeated = keys.duplicated(keep="first")
    if repeated.any():
        line = int(repeated.to_numpy().argmax())
        first = int((keys == keys.iloc[line]).to_numpy().argmax())
        user, item = frame["user_id"].iloc[line], frame["item_id"].iloc[line]
        raise DataError(
            f"{path}: user {user}, item {item} appears more than once (lines {first + 2} and {line + 2}); "
            "keep one row per (user, item)"
        )


def invalidate_out_of_scale(
    frame: pd.DataFrame, columns: Sequence[str], scale: tuple[float, float]
) -> tuple[pd.DataFrame, list[str]]:
    """Predictions outside ``scale`` become missing (invalid: they lower ``valid_share``); one note per column."""
    low, high = scale
    notes = []
    frame = frame.copy()
    for column in columns:
        outside = frame[column].notna() & ~frame[column].between(low, high)
        if outside.any():
            example = frame.loc[outside, column].iloc[0]
            notes.append(
                f"{column}: {int(outside.sum())} predictions outside {low:g}..{high:g} (e.g. {example:g}) "
                "count as invalid"
            )
            frame.loc[outside, column] = float("nan")
    return frame, notes


def read_history(path: Path) -> pd.DataFrame:
    """A training slice CSV: ``user_id, item_id`` (or ``movie_id``), ``rating`` [, ``timestamp``]."""
    path = Path(path)
    frame = _with_item_id(read_csv(path), path)
    _require(frame, ("user_id", "rating"), path)
    frame["rating"] = _numeric(frame, "rating", path)
    return frame.dropna(subset=["rating"]).reset_index(drop=True)


def read_profiles(path: Path) -> list[dict[str, Any]]:
    """``profiles.jsonl``: one JSON object per line (user_id, step, profile, explanation, item_ids)."""
    states = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            state = json.loads(line)
        except ValueError:
            raise DataError(f"{path}: line {number} is not valid JSON") from None
        if not isinstance(state, dict):
            raise DataError(f"{path}: line {number} is not a JSON object")
        states.append(state)
    return states


def read_run_dir(run_dir: Path, columns: Sequence[str] = ()) -> EvaluationInput:
    """A simulation run: ``ratings.csv`` (+ ``history.csv``, ``profiles.jsonl``, ``config.json``).

    Scores ``columns`` of ``ratings.csv``, by default ``simulated_rating`` (and ``calibrated_rating``
    when the run applied a calibrator). A distribution-mode run also scores ``expected_rating`` and
    ``argmax_rating`` (the most likely point of each distribution), and its ``p_<point>`` columns ride
    along in the frame for the proper scoring rules. The feedback scale comes from the run's domain.
    """
    from lusifer.evaluation.scoring import ARGMAX, argmax_ratings, probability_columns
    from lusifer.kernel.registry import get_domain

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: run directory not found")
    ratings_path = run_dir / "ratings.csv"
    header = read_csv(ratings_path).columns
    probabilities = probability_columns(header)
    if not columns:
        columns = [name for name in (SIMULATED, EXPECTED, CALIBRATED) if name in header] or [SIMULATED]
        if len(probabilities) >= 3:
            columns.insert(columns.index(EXPECTED) + 1 if EXPECTED in columns else len(columns), ARGMAX)
    read = [column for column in columns if column != ARGMAX or column in header]
    frame = read_predictions(ratings_path, [*read, *(p for p in probabilities if p not in read)], "rating")
    if ARGMAX in columns and ARGMAX not in header:
        if len(probabilities) < 3:
            raise DataError(f"{ratings_path}: {ARGMAX} needs the p_<point> columns of a --distribution run")
        frame[ARGMAX] = argmax_ratings(frame)
    stored = stored_target_count(run_dir)
    if stored is not None and stored != len(frame):
        raise DataError(
            f"{ratings_path} has {len(frame)} rows but the run store holds {stored} test items: the export is "
            "incomplete or from another run; rerun the same `lusifer run` command to rewrite it"
        )
    data = EvaluationInput(frame=frame, columns=list(columns), source=str(run_dir))
    history_path = run_dir / "history.csv"
    if history_path.is_file():
        data.history = read_history(history_path)
    profiles_path = run_dir / "profiles.jsonl"
    if profiles_path.is_file():
        data.profiles = read_profiles(profiles_path)
    config_path = run_dir / "config.json"
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except ValueError:
            raise DataError(f"{config_path}: not valid JSON") from None
        if isinstance(config, dict) and config.get("domain"):
            domain = get_domain(str(config["domain"]))
            data.kind, data.scale = domain.scale.kind, (float(domain.scale.low), float(domain.scale.high))
            data.headline = list(domain.evaluators)
    return data


def stored_target_count(run_dir: Path) -> int | None:
    """How many test items the run store of ``run_dir`` holds (None: no store).

    Opened read-only, so a run directory on a read-only disk can be checked too.
    """
    import sqlite3

    from lusifer.runs.store import STORE_FILE

    path = Path(run_dir) / STORE_FILE
    if not path.is_file():
        return None
    last_error: Exception | None = None
    for mode in ("ro", "ro&immutable=1"):  # immutable: no -shm file can be created next to it
        try:
            with sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True) as db:
                return int(db.execute("SELECT COUNT(*) FROM targets").fetchone()[0])
        except sqlite3.Error as error:
            last_error = error
    raise DataError(f"{path}: the run store cannot be read ({last_error}); was the run started in this folder?")


def paper_protocol(data_dir: Path | None, enrich_file: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's ML-100K slices: (each user's last 40 ``u1.base`` ratings, the 4,292 test rows).

    Test rows: ``u1.test`` restricted to movies with an overview, first 10 rows per user in file order.
    """
    from lusifer.domains.movies.protocol import PAPER_DATASET, PAPER_DOMAIN, paper_data_config
    from lusifer.engine.selection import protocol_slices
    from lusifer.kernel.registry import get_domain

    if enrich_file is None:
        raise DataError("--protocol paper needs --enrich-file (TMDB overviews decide the test items)")
    config = paper_data_config(data_dir, enrich_file)
    domain = get_domain(PAPER_DOMAIN)
    dataset = domain.load(PAPER_DATASET, config)
    history, test = protocol_slices(domain.split(dataset, config.fold, 0), dataset.items, config)
    return history, test
