"""Downloading datasets: zips built here, served from a loopback HTTP server (no internet)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from movies_fakes import files_responder, serve, spec_for, write_100k, zip_folder

from lusifer.api.errors import DataError
from lusifer.api.settings import DataConfig
from lusifer.domains.movies import datasets
from lusifer.domains.movies.domain import MoviesDomain
from lusifer.domains.movies.download import MARKER, fetch, is_fetched


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return zip_folder(write_100k(tmp_path / "src"), tmp_path / "ml-100k.zip", "ml-100k")


def test_official_specs_are_pinned() -> None:
    assert list(datasets.SPECS) == ["ml-100k", "ml-1m", "ml-latest-small", "ml-25m"]
    for spec in datasets.SPECS.values():
        assert spec.url == f"https://files.grouplens.org/datasets/movielens/{spec.name}.zip"
        assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256) and spec.size > 0
        assert spec.md5 is None or re.fullmatch(r"[0-9a-f]{32}", spec.md5)
    assert datasets.get_spec("ml-100k").md5 == "0e33842e24a9c977be4e0107933c0723"


def test_fetch_downloads_verifies_unpacks_and_reuses(tmp_path: Path, archive: Path) -> None:
    cache = tmp_path / "cache"
    with serve(files_responder({"/ml-100k.zip": archive.read_bytes()})) as (url, requests):
        spec = spec_for(archive, f"{url}/ml-100k.zip")
        folder = fetch(spec, cache, show_progress=False)
        assert folder == cache / "ml-100k" and (folder / "u.data").is_file()
        assert (folder / MARKER).read_text().strip() == spec.sha256 and is_fetched(spec, cache)
        assert sorted(path.name for path in cache.iterdir()) == ["ml-100k"]  # zip and scratch removed
        assert fetch(spec, cache, show_progress=False) == folder
        assert requests == ["/ml-100k.zip"]  # the second fetch made no request


def test_valid_zip_left_in_cache_is_unpacked_without_download(tmp_path: Path, archive: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ml-100k.zip").write_bytes(archive.read_bytes())
    spec = spec_for(archive, "http://127.0.0.1:9/never-asked.zip")
    assert (fetch(spec, cache, show_progress=False) / "u.item").is_file()


def test_checksum_mismatch_leaves_nothing_behind(tmp_path: Path, archive: Path) -> None:
    cache = tmp_path / "cache"
    with serve(files_responder({"/ml-100k.zip": archive.read_bytes()})) as (url, _):
        spec = spec_for(archive, f"{url}/ml-100k.zip")
        bad = datasets.DatasetSpec(spec.name, spec.url, spec.folder, spec.layout, sha256="0" * 64, size=spec.size)
        with pytest.raises(DataError, match="checksum mismatch for http://127.0.0.1.*ml-100k.zip"):
            fetch(bad, cache, show_progress=False)
        bad_md5 = datasets.DatasetSpec(spec.name, spec.url, spec.folder, spec.layout, spec.sha256, spec.size, md5="0")
        with pytest.raises(DataError, match="MD5"):
            fetch(bad_md5, cache, show_progress=False)
    assert list(cache.iterdir()) == []


def test_http_errors_and_bad_archives(tmp_path: Path, archive: Path) -> None:
    cache = tmp_path / "cache"
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip")
    elsewhere = zip_folder(write_100k(tmp_path / "src2"), tmp_path / "other.zip", "somewhere-else")
    files = {"/junk.zip": junk.read_bytes(), "/other.zip": elsewhere.read_bytes()}
    with serve(files_responder(files)) as (url, _):
        with pytest.raises(DataError, match="HTTP 404"):
            fetch(spec_for(archive, f"{url}/missing.zip"), cache, show_progress=False)
        with pytest.raises(DataError, match="not a valid zip file"):
            fetch(spec_for(junk, f"{url}/junk.zip"), cache, show_progress=False)
        with pytest.raises(DataError, match="has no 'ml-100k/' folder"):
            fetch(spec_for(elsewhere, f"{url}/other.zip"), cache, show_progress=False)
    assert list(cache.iterdir()) == []
    with pytest.raises(DataError, match="downloading http://127.0.0.1:9/x.zip failed: ConnectError"):
        fetch(spec_for(archive, "http://127.0.0.1:9/x.zip"), cache, show_progress=False)


def test_domain_load_downloads_into_the_data_cache(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch, isolated_user_dir: Path
) -> None:
    with serve(files_responder({"/ml-100k.zip": archive.read_bytes()})) as (url, requests):
        monkeypatch.setitem(datasets.SPECS, "ml-100k", spec_for(archive, f"{url}/ml-100k.zip"))
        data = MoviesDomain().load("ml-100k", DataConfig())
        again = MoviesDomain().load("ml-100k", DataConfig())
    assert (len(data.users), len(data.items), len(data.ratings)) == (3, 4, 10)
    assert len(again.ratings) == 10 and len(requests) == 1
    assert data.metadata["path"] == str((isolated_user_dir / "data" / "ml-100k").resolve())
