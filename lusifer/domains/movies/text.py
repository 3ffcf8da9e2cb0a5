"""The text an LLM sees about a movie (``item_info``) and a user (``user_info``), and a movie's
structured features (its genres, and its text without them) for backends that model content."""

from __future__ import annotations

import pandas as pd

from lusifer.api.prompt_context import ItemFeatures

_GENDERS = {"M": "male", "F": "female"}


def user_texts(users: pd.DataFrame) -> pd.Series:
    """``"Age: 24; gender: male; occupation: technician"`` per user; empty without demographics."""
    if not {"age", "gender", "occupation"} <= set(users.columns):
        return pd.Series("", index=users.index, dtype=object)
    return pd.Series(
        [
            f"Age: {age}; gender: {_GENDERS.get(gender, gender)}; occupation: {occupation}"
            for age, gender, occupation in zip(users["age"], users["gender"], users["occupation"])
        ],
        index=users.index,
        dtype=object,
    )


#: The item columns a movie's text and features are made of, in :func:`_item_text` order.
TEXT_SOURCE_COLUMNS = ["title", "year", "genres", "overview", "tagline", "runtime", "original_language", "tmdb_genres"]


def item_texts(items: pd.DataFrame) -> pd.Series:
    """``"Toy Story (1995). Genres: Animation, Comedy."`` plus overview, tagline, runtime and language.

    Reads the optional enrichment columns ``overview``, ``tagline``, ``runtime``,
    ``original_language`` and ``tmdb_genres`` (used only when MovieLens lists no genre).
    """
    present = items.reindex(columns=TEXT_SOURCE_COLUMNS)
    texts = [_item_text(*row) for row in present.itertuples(index=False, name=None)]
    return pd.Series(texts, index=items.index, dtype=object)


def item_features(items: pd.DataFrame) -> dict[str, ItemFeatures]:
    """Per item id: the genres the text lists, and the text without its ``Genres:`` sentence."""
    present = items.reindex(columns=TEXT_SOURCE_COLUMNS)
    return {
        str(item_id): ItemFeatures(genres=_genres(row[2], row[7]), description=_item_text(*row, with_genres=False))
        for item_id, row in zip(items.index, present.itertuples(index=False, name=None))
    }


def _genres(genres: object, tmdb_genres: object) -> tuple[str, ...]:
    """MovieLens's ``|``-separated genres, or TMDB's when MovieLens lists none."""
    genre_list = genres if _present(genres) else tmdb_genres
    if not _present(genre_list):
        return ()
    return tuple(" ".join(name.split()) for name in str(genre_list).split("|") if name.strip())


def _item_text(
    title: object,
    year: object,
    genres: object,
    overview: object,
    tagline: object,
    runtime: object,
    language: object,
    tmdb_genres: object,
    *,
    with_genres: bool = True,
) -> str:
    text = str(title)
    if _present(year) and f"({int(year)})" not in text:  # type: ignore[call-overload]
        text = f"{text} ({int(year)})"  # type: ignore[call-overload]
    parts = [_sentence(text)]
    genre_list = genres if _present(genres) else tmdb_genres
    if with_genres and _present(genre_list):
        parts.append(_sentence("Genres: " + ", ".join(str(genre_list).split("|"))))
    if _present(overview):
        parts.append(_sentence(f"Overview: {overview}"))
    if _present(tagline):
        parts.append(_sentence(f"Tagline: {tagline}"))
    if _present(runtime) and float(runtime) > 0:  # type: ignore[arg-type]
        parts.append(f"Runtime: {int(float(runtime))} minutes.")  # type: ignore[arg-type]
    if _present(language):
        parts.append(f"Original language: {language}.")
    return " ".join(parts)


def _present(value: object) -> bool:
    """False for None, NaN, NA and blank strings."""
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and not pd.isna(value)


def _sentence(text: str) -> str:
    text = " ".join(str(text).split())
    return text if text.endswith((".", "!", "?", "…")) else text + "."
