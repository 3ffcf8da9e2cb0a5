"""``MusicDomain``: Amazon Reviews 2023 Digital Music, rated 1-5 stars.

Importing this module is light (no pandas); tables are built in :mod:`lusifer_plugin_music.loading`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lusifer import STAR_RATING, ConfigError, DataError, Dataset, Domain, NotFoundError, Split, unknown_name_message
from lusifer_plugin_music.datasets import SPECS, get_spec

if TYPE_CHECKING:
    import pandas as pd

    from lusifer import DataConfig, ItemFeatures


class MusicDomain(Domain):
    """Music releases reviewed on Amazon; item text from title, artist, genres, description."""

    name = "music"
    description = "Amazon Reviews 2023 Digital Music: 1-5 star reviews with album and track text"
    scale = STAR_RATING
    datasets = tuple(SPECS)
    item_noun = "music release"

    def load(self, dataset: str, config: DataConfig) -> Dataset:
        """Load ``dataset`` from ``config.path`` (a folder holding the two files, gzipped or not) or from
        the download cache."""
        from lusifer_plugin_music.download import fetch
        from lusifer_plugin_music.loading import load_files

        spec = get_spec(dataset)
        if config.enrich_file is not None:
            raise ConfigError("the music domain takes no --enrich-file: Amazon metadata carries the item text")
        if config.path is None:
            return load_files(spec.name, fetch(spec.reviews), fetch(spec.meta))
        folder = Path(config.path).expanduser()
        return load_files(spec.name, *(_find(folder, remote.name) for remote in (spec.reviews, spec.meta)))

    def item_features(self, items: pd.DataFrame) -> dict[str, ItemFeatures]:
        """Each release's Amazon categories as genres, and its text without them (for the offline backend)."""
        from lusifer_plugin_music.loading import item_features

        return item_features(items)

    def split(self, data: Dataset, fold: str | None, seed: int) -> Split:
        """Fold ``last-out`` (each user's latest review) or ``80-20`` (seeded, per user)."""
        from lusifer_plugin_music.loading import split

        fold = fold or data.folds[0]
        if fold not in data.folds:
            raise NotFoundError(unknown_name_message("fold", fold, list(data.folds)))
        return split(data.ratings, fold, seed)


def _find(folder: Path, name: str) -> Path:
    """``folder/name`` (``X.jsonl.gz``), or its uncompressed twin ``X.jsonl``."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: no {name} (or {name.removesuffix('.gz')}); --data-dir must hold the official files")
