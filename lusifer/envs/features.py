"""Per-candidate features: what an agent needs to score candidates, computed from the user's own history.

Without them an observation says who the user is but nothing about the candidates, so a policy has to
learn every candidate's worth from its index alone. ``candidates`` (an observation key) holds one row
per candidate, :data:`FEATURE_NAMES` as columns:

- ``item_level``: the item's community mean minus the training slice's mean, shrunk toward 0 with a
  pseudo-count of 10 ratings, in units of the scale's span;
- ``popularity``: ``log1p(count) / log1p(max count)`` of the training slice;
- ``genre_affinity``: the mean, over the item's genres the user has rated, of the user's shrunk deviation
  from their own mean for that genre (span units);
- ``keyword_affinity``: the same for the item's keywords (title and text words), summed and divided by
  the square root of the item's keyword count;
- ``eligible``: 1 when the user has not consumed the item (as the ``eligible`` key and the masks).

Genres and keywords are read from the item text as the offline backend reads them (``Genres: A, B.``;
the other words minus stop words). The affinities follow the history including this episode's consumed
items, updated in O(item tokens) per new interaction; a row costs nothing extra at observation time
(one sparse product over the candidates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from lusifer.api.prompt_context import ItemView
from lusifer.engine.backends.offline import TOKEN_SHRINKAGE, read_item
from lusifer.engine.requests import CatalogueItem, Interaction

#: The columns of the ``candidates`` observation key.
FEATURE_NAMES = ("item_level", "popularity", "genre_affinity", "keyword_affinity", "eligible")
#: Pseudo-count of community ratings that shrinks an item's mean toward the slice's mean.
ITEM_SHRINKAGE = 10.0


@dataclass
class Taste:
    """Running tallies of one user's ratings per genre and keyword (indices into the vocabularies)."""

    count: int
    total: float
    genre_count: np.ndarray
    genre_total: np.ndarray
    keyword_count: np.ndarray
    keyword_total: np.ndarray


class CandidateFeatures:
    """The feature rows of the candidates for a user, from the catalogue's texts and statistics."""

    def __init__(
        self,
        item_ids: list[str],
        candidate_index: np.ndarray,
        texts: Mapping[str, CatalogueItem],
        community: Mapping[str, Mapping[str, float]],
        span: float,
    ) -> None:
        self.span = span if span > 0 else 1.0
        parsed = [
            read_item(
                ItemView(
                    item_id=item,
                    title=texts[item].title,
                    item_info=texts[item].item_info,
                    features=texts[item].features,
                )
            )
            for item in item_ids
        ]
        genres = {name: index for index, name in enumerate(sorted({g for item in parsed for g in item.genres}))}
        words = {word: index for index, word in enumerate(sorted({w for item in parsed for w in item.keywords}))}
        self._genres = [np.array([genres[g] for g in item.genres], np.int64) for item in parsed]
        self._keywords = [np.array(sorted(words[w] for w in item.keywords), np.int64) for item in parsed]
        self._position = {item: index for index, item in enumerate(item_ids)}
        self.n_genres, self.n_keywords = len(genres), len(words)
        self._genre_matrix = _incidence([self._genres[i] for i in candidate_index], self.n_genres).toarray()
        keyword_matrix = _incidence([self._keywords[i] for i in candidate_index], self.n_keywords)
        self._keyword_sizes = np.asarray(keyword_matrix.sum(axis=1)).ravel()
        scale = 1.0 / np.sqrt(np.maximum(self._keyword_sizes, 1.0))
        self._keyword_matrix = sparse.csr_matrix(sparse.diags(scale) @ keyword_matrix)
        counts = np.array([community.get(item_ids[i], {}).get("count", 0) for i in candidate_index], np.float64)
        means = np.array([community.get(item_ids[i], {}).get("mean", 0.0) for i in candidate_index], np.float64)
        overall = float(np.sum(means * counts) / counts.sum()) if counts.sum() else 0.0
        level = counts / (counts + ITEM_SHRINKAGE) * (means - overall) / self.span
        popularity = np.log1p(counts) / np.log1p(counts.max()) if counts.max() > 0 else counts
        self._static = np.column_stack([level, popularity]).astype(np.float32)

    @property
    def dim(self) -> int:
        return len(FEATURE_NAMES)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-column lowest and highest values: deviations are at most the span (1 in span units); a keyword
        affinity sums at most ``n`` of them over ``sqrt(n)``, so it stays within the root of the most keywords."""
        keywords = float(np.sqrt(max(self._keyword_sizes.max(initial=0.0), 1.0)))
        low = np.array([-1.0, 0.0, -1.0, -keywords, 0.0], np.float32)
        return low, np.array([1.0, 1.0, 1.0, keywords, 1.0], np.float32)

    def taste(self, history: Iterable[Interaction]) -> Taste:
        """The tallies of a history (a new episode's starting point)."""
        taste = Taste(
            0,
            0.0,
            np.zeros(self.n_genres),
            np.zeros(self.n_genres),
            np.zeros(self.n_keywords),
            np.zeros(self.n_keywords),
        )
        for entry in history:
            self.add(taste, entry.item_id, entry.rating)
        return taste

    def add(self, taste: Taste, item_id: str, rating: float) -> None:
        """Count one new rating of ``item_id`` in ``taste``."""
        position = self._position.get(item_id)
        taste.count += 1
        taste.total += rating
        if position is None:
            return
        genres, keywords = self._genres[position], self._keywords[position]
        taste.genre_count[genres] += 1
        taste.genre_total[genres] += rating
        taste.keyword_count[keywords] += 1
        taste.keyword_total[keywords] += rating

    def rows(self, taste: Taste, eligible: np.ndarray) -> np.ndarray:
        """``(n_candidates, len(FEATURE_NAMES))`` float32 features for the user of ``taste``."""
        level = taste.total / taste.count if taste.count else 0.0
        genre_weight = (taste.genre_total - taste.genre_count * level) / (taste.genre_count + TOKEN_SHRINKAGE)
        rated = (taste.genre_count > 0).astype(np.float64)
        genre_hits = self._genre_matrix @ rated
        genre = np.divide(
            self._genre_matrix @ (genre_weight * rated), genre_hits, out=np.zeros_like(genre_hits), where=genre_hits > 0
        )
        keyword_weight = (taste.keyword_total - taste.keyword_count * level) / (taste.keyword_count + TOKEN_SHRINKAGE)
        keyword = self._keyword_matrix @ keyword_weight
        out = np.empty((len(eligible), self.dim), np.float32)
        out[:, :2] = self._static
        out[:, 2] = genre / self.span
        out[:, 3] = keyword / self.span
        out[:, 4] = eligible
        return out


def top_scored(features: np.ndarray, weights: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` eligible candidates with the highest ``features @ weights`` (ties: lower index first),
    followed by ineligible ones when fewer than ``k`` are eligible."""
    scores = features.astype(np.float64) @ np.asarray(weights, np.float64).reshape(-1)
    order = np.lexsort((np.arange(len(scores)), -scores, eligible == 0))
    return order[:k]


def _incidence(rows: list[np.ndarray], width: int) -> sparse.csr_matrix:
    """A 0/1 sparse matrix with a 1 at ``(i, j)`` for every ``j`` in ``rows[i]``."""
    indptr = np.cumsum([0, *(len(row) for row in rows)])
    indices = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(rows), width))
