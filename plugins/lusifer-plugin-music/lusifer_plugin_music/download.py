"""Download a gzipped JSON-lines file into the data cache, check its integrity, and reuse it later.

Cache layout (``lusifer.paths.data_cache_dir() / "amazon-2023"``): the file as served, and beside it
``<file>.lusifer-verified`` (JSON: URL, SHA-256 and size). A file with its marker is reused without
any request. The URLs are tried in order; a download that fails or is not a complete gzip stream is
deleted and the next URL is tried.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from pathlib import Path

from lusifer.errors import DataError
from lusifer.paths import data_cache_dir
from lusifer_plugin_music.datasets import RemoteFile

MARKER_SUFFIX = ".lusifer-verified"
CHUNK = 1 << 20


def fetch(remote: RemoteFile, cache_dir: Path | None = None, *, show_progress: bool = True) -> Path:
    """The cached copy of ``remote``, downloading and checking it first when needed."""
    root = (cache_dir or data_cache_dir()) / "amazon-2023"
    target = root / remote.name
    marker = root / (remote.name + MARKER_SUFFIX)
    if target.is_file() and marker.is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f"{remote.name}.{os.getpid()}.part"
    problems = []
    for url in remote.urls:
        try:
            size, sha256 = _download(url, partial, show_progress)
            _check_gzip(partial, url)
            partial.replace(target)
            marker.write_text(json.dumps({"url": url, "sha256": sha256, "size": size}), encoding="utf-8")
            return target
        except DataError as error:
            problems.append(str(error))
        finally:
            partial.unlink(missing_ok=True)
    raise DataError(
        f"could not download {remote.name} ({'; '.join(problems)}); download it by hand and pass its folder "
        "with --data-dir"
    )


def source_of(path: Path) -> dict[str, object]:
    """What the cache marker of ``path`` records (URL, SHA-256, size), or just the path."""
    marker = path.with_name(path.name + MARKER_SUFFIX)
    if marker.is_file():
        return {"path": str(path), **json.loads(marker.read_text(encoding="utf-8"))}
    return {"path": str(path)}


def _download(url: str, partial: Path, show_progress: bool) -> tuple[int, str]:
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    console = Console(stderr=True)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        disable=not (show_progress and console.is_terminal),
        transient=True,
    )
    digest, size = hashlib.sha256(), 0
    try:
        with progress, httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            if response.status_code != 200:
                raise DataError(f"{url}: HTTP {response.status_code}")
            total = int(response.headers.get("content-length") or 0) or None
            task = progress.add_task(f"Downloading {url.rsplit('/', 1)[-1]}", total=total)
            with open(partial, "wb") as handle:
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    progress.update(task, advance=len(chunk))
    except httpx.HTTPError as error:
        raise DataError(f"{url}: {type(error).__name__}: {error}") from None
    return size, digest.hexdigest()


def _check_gzip(path: Path, url: str) -> None:
    """Read the whole stream: gzip checks every member's CRC-32 and length at its end."""
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{url}: not a complete gzip file ({error})") from None
