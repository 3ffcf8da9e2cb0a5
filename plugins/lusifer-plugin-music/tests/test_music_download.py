"""Downloads from a loopback server: URL fallback, the gzip integrity check, the cache, loading from it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lusifer.config import DataConfig
from lusifer.errors import DataError
from lusifer_plugin_music import datasets
from lusifer_plugin_music.datasets import MusicSpec, RemoteFile
from lusifer_plugin_music.domain import MusicDomain
from lusifer_plugin_music.download import MARKER_SUFFIX, fetch


class FileServer:
    """Serves ``files`` (URL path -> bytes) on 127.0.0.1 and counts the requests; anything else is 404."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server(music_dir: Path) -> Iterator[FileServer]:
    reviews = (music_dir / "Digital_Music.jsonl.gz").read_bytes()
    files = FileServer(
        {
            "/reviews.jsonl.gz": reviews,
            "/meta.jsonl.gz": (music_dir / "meta_Digital_Music.jsonl.gz").read_bytes(),
            "/cut.jsonl.gz": reviews[:-40],
        }
    )
    yield files
    files.httpd.shutdown()
    files.httpd.server_close()


def test_a_failing_url_falls_back_and_the_cache_is_reused(server: FileServer, tmp_path: Path) -> None:
    remote = RemoteFile("Digital_Music.jsonl.gz", (server.url("/gone.jsonl.gz"), server.url("/reviews.jsonl.gz")))
    path = fetch(remote, tmp_path, show_progress=False)
    assert path == tmp_path / "amazon-2023" / "Digital_Music.jsonl.gz"
    assert server.url("/reviews.jsonl.gz") in path.with_name(path.name + MARKER_SUFFIX).read_text()
    assert fetch(remote, tmp_path, show_progress=False) == path
    assert server.requests == ["/gone.jsonl.gz", "/reviews.jsonl.gz"]


def test_a_truncated_download_is_deleted_and_reported(server: FileServer, tmp_path: Path) -> None:
    remote = RemoteFile("Digital_Music.jsonl.gz", (server.url("/cut.jsonl.gz"),))
    with pytest.raises(DataError) as caught:
        fetch(remote, tmp_path, show_progress=False)
    assert "not a complete gzip file" in str(caught.value) and "--data-dir" in str(caught.value)
    assert list((tmp_path / "amazon-2023").iterdir()) == []


def test_loading_without_data_dir_downloads_into_the_data_cache(
    server: FileServer, isolated_user_dir: Path, monkeypatch: pytest.MonkeyPatch
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
