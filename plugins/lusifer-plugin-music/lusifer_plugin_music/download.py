"""Download a gzipped JSON-lines file into the data cache, check its integrity, and reuse it later.

Cache layout (``lusifer.paths.data_cache_dir() / "amazon-2023"``): the file as served, and beside it
``<file>.lusifer-verified`` (JSON: URL, SHA-256 and size). A file with its marker is reused without
any request. The URLs are tried in order; a download that fails or is not a complete gzip stream is
deleted and the next URL is tried.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from pathlib import Path

from lusifer import MARKER as MARKER_SUFFIX
from lusifer import DataError, data_cache_dir
from lusifer import download_file as download
from lusifer_plugin_music.datasets import RemoteFile

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
            digest = download(url, partial, label=url.rsplit("/", 1)[-1], show_progress=show_progress)
            _check_gzip(partial, url)
            partial.replace(target)
            marker.write_text(json.dumps({"url": url, "sha256": digest.sha256, "size": digest.size}), encoding="utf-8")
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


def _check_gzip(path: Path, url: str) -> None:
    """Read the whole stream: gzip checks every member's CRC-32 and length at its end."""
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{url}: not a complete gzip file ({error})") from None
