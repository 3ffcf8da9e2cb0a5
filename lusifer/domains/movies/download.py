"""Download a dataset zip into the data cache, verify its checksums, unpack it, and reuse it later.

Layout of the cache (``lusifer.paths.data_cache_dir()``): ``<name>.zip`` while a download is being
unpacked, and the unpacked ``<folder>/`` holding a ``.lusifer-verified`` marker with the zip's SHA-256.
A folder with the marker is reused without any request; a valid zip left behind by an interrupted
unpack is unpacked without downloading again. A checksum mismatch deletes the download and leaves no
folder behind.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from lusifer.api.errors import DataError
from lusifer.domains.movies.datasets import DatasetSpec
from lusifer.download import MARKER, Digest, DownloadError, digest_of, download, unpacking_into
from lusifer.paths import data_cache_dir


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
    if not (archive.is_file() and _checksum_problem(spec, digest_of(archive)) is None):
        _download(spec, archive, show_progress)
    try:
        _unpack(spec, archive, target)
    finally:
        archive.unlink(missing_ok=True)
    return target


def _checksum_problem(spec: DatasetSpec, digest: Digest) -> str | None:
    if digest.sha256 != spec.sha256:
        return f"SHA-256 {digest.sha256} (expected {spec.sha256}, {digest.size:,} bytes vs {spec.size:,})"
    if spec.md5 is not None and digest.md5 != spec.md5:
        return f"MD5 {digest.md5} (expected {spec.md5})"
    return None


def _download(spec: DatasetSpec, archive: Path, show_progress: bool) -> None:
    """Download ``spec`` beside ``archive`` and move it to ``archive`` once its checksums match."""
    partial = archive.with_name(f"{archive.name}.{os.getpid()}.part")
    try:
        digest = download(spec.url, partial, label=spec.name, show_progress=show_progress, expected_size=spec.size)
        problem = _checksum_problem(spec, digest)
        if problem is not None:
            raise DataError(
                f"checksum mismatch for {spec.url}: got {problem}; the download was deleted, "
                "try again or pass an unpacked official copy with --data-dir"
            )
        partial.replace(archive)
    except DownloadError as error:
        raise DataError(f"downloading {spec.url} failed: {error.reason}; {offline_advice(spec, archive)}") from None
    finally:
        partial.unlink(missing_ok=True)


def offline_advice(spec: DatasetSpec, archive: Path) -> str:
    """How to run without the download: an unpacked copy, another cache folder, or the zip in place."""
    return (
        f"without network, pass an unpacked copy with --data-dir DIR, point LUSIFER_DATA_DIR at a folder "
        f"holding '{spec.folder}/', or put the official zip at {archive}"
    )


def _unpack(spec: DatasetSpec, archive: Path, target: Path) -> None:
    """Extract into a scratch folder beside ``target``, then move the dataset folder into place."""
    try:
        with unpacking_into(target, inner=spec.folder) as scratch, zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                destination = (scratch / member).resolve()
                if not destination.is_relative_to(scratch.resolve()):
                    raise DataError(f"{archive}: refusing to unpack '{member}' outside the cache folder")
            bundle.extractall(scratch)
            unpacked = scratch / spec.folder
            if not unpacked.is_dir():
                raise DataError(f"{archive} has no '{spec.folder}/' folder; is it the official zip?")
            (unpacked / MARKER).write_text(spec.sha256 + "\n", encoding="utf-8")
    except zipfile.BadZipFile as error:
        raise DataError(f"{archive} is not a valid zip file ({error}); it was deleted, try again") from None
