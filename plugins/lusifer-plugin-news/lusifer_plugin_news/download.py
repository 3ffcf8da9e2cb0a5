"""Download a MIND zip into the data cache, check its integrity, unpack the two files Lusifer reads.

Cache layout (``lusifer.paths.data_cache_dir() / "mind"``): ``<folder>/behaviors.tsv``,
``<folder>/news.tsv`` and a ``.lusifer-verified`` marker (JSON: URL, SHA-256 and size of the zip).
A folder with the marker is reused without any request. The URLs of a part are tried in order; a
download that fails or does not pass the integrity check is deleted and the next URL is tried.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
import zlib
from pathlib import Path

from lusifer import MARKER, DataError, data_cache_dir, unpacking_into
from lusifer import download_file as download
from lusifer_plugin_news.datasets import MindPart

#: The files of a part Lusifer reads (the embeddings in the zip are not unpacked).
FILES = ("behaviors.tsv", "news.tsv")
CHUNK = 1 << 20


def cache_root(cache_dir: Path | None = None) -> Path:
    """Where MIND parts are unpacked."""
    return (cache_dir or data_cache_dir()) / "mind"


def fetch(part: MindPart, cache_dir: Path | None = None, *, show_progress: bool = True) -> Path:
    """The unpacked folder of ``part``, downloading and checking it first when needed."""
    root = cache_root(cache_dir)
    target = root / part.folder
    if (target / MARKER).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"{part.folder}.{os.getpid()}.zip"
    problems = []
    for url in part.urls:
        try:
            digest = download(url, archive, label=part.folder, show_progress=show_progress)
            _unpack(archive, target, {"url": url, "sha256": digest.sha256, "size": digest.size})
            return target
        except DataError as error:
            problems.append(str(error))
        finally:
            archive.unlink(missing_ok=True)
    raise DataError(
        f"could not download {part.folder} ({'; '.join(problems)}); download the zips by hand, unpack them "
        "into one folder as MINDsmall_train/ and MINDsmall_dev/ and pass that folder with --data-dir"
    )


def source_of(folder: Path) -> dict[str, object]:
    """What the cache marker of ``folder`` records (URL, SHA-256, size), or just the path."""
    marker = folder / MARKER
    if marker.is_file():
        return {"path": str(folder), **json.loads(marker.read_text(encoding="utf-8"))}
    return {"path": str(folder)}


def _unpack(archive: Path, target: Path, source: dict[str, object]) -> None:
    """Check every member's CRC, then copy ``FILES`` into ``target`` (via a scratch folder)."""
    url = source["url"]
    try:
        with unpacking_into(target) as scratch, zipfile.ZipFile(archive) as bundle:
            broken = bundle.testzip()
            if broken is not None:
                raise DataError(f"{url}: zip member {broken} fails its CRC check")
            names = set(bundle.namelist())
            prefix = next((p for p in ("", f"{target.name}/") if all(p + f in names for f in FILES)), None)
            if prefix is None:
                raise DataError(f"{url}: the zip holds no {' and '.join(FILES)}; is it a MIND zip?")
            for name in FILES:
                with bundle.open(prefix + name) as source_file, open(scratch / name, "wb") as copy:
                    shutil.copyfileobj(source_file, copy, CHUNK)
            (scratch / MARKER).write_text(json.dumps(source), encoding="utf-8")
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise DataError(f"{url}: not a valid zip file ({error})") from None
