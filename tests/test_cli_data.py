"""``lusifer data fetch / info / enrich`` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from movies_fakes import TMDB_KEY, FakeTMDB, files_responder, serve, spec_for, write_100k, zip_folder

from lusifer.cli import cli, load_plugin_commands
from lusifer.domains.movies import datasets

TMDB_100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tmdb" / "ml-100k-tmdb.csv"


def _run(*arguments: str, **env: str) -> Result:
    load_plugin_commands()
    return CliRunner().invoke(cli, ["data", *arguments], env=env or None)


def test_info_on_real_ml100k(ml100k: Path) -> None:
    result = _run("info", "ml-100k", "--data-dir", str(ml100k))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "users     943" in lines and "ratings   100000 (per user: min 20, median 65, max 737)" in lines
    assert "items     1682 (0 with rich text)" in lines
    assert "dates     1997-09-20 .. 1998-04-22" in lines
    assert any(line.split()[:3] == ["4", "34174", "34.2%"] for line in lines)
    if TMDB_100K.is_file():
        enriched = _run("info", "ml-100k", "--data-dir", str(ml100k), "--enrich-file", str(TMDB_100K))
        assert "items     1682 (1591 with rich text)" in enriched.output


def test_fetch_downloads_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = zip_folder(write_100k(tmp_path / "src"), tmp_path / "ml-100k.zip", "ml-100k")
    with serve(files_responder({"/ml-100k.zip": archive.read_bytes()})) as (url, requests):
        monkeypatch.setitem(datasets.SPECS, "ml-100k", spec_for(archive, f"{url}/ml-100k.zip"))
        first, second = _run("fetch", "ml-100k"), _run("fetch", "ml-100k")
    assert first.exit_code == 0, first.output
    assert "ml-100k: 3 users, 4 items, 10 ratings ready in" in first.output and second.output == first.output
    assert len(requests) == 1


def test_unknown_names_are_one_line_errors(tmp_path: Path) -> None:
    result = _run("info", "ml-100", "--data-dir", str(tmp_path))
    assert result.exit_code == 1 and "Did you mean 'ml-100k'?" in result.output
    other = _run("info", "ml-100k", "--domain", "movis")
    assert other.exit_code == 1 and "Unknown domain 'movis'. Did you mean 'movies'?" in other.output


def test_enrich_writes_a_file_that_loading_picks_up(tmp_path: Path, isolated_user_dir: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    missing_key = _run("enrich", "ml-100k", "--data-dir", str(folder))
    assert missing_key.exit_code == 1 and "lusifer keys set tmdb" in missing_key.output
    with serve(FakeTMDB()) as (url, _):
        result = _run("enrich", "ml-100k", "--data-dir", str(folder), "--api-url", f"{url}/3", TMDB_API_KEY=TMDB_KEY)
    assert result.exit_code == 0, result.output
    assert "matched 3 of 4 movies (2 with an overview); unmatched 1" in result.output
    assert TMDB_KEY not in result.output
    written = isolated_user_dir / "data" / "enrichment" / "ml-100k-tmdb.csv"
    assert pd.read_csv(written)["movie_id"].tolist() == [1, 2, 3]
    info = _run("info", "ml-100k", "--data-dir", str(folder))
    assert "items     4 (3 with rich text)" in info.output and f"enriched  {written}" in info.output
