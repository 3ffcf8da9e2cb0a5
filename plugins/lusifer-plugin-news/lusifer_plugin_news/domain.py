"""``NewsDomain``: Microsoft News (MIND) click histories and impressions, 1 = click, 0 = skip.

Importing this module is light (no pandas); tables are built in :mod:`lusifer_plugin_news.loading`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lusifer import CLICK, ConfigError, DataError, Dataset, Domain, NotFoundError, Split, unknown_name_message
from lusifer_plugin_news.datasets import SPECS, get_spec

if TYPE_CHECKING:
    from lusifer import DataConfig


class NewsDomain(Domain):
    """News articles a MIND user clicked or skipped; item text from title, category and abstract."""

    name = "news"
    description = "Microsoft News (MIND) click histories and impressions: 1 = click, 0 = skip"
    scale = CLICK
    datasets = tuple(SPECS)
    item_noun = "article"
    evaluators = ("auc", "accuracy", "log_loss", "ece")
    #: Gymnasium id ``lusifer/MIND-v0``.
    env_name = "MIND"

    def load(self, dataset: str, config: DataConfig) -> Dataset:
        """Load ``dataset`` from ``config.path`` (holding ``MINDsmall_train/`` and ``MINDsmall_dev/``)
        or from the download cache."""
        from lusifer_plugin_news.download import fetch
        from lusifer_plugin_news.loading import load_folders

        spec = get_spec(dataset)
        if config.enrich_file is not None:
            raise ConfigError("the news domain takes no --enrich-file: MIND items carry their own text")
        if config.path is None:
            return load_folders(spec.name, fetch(spec.train), fetch(spec.test))
        root = Path(config.path).expanduser()
        folders = [root / part.folder for part in (spec.train, spec.test)]
        missing = [folder.name for folder in folders if not folder.is_dir()]
        if missing:
            raise DataError(
                f"{root}: no {' or '.join(missing)} folder (--data-dir must hold the unpacked official zips "
                f"as {spec.train.folder}/ and {spec.test.folder}/)"
            )
        return load_folders(spec.name, *folders)

    def split(self, data: Dataset, fold: str | None, seed: int) -> Split:
        """Fold ``dev``: history clicks and train impressions for training, dev impressions for test."""
        from lusifer_plugin_news.loading import dev_split

        fold = fold or data.folds[0]
        if fold not in data.folds:
            raise NotFoundError(unknown_name_message("fold", fold, list(data.folds)))
        return dev_split(data)
