"""The MIND datasets the ``news`` domain knows, and where their zips are served.

MIND-small ships as two zips: ``MINDsmall_train`` (impressions of 2019-11-09 .. 11-14) and
``MINDsmall_dev`` (2019-11-15). Each holds ``behaviors.tsv`` and ``news.tsv`` (plus entity and
relation embeddings, which Lusifer does not use). The official blob comes first; the Microsoft
Recommenders mirrors are tried when it fails (the blob has answered ``409 PublicAccessNotPermitted``
at times).

Checksums: Microsoft publishes none for these zips, and copies served by different hosts are not
byte-identical, so no digest is pinned. Every download is checked for integrity instead (each zip
member's CRC-32, and the presence of ``behaviors.tsv`` and ``news.tsv``); the SHA-256 and size of
the bytes actually used are recorded in the cache and in ``Dataset.metadata["sources"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lusifer import NotFoundError, unknown_name_message

OFFICIAL_URL = "https://mind201910small.blob.core.windows.net/release"
MIRROR_URLS = (
    "https://recodatasets.z20.web.core.windows.net/newsrec",
    "https://huggingface.co/datasets/Recommenders/MIND/resolve/main",
)


@dataclass(frozen=True)
class MindPart:
    """One zip of a dataset: its folder name (``MINDsmall_train``) and the URLs serving it, in order."""

    folder: str
    urls: tuple[str, ...]


def _part(folder: str) -> MindPart:
    return MindPart(folder, tuple(f"{base}/{folder}.zip" for base in (OFFICIAL_URL, *MIRROR_URLS)))


@dataclass(frozen=True)
class MindSpec:
    """A dataset: the part whose impressions train the simulator and the part it is tested on."""

    name: str
    train: MindPart
    test: MindPart
    description: str = ""


SPECS: dict[str, MindSpec] = {
    "mind-small": MindSpec(
        "mind-small",
        _part("MINDsmall_train"),
        _part("MINDsmall_dev"),
        "MIND-small: 50,000 users; train impressions 2019-11-09..14, dev impressions 2019-11-15",
    )
}


def get_spec(name: str) -> MindSpec:
    """The spec of dataset ``name``; unknown names raise :class:`NotFoundError` with a hint."""
    spec = SPECS.get(name)
    if spec is None:
        raise NotFoundError(unknown_name_message("dataset", name, list(SPECS)))
    return spec
