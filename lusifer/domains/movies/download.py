"""Download a dataset zip into the data cache, verify its checksums, unpack it, and reuse it later.

Layout of the cache (``lusifer.paths.data_cache_dir()``): ``<name>.zip`` while a download is being
unpacked, and the unpacked ``<folder>/`` holding a ``.lusifer-verified`` marker with the zip's SHA-256.
A folder with the marker is reused without any request; a valid zip left behind by an interrupted
unpack is unpacked without downloading again. A checksum mismatch deletes the download and leaves no
folder behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lusifer.domains.movies.datasets import DatasetSpec
from lusifer.errors import DataError
from lusifer.paths import data_cache_dir

if TYPE_CHECKING:
    from rich.progress import Progress

MARKER = ".lusifer-verified"
CHUNK = 1 << 20


def is_fetched(spec: DatasetSpec, cache_dir: Path | None = None) -> bool:
    """True when ``spec`` is unpacked and verified in the cache."""
    marker = (cache_dir or data_cache_dir()) / spec.folder / MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == spec.sha256


def fetch(spec: DatasetSpec, cache_dir: Path | None = None, *, show_progress: bool = True) -> Path:
    """The unpacked folder of ``spec``, downloading, verifying and unpacking it when needed."""
    root = cache_dir or data_cache_dir()
    target = root / spec.folder
    if is_fetched(spec, root):
        return target
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"{spec.name}.zip"
    if not (archive.is_file() and _checksum_problem(spec, *_digests_of(archive)) is None):
        _download(spec, archive, show_progress)
    try:
        _unpack(spec, archive, target)
    finally:
        archive.unlink(missing_ok=True)
    return target


def progress_bar(*columns: Any, enabled: bool) -> Progress:
    """A transient rich progress bar on stderr, shown only when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    description = "[progress.description]{task.description}"
    return Progress(
        description, *columns, console=console, disable=not (enabled and console.is_terminal), transient=True
    )


def _digests_of(path: Path) -> tuple[int, str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            sha256.update(chunk)
            md5.update(chunk)
    return path.stat().st_size, sha256.hexdigest(), md5.hexdigest()


def _checksum_problem(spec: DatasetSpec, size: int, sha256: str, md5: str) -> str | None:
    if sha256 != spec.sha256:
        return f"SHA-256 {sha256} (expected {spec.sha256}, {size:,} bytes vs {spec.size:,})"
    if spec.md5 is not None and md5 != spec.md5:
        return f"MD5 {md5} (expected {spec.md5})"
    return None


def _download(spec: DatasetSpec, archive: Path, show_progress: bool) -> None:
    import httpx
    from rich.progress import BarColumn, DownloadColumn, TimeRemainingColumn, TransferSpeedColumn

    partial = archive.with_name(f"{archive.name}.{os.getpid()}.part")
    sha256, md5, size = hashlib.sha256(), hashlib.md5(), 0
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    progress = progress_bar(*columns, enabled=show_progress)
    try:
        with progress, httpx.stream("GET", spec.url, follow_redirects=True, timeout=60.0) as response:
            if response.status_code != 200:
                raise DataError(f"downloading {spec.url} failed: HTTP {response.status_code}")
            total = int(response.headers.get("content-length") or spec.size)
            task = progress.add_task(f"Downloading {spec.name}", total=total)
            with open(partial, "wb") as handle:
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
                    sha256.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
                    progress.update(task, advance=len(chunk))
        problem = _checksum_problem(spec, size, sha256.hexdigest(), md5.hexdigest())
        if problem is not None:
            raise DataError(
                f"checksum mismatch for {spec.url}: got {problem}; the download was deleted, "
                "try again or pass an unpacked official copy with --data-dir"
            )
        partial.replace(archive)
    except httpx.HTTPError as error:
        raise DataError(f"downloading {spec.url} failed: {type(error).__name__}: {error}") from None
    finally:
        partial.unlink(missing_ok=True)


def _unpack(spec: DatasetSpec, archive: Path, target: Path) -> None:
    """Extract into a scratch folder beside ``target``, then move the dataset folder into place."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{spec.folder}.", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                destination = (scratch / member).resolve()
                if not destination.is_relative_to(scratch.resolve()):
                    raise DataError(f"{archive}: refusing to unpack '{member}' outside the cache folder")
            bundle.extractall(scratch)
        unpacked = scratch / spec.folder
        if not unpacked.is_dir():
            raise DataError(f"{archive} has no '{spec.folder}/' folder; is it the official zip?")
        (unpacked / MARKER).write_text(spec.sha256 + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    except zipfile.BadZipFile as error:
        raise DataError(f"{archive} is not a valid zip file ({error}); it was deleted, try again") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
