"""The Amazon Reviews 2023 datasets the ``music`` domain knows, and where their files are served.

``digital-music``: the raw ``Digital_Music`` category (about 101K users, 70.5K items, 130.4K
reviews): ``Digital_Music.jsonl.gz`` (reviews) and ``meta_Digital_Music.jsonl.gz`` (item metadata),
from the McAuley Lab's site (https://amazon-reviews-2023.github.io/), with the lab's older data host
as a fallback.

Checksums: the lab publishes none for these files, so nothing is pinned. Every download is checked
for integrity instead — the gzip trailer's CRC-32 and length, by reading the file through — and the
SHA-256 and size of the bytes used are recorded in the cache and in ``Dataset.metadata["sources"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lusifer import NotFoundError, unknown_name_message

HOSTS = (
    "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023/raw",
    "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_2023/raw",
)


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name and the URLs serving it, in order."""

    name: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class MusicSpec:
    """A dataset: its reviews file and its item metadata file."""

    name: str
    reviews: RemoteFile
    meta: RemoteFile
    description: str = ""


def _category(category: str) -> tuple[RemoteFile, RemoteFile]:
    reviews, meta = f"{category}.jsonl.gz", f"meta_{category}.jsonl.gz"
    return (
        RemoteFile(reviews, tuple(f"{host}/review_categories/{reviews}" for host in HOSTS)),
        RemoteFile(meta, tuple(f"{host}/meta_categories/{meta}" for host in HOSTS)),
    )


SPECS: dict[str, MusicSpec] = {
    "digital-music": MusicSpec(
        "digital-music",
        *_category("Digital_Music"),
        description="Amazon Reviews 2023, Digital Music: 130.4K reviews by 101K users of 70.5K items",
    )
}


def get_spec(name: str) -> MusicSpec:
    """The spec of dataset ``name``; unknown names raise :class:`NotFoundError` with a hint."""
    spec = SPECS.get(name)
    if spec is None:
        raise NotFoundError(unknown_name_message("dataset", name, list(SPECS)))
    return spec
