"""The domain contract: a domain loads datasets into :class:`Dataset` tables and splits them.

Every domain produces the same tables, so the simulator, the evaluation and the Gymnasium
environment work for any domain without special cases:

- ``users``: index ``user_id``; column ``user_info`` (text describing the user, may be empty).
- ``items``: index ``item_id``; columns ``title``, ``item_info`` (the text an LLM sees) and
  ``has_text`` (True when rich text such as an overview or abstract is present).
- ``ratings``: columns ``user_id``, ``item_id``, ``rating`` (int on the domain's scale) and
  ``timestamp`` (int seconds), in the dataset's file order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from lusifer.api.prompt_context import FeedbackScale, ItemFeatures

if TYPE_CHECKING:
    import pandas as pd

    from lusifer.api.settings import DataConfig

RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")

__all__ = ["CLICK", "RATING_COLUMNS", "STAR_RATING", "Dataset", "Domain", "FeedbackScale", "Split"]


STAR_RATING = FeedbackScale("rating", 1, 5, "an integer rating from 1 (strongly disliked) to 5 (loved it)")
CLICK = FeedbackScale("binary", 0, 1, "1 if the user would click the item, 0 if they would skip it")


@dataclass
class Dataset:
    """The loaded tables of one dataset (see the module docstring for their columns)."""

    name: str
    users: pd.DataFrame
    items: pd.DataFrame
    ratings: pd.DataFrame
    folds: tuple[str, ...] = ()
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass
class Split:
    """Training and test ratings of one fold (same columns as ``Dataset.ratings``)."""

    fold: str
    train: pd.DataFrame
    test: pd.DataFrame


class Domain(ABC):
    """A kind of recommendation (movies, news, ...): its datasets, scale, templates and checks."""

    #: Unique name, used with ``--domain``.
    name: ClassVar[str]
    #: One line shown by ``lusifer domains``.
    description: ClassVar[str] = ""
    #: What a simulated user answers.
    scale: ClassVar[FeedbackScale] = STAR_RATING
    #: Dataset names this domain can load; the first is the default.
    datasets: ClassVar[tuple[str, ...]] = ()
    #: Folder of this domain's templates (``<folder>/<task>.j2``); defaults to ``name``.
    template_folder: ClassVar[str | None] = None
    #: The kernel's validators, by name: checked answers for profiles and feedback on the scale.
    #: Override only to replace them (explicitly, e.g. ``default_validators = ("profile",)``).
    default_validators: ClassVar[tuple[str, ...]] = ("profile", "feedback")
    #: This domain's extra validators, by name: they run after ``default_validators``.
    validators: ClassVar[tuple[str, ...]] = ()
    #: Headline metrics by registered name: printed by ``lusifer evaluate`` (which computes every
    #: registered metric of the domain's feedback kind for the report).
    evaluators: ClassVar[tuple[str, ...]] = ("rmse", "mae", "pearson")
    #: Words a profile needs at least; runs use the larger of this and ``validation.profile_min_words``.
    profile_min_words: ClassVar[int] = 0
    #: Word for one item in prompts and messages ("movie", "article").
    item_noun: ClassVar[str] = "item"
    #: Gymnasium id ``lusifer/<env_name>-v0`` (default: the titled name, ``books`` -> ``Books``);
    #: two domains with one ``env_name`` leave the second without an id, with a warning.
    env_name: ClassVar[str | None] = None
    #: Type of the dataset's user and item ids (``"int"`` or ``"str"``): exports keep it, so they join
    #: with the dataset's own files.
    id_type: ClassVar[Literal["int", "str"]] = "str"

    @property
    def templates(self) -> str:
        return self.template_folder or self.name

    def item_features(self, items: pd.DataFrame) -> dict[str, ItemFeatures]:
        """Structured facts per item id (genres, the text without them) for backends that model content,
        such as the offline one; read from the ``items`` table. Default: none."""
        return {}

    def validator_names(self) -> tuple[str, ...]:
        """Validators applied to every answer (each checks the tasks it names): defaults, then extras."""
        return tuple(dict.fromkeys((*self.default_validators, *self.validators)))

    @abstractmethod
    def load(self, dataset: str, config: DataConfig) -> Dataset:
        """Load ``dataset`` (downloading it if needed, unless ``config.path`` points at a copy)."""

    @abstractmethod
    def split(self, data: Dataset, fold: str | None, seed: int) -> Split:
        """Split the ratings into train and test for ``fold`` (the dataset's default when None)."""
