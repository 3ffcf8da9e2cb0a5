"""``MoviesDomain``: MovieLens 100K / 1M / latest-small / 25M, with optional TMDB text.

Folds: ML-100K uses its official split files (``u1`` .. ``u5``, ``ua``, ``ub``; default ``u1``). The
other datasets have folds ``1`` .. ``5`` of a seeded per-user 5-fold split (see
:func:`lusifer.domains.movies.loading.kfold_split`): about 20% of every user's ratings are test data.

Enrichment: ``config.enrich_file`` when set, otherwise the file ``lusifer data enrich`` wrote to the
data cache (:func:`~lusifer.domains.movies.enrichment.default_enrichment_path`) when it exists. The
file used is recorded in ``Dataset.metadata["enrich_file"]``.

Importing this module is light (no pandas); the tables are built in :mod:`.loading`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lusifer.api.domain import STAR_RATING, Dataset, Domain, Split
from lusifer.api.errors import DataError, NotFoundError
from lusifer.domains.movies.datasets import SPECS, get_spec
from lusifer.kernel.registry import unknown_name_message

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.api.prompt_context import ItemFeatures
    from lusifer.api.settings import DataConfig


class MoviesDomain(Domain):
    """Movies rated 1-5 stars by MovieLens users; item text from titles, genres and TMDB."""

    name = "movies"
    description = "MovieLens ratings (100K, 1M, latest-small, 25M) with optional TMDB overviews"
    scale = STAR_RATING
    datasets = tuple(SPECS)
    item_noun = "movie"
    id_type = "int"

    def load(self, dataset: str, config: DataConfig) -> Dataset:
        """Load ``dataset`` from ``config.path`` or the download cache, plus optional enrichment."""
        from lusifer.domains.movies.download import fetch
        from lusifer.domains.movies.enrichment import default_enrichment_path
        from lusifer.domains.movies.loading import load_folder

        spec = get_spec(dataset)
        folder = Path(config.path).expanduser() if config.path else fetch(spec)
        if not folder.is_dir():
            raise DataError(f"{folder}: not a folder (--data-dir must be an unpacked official {spec.name} folder)")
        if config.enrich_file is not None:
            enrich: Path | None = Path(config.enrich_file).expanduser()
        else:
            enrich = default_enrichment_path(spec.name)
            enrich = enrich if enrich.is_file() else None
        return load_folder(spec, folder, enrich)

    def item_features(self, items: pd.DataFrame) -> dict[str, ItemFeatures]:
        """Each movie's genres (MovieLens's, else TMDB's) and its text without the ``Genres:`` sentence."""
        from lusifer.domains.movies.text import item_features

        return item_features(items)

    def split(self, data: Dataset, fold: str | None, seed: int) -> Split:
        """Train/test ratings of ``fold`` (official files for ML-100K, seeded 5-fold otherwise)."""
        from lusifer.domains.movies.loading import kfold_split, read_official_split

        fold = fold or data.folds[0]
        if fold not in data.folds:
            raise NotFoundError(unknown_name_message("fold", fold, list(data.folds)))
        if data.metadata.get("layout") == "100k":
            return read_official_split(data, fold)
        return kfold_split(data.ratings, fold, seed)
