"""Fetching dataset files: stream a URL into a file, and replace a cache folder without a half-done state.

The shared mechanics of the dataset downloads (the movies domain, the news and music plugins). What a
download must pass (published checksums, zip CRCs, a complete gzip stream), which URLs to try, what the
cache marker records and what an error tells the user to do stay with each caller.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lusifer.api.errors import DataError

if TYPE_CHECKING:
    from rich.progress import Progress

#: The file (or, beside a single cached file, the suffix) that marks a checked download in the data cache.
MARKER = ".lusifer-verified"
CHUNK = 1 << 20


class Digest(NamedTuple):
    """The size in bytes and the SHA-256 and MD5 (hex) of a file."""

    size: int
    sha256: str
    md5: str


class DownloadError(DataError):
    """A request failed; the message is ``"<url>: <reason>"``, and callers may reword it from the two."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def progress_bar(*columns: Any, enabled: bool) -> Progress:
    """A transient rich progress bar on stderr, shown only when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    description = "[progress.description]{task.description}"
    return Progress(
        description, *columns, console=console, disable=not (enabled and console.is_terminal), transient=True
    )


def download(
    url: str, destination: Path, *, label: str, show_progress: bool = True, expected_size: int | None = None
) -> Digest:
    """Stream ``url`` into ``destination`` (a bar "Downloading <label>" on a terminal); the file's digest.

    ``expected_size`` sizes the bar when the server sends no Content-Length. A status other than 200 or
    a transport error raises :class:`DownloadError`; on any failure ``destination`` is removed.
    """
    try:
        return _stream(url, destination, label, show_progress, expected_size)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise


def digest_of(path: Path) -> Digest:
    """The digest of a file already on disk."""
    hasher = _Hasher()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.digest()


@contextmanager
def unpacking_into(target: Path, *, inner: str | None = None) -> Iterator[Path]:
    """A new, empty scratch folder beside ``target`` to unpack into.

    When the block ends without an error, the scratch folder (or its subfolder ``inner``) replaces
    ``target`` by a rename. The scratch folder is removed in any case, so an error or an interruption
    leaves nothing half-unpacked behind.
    """
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield scratch
        if target.exists():
            shutil.rmtree(target)
        (scratch / inner if inner else scratch).rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _Hasher:
    """The running size, SHA-256 and MD5 of the chunks fed to it."""

    def __init__(self) -> None:
        self.size, self._sha256, self._md5 = 0, hashlib.sha256(), hashlib.md5()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._sha256.update(chunk)
        self._md5.update(chunk)

    def digest(self) -> Digest:
        return Digest(self.size, self._sha256.hexdigest(), self._md5.hexdigest())


def _stream(url: str, destination: Path, label: str, show_progress: bool, expected_size: int | None) -> Digest:
    import httpx
    from rich.progress import BarColumn, DownloadColumn, TimeRemainingColumn, TransferSpeedColumn

    hasher = _Hasher()
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    progress = progress_bar(*columns, enabled=show_progress)
    try:
        with progress, httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            if response.status_code != 200:
                raise DownloadError(url, f"HTTP {response.status_code}")
            total = int(response.headers.get("content-length") or 0) or expected_size
            task = progress.add_task(f"Downloading {label}", total=total)
            with open(destination, "wb") as handle:
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
                    hasher.update(chunk)
                    progress.update(task, advance=len(chunk))
    except httpx.HTTPError as error:
        raise DownloadError(url, f"{type(error).__name__}: {error}") from None
    return hasher.digest()
