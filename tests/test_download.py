"""The shared download kernel: streaming from a loopback HTTP server (no internet) and atomic unpacking."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from movies_fakes import files_responder, serve

from lusifer.api.errors import DataError
from lusifer.download import Digest, DownloadError, digest_of, download, unpacking_into

BODY = bytes(range(256)) * 5000  # 1.2 MiB: more than one chunk


@contextmanager
def truncating_server() -> Iterator[str]:
    """A server that promises more bytes than it sends, then hangs up."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:1000])
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cut.bin"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_download_streams_the_body_and_returns_its_digest(tmp_path: Path) -> None:
    destination = tmp_path / "file.bin"
    with serve(files_responder({"/file.bin": BODY})) as (url, requests):
        digest = download(f"{url}/file.bin", destination, label="file", show_progress=False)
    assert destination.read_bytes() == BODY and requests == ["/file.bin"]
    expected = Digest(len(BODY), hashlib.sha256(BODY).hexdigest(), hashlib.md5(BODY).hexdigest())
    assert digest == expected and digest_of(destination) == expected


def test_http_status_and_transport_errors_name_the_url_and_leave_no_file(tmp_path: Path) -> None:
    destination = tmp_path / "file.bin"
    with serve(files_responder({})) as (url, _), pytest.raises(DownloadError) as caught:
        download(f"{url}/missing.bin", destination, label="missing", show_progress=False)
    assert isinstance(caught.value, DataError) and str(caught.value) == f"{url}/missing.bin: HTTP 404"
    assert (caught.value.url, caught.value.reason) == (f"{url}/missing.bin", "HTTP 404")
    refused = f"http://127.0.0.1:{closed_port()}/x.bin"
    with pytest.raises(DownloadError, match=f"^{refused}: ConnectError"):
        download(refused, destination, label="x", show_progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_download_cut_short_removes_the_partial_file(tmp_path: Path) -> None:
    destination = tmp_path / "cut.bin"
    with truncating_server() as url, pytest.raises(DownloadError, match="RemoteProtocolError"):
        download(url, destination, label="cut", show_progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unpacking_into_replaces_the_target_only_when_the_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(DataError), unpacking_into(target) as scratch:
        (scratch / "half.txt").write_text("half")
        raise DataError("broken archive")
    assert [path.name for path in tmp_path.iterdir()] == ["dataset"]
    assert [path.name for path in target.iterdir()] == ["old.txt"]
    with unpacking_into(target) as scratch:
        assert scratch.parent == tmp_path and scratch.name.startswith(".dataset.")
        (scratch / "new.txt").write_text("new")
    assert [path.name for path in tmp_path.iterdir()] == ["dataset"]
    assert [path.name for path in target.iterdir()] == ["new.txt"]


def test_unpacking_into_can_move_a_folder_of_the_scratch(tmp_path: Path) -> None:
    target = tmp_path / "ml-100k"
    with unpacking_into(target, inner="ml-100k") as scratch:
        (scratch / "ml-100k").mkdir()
        (scratch / "ml-100k" / "u.data").write_text("1\t1\t5\t0\n")
        (scratch / "__MACOSX").mkdir()
    assert [path.name for path in tmp_path.iterdir()] == ["ml-100k"]
    assert (target / "u.data").is_file()


def test_importing_the_module_loads_neither_httpx_nor_rich() -> None:
    code = "import sys, lusifer.download; print([m for m in ('httpx', 'rich') if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
