"""The MovieLens datasets the ``movies`` domain knows: where to get them and how to check them.

Checksums: ``md5`` is the value GroupLens publishes beside each zip (``<url>.md5``); ``sha256`` and
``size`` are the values TensorFlow Datasets pins for the same official URLs
(``tensorflow_datasets/url_checksums/movielens.txt``). ``ml-latest-small`` is a rolling release; its
pin is the 2018-09-26 snapshot (610 users, 9,742 movies, 100,836 ratings) that GroupLens still serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lusifer.api.errors import NotFoundError
from lusifer.kernel.registry import unknown_name_message

BASE_URL = "https://files.grouplens.org/datasets/movielens"

#: File layout of a dataset: ``100k`` (tab/pipe files), ``1m`` (``::`` files) or ``latest`` (CSV).
Layout = Literal["100k", "1m", "latest"]


@dataclass(frozen=True)
class DatasetSpec:
    """One downloadable dataset: its zip, the folder inside it, and the checksums of the zip."""

    name: str
    url: str
    folder: str
    layout: Layout
    sha256: str
    size: int
    md5: str | None = None
    description: str = ""


SPECS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "ml-100k",
            f"{BASE_URL}/ml-100k.zip",
            "ml-100k",
            "100k",
            sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            size=4_924_029,
            md5="0e33842e24a9c977be4e0107933c0723",
            description="100,000 ratings, 943 users, 1,682 movies, demographics, official folds",
        ),
        DatasetSpec(
            "ml-1m",
            f"{BASE_URL}/ml-1m.zip",
            "ml-1m",
            "1m",
            sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            size=5_917_549,
            md5="c4d9eecfca2ab87c1945afe126590906",
            description="1,000,209 ratings, 6,040 users, 3,706 rated movies, demographics",
        ),
        DatasetSpec(
            "ml-latest-small",
            f"{BASE_URL}/ml-latest-small.zip",
            "ml-latest-small",
            "latest",
            sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            size=978_202,
            description="100,836 half-star ratings, 610 users, 9,742 movies, IMDb/TMDB links",
        ),
        DatasetSpec(
            "ml-25m",
            f"{BASE_URL}/ml-25m.zip",
            "ml-25m",
            "latest",
            sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
            size=261_978_986,
            md5="6b51fb2759a8657d3bfcbfc42b592ada",
            description="25,000,095 half-star ratings, 162,541 users, 62,423 movies, IMDb/TMDB links",
        ),
    )
}


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name``; unknown names raise :class:`NotFoundError` with a hint."""
    spec = SPECS.get(name)
    if spec is None:
        raise NotFoundError(unknown_name_message("dataset", name, list(SPECS)))
    return spec
