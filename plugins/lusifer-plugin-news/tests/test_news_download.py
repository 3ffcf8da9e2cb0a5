"""Downloads from a loopback server: URL fallback, integrity checks, the cache, loading from the cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lusifer import DataConfig, DataError
from lusifer.testing import LoopbackServer, serve_files
from lusifer_plugin_news import datasets
from lusifer_plugin_news.datasets import MindPart, MindSpec
from lusifer_plugin_news.domain import NewsDomain
from lusifer_plugin_news.download import MARKER, fetch
from news_fixtures import write_mind, write_zip


@pytest.fixture
def zips(tmp_path: Path) -> dict[str, bytes]:
    root = write_mind(tmp_path / "source")
    return {
        "/train.zip": write_zip(root / "MINDsmall_train", tmp_path / "train.zip").read_bytes(),
        "/dev.zip": write_zip(root / "MINDsmall_dev", tmp_path / "dev.zip", nested=True).read_bytes(),
    }


@pytest.fixture
def server(zips: dict[str, bytes]) -> Iterator[LoopbackServer]:
    with serve_files({**zips, "/broken.zip": zips["/train.zip"][:-200]}) as files:
        yield files


def test_a_failing_url_falls_back_to_the_next_and_the_cache_is_reused(server: LoopbackServer, tmp_path: Path) -> None:
    part = MindPart("MINDsmall_dev", (server.url("/missing.zip"), server.url("/dev.zip")))
    folder = fetch(part, tmp_path, show_progress=False)
    assert folder == tmp_path / "mind" / "MINDsmall_dev"
    assert sorted(path.name for path in folder.iterdir()) == [MARKER, "behaviors.tsv", "news.tsv"]
    assert '"url": "' + server.url("/dev.zip") in (folder / MARKER).read_text()
    assert server.requests == ["/missing.zip", "/dev.zip"]
    assert fetch(part, tmp_path, show_progress=False) == folder and len(server.requests) == 2


def test_a_corrupt_download_is_deleted_and_the_error_says_what_to_do(server: LoopbackServer, tmp_path: Path) -> None:
    part = MindPart("MINDsmall_train", (server.url("/broken.zip"), server.url("/missing.zip")))
    with pytest.raises(DataError) as caught:
        fetch(part, tmp_path, show_progress=False)
    message = str(caught.value)
    assert "not a valid zip file" in message and "HTTP 404" in message and "--data-dir" in message
    assert sorted(path.name for path in (tmp_path / "mind").iterdir()) == []


def test_a_zip_without_the_mind_files_is_rejected(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "other.zip", "w") as bundle:
        bundle.writestr("readme.txt", "not MIND")
    with (
        serve_files({"/other.zip": (tmp_path / "other.zip").read_bytes()}) as files,
        pytest.raises(DataError, match="holds no behaviors.tsv and news.tsv"),
    ):
        fetch(MindPart("MINDsmall_dev", (files.url("/other.zip"),)), tmp_path, show_progress=False)


def test_loading_without_data_dir_downloads_into_the_data_cache(
    server: LoopbackServer, isolated_user_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = MindSpec(
        "mind-small",
        MindPart("MINDsmall_train", (server.url("/train.zip"),)),
        MindPart("MINDsmall_dev", (server.url("/dev.zip"),)),
    )
    monkeypatch.setitem(datasets.SPECS, "mind-small", spec)
    data = NewsDomain().load("mind-small", DataConfig())
    train_source, dev_source = data.metadata["sources"]
    assert Path(train_source["path"]).is_relative_to(isolated_user_dir / "data" / "mind")
    assert len(dev_source["sha256"]) == 64 and dev_source["size"] > 0
    assert len(data.ratings) == 310
