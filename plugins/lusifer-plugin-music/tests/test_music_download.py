"""Downloads from a loopback server: URL fallback, the gzip integrity check, the cache, loading from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lusifer import DataConfig, DataError
from lusifer.testing import LoopbackServer, serve_files
from lusifer_plugin_music import datasets
from lusifer_plugin_music.datasets import MusicSpec, RemoteFile
from lusifer_plugin_music.domain import MusicDomain
from lusifer_plugin_music.download import MARKER_SUFFIX, fetch


@pytest.fixture
def server(music_dir: Path) -> Iterator[LoopbackServer]:
    reviews = (music_dir / "Digital_Music.jsonl.gz").read_bytes()
    files = {
        "/reviews.jsonl.gz": reviews,
        "/meta.jsonl.gz": (music_dir / "meta_Digital_Music.jsonl.gz").read_bytes(),
        "/cut.jsonl.gz": reviews[:-40],
    }
    with serve_files(files) as server:
        yield server


def test_a_failing_url_falls_back_and_the_cache_is_reused(server: LoopbackServer, tmp_path: Path) -> None:
    remote = RemoteFile("Digital_Music.jsonl.gz", (server.url("/gone.jsonl.gz"), server.url("/reviews.jsonl.gz")))
    path = fetch(remote, tmp_path, show_progress=False)
    assert path == tmp_path / "amazon-2023" / "Digital_Music.jsonl.gz"
    assert server.url("/reviews.jsonl.gz") in path.with_name(path.name + MARKER_SUFFIX).read_text()
    assert fetch(remote, tmp_path, show_progress=False) == path
    assert server.requests == ["/gone.jsonl.gz", "/reviews.jsonl.gz"]


def test_a_truncated_download_is_deleted_and_reported(server: LoopbackServer, tmp_path: Path) -> None:
    remote = RemoteFile("Digital_Music.jsonl.gz", (server.url("/cut.jsonl.gz"),))
    with pytest.raises(DataError) as caught:
        fetch(remote, tmp_path, show_progress=False)
    assert "not a complete gzip file" in str(caught.value) and "--data-dir" in str(caught.value)
    assert list((tmp_path / "amazon-2023").iterdir()) == []


def test_loading_without_data_dir_downloads_into_the_data_cache(
    server: LoopbackServer, isolated_user_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = MusicSpec(
        "digital-music",
        RemoteFile("Digital_Music.jsonl.gz", (server.url("/reviews.jsonl.gz"),)),
        RemoteFile("meta_Digital_Music.jsonl.gz", (server.url("/meta.jsonl.gz"),)),
    )
    monkeypatch.setitem(datasets.SPECS, "digital-music", spec)
    data = MusicDomain().load("digital-music", DataConfig())
    reviews, meta = data.metadata["sources"]
    assert Path(reviews["path"]).is_relative_to(isolated_user_dir / "data" / "amazon-2023")
    assert len(meta["sha256"]) == 64 and len(data.ratings) == 49
