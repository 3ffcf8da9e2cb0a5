"""MovieLens parsers and MoviesDomain.load/split: real ML-100K, tiny synthetic folders, malformed input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from movies_fakes import write_1m, write_100k, write_latest

from lusifer.api.errors import DataError, NotFoundError
from lusifer.api.settings import DataConfig
from lusifer.domains.movies import readers
from lusifer.domains.movies.domain import MoviesDomain
from lusifer.kernel.registry import get_domain

TMDB_100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tmdb" / "ml-100k-tmdb.csv"
DOMAIN = MoviesDomain()


def test_movies_domain_is_registered() -> None:
    domain = get_domain("movies")
    assert isinstance(domain, MoviesDomain)
    assert domain.datasets == ("ml-100k", "ml-1m", "ml-latest-small", "ml-25m")
    assert (domain.scale.low, domain.scale.high, domain.item_noun) == (1, 5, "movie")


def test_real_ml100k_counts_types_and_text(ml100k: Path) -> None:
    data = DOMAIN.load("ml-100k", DataConfig(path=ml100k))
    assert (len(data.users), len(data.items), len(data.ratings)) == (943, 1682, 100000)
    assert list(data.ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert all(data.ratings[column].dtype.kind == "i" for column in data.ratings.columns)
    assert data.ratings.iloc[0].tolist() == [196, 242, 3, 881250949]  # file order
    assert data.users.loc[1, "user_info"] == "Age: 24; gender: male; occupation: technician"
    assert isinstance(data.users["occupation"].dtype, pd.CategoricalDtype)
    toy = data.items.loc[1]
    assert (toy["title"], toy["year"], toy["genres"]) == (
        "Toy Story (1995)",
        1995,
        "Animation|Children's|Comedy",
    )
    assert toy["item_info"] == "Toy Story (1995). Genres: Animation, Children's, Comedy."
    assert data.items.loc[543, "title"] == "Misérables, Les (1995)"  # latin-1
    assert not data.items["has_text"].any()
    assert data.folds == ("u1", "u2", "u3", "u4", "u5", "ua", "ub")


def test_real_ml100k_official_folds(ml100k: Path) -> None:
    data = DOMAIN.load("ml-100k", DataConfig(path=ml100k))
    split = DOMAIN.split(data, None, seed=0)
    assert (split.fold, len(split.train), len(split.test)) == ("u1", 80000, 20000)
    assert len(DOMAIN.split(data, "ua", seed=0).test) == 9430
    with pytest.raises(NotFoundError, match="Unknown fold 'u11'. Did you mean 'u1'"):
        DOMAIN.split(data, "u11", seed=0)


def test_real_ml100k_with_tmdb_enrichment(ml100k: Path) -> None:
    if not TMDB_100K.is_file():
        pytest.skip(f"shared TMDB enrichment not found at {TMDB_100K}")
    data = DOMAIN.load("ml-100k", DataConfig(path=ml100k, enrich_file=TMDB_100K))
    assert int(data.items["has_text"].sum()) == 1591
    toy = data.items.loc[1, "item_info"]
    assert toy.startswith("Toy Story (1995). Genres: Animation, Children's, Comedy. Overview: Led by Woody")
    assert "Tagline: Hang on for the comedy" in toy and "Runtime: 81 minutes." in toy
    unmatched = data.items[~data.items["has_text"]].iloc[0]
    assert "Overview" not in unmatched["item_info"]
    assert data.metadata["enrich_file"] == str(TMDB_100K.resolve())


def test_loading_is_cached_and_returns_independent_frames(tmp_path: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    first = DOMAIN.load("ml-100k", DataConfig(path=folder))
    first.items["extra"] = 1
    second = DOMAIN.load("ml-100k", DataConfig(path=folder))
    assert "extra" not in second.items.columns
    assert second.ratings["user_id"].to_numpy().base is first.ratings["user_id"].to_numpy().base


def test_synthetic_100k(tmp_path: Path) -> None:
    data = DOMAIN.load("ml-100k", DataConfig(path=write_100k(tmp_path / "ml-100k")))
    assert data.items.loc[3, "title"] == "Misérables, Les (1995)"
    assert data.items.loc[4, "genres"] == "Action|Comedy"
    assert DOMAIN.split(data, "u1", 0).test["user_id"].tolist() == [3, 3, 3]


def test_synthetic_1m(tmp_path: Path) -> None:
    data = DOMAIN.load("ml-1m", DataConfig(path=write_1m(tmp_path / "ml-1m")))
    assert data.users.loc[1, "user_info"] == "Age: under 18; gender: female; occupation: K-12 student"
    assert data.users.loc[2, "user_info"] == "Age: 56+; gender: male; occupation: self-employed"
    assert data.items.loc[2, "title"] == "Star Wars: Episode IV (1977)"
    assert data.items.loc[2, "year"] == 1977
    assert data.ratings["rating"].tolist() == [5, 3, 4]
    assert data.folds == ("1", "2", "3", "4", "5")


def test_synthetic_latest_rounds_half_stars_and_reads_links(tmp_path: Path) -> None:
    data = DOMAIN.load("ml-latest-small", DataConfig(path=write_latest(tmp_path / "ml-latest-small")))
    assert data.ratings["rating"].tolist() == [4, 1, 4, 5]
    assert data.items.loc[2, "title"] == "American President, The (1995)"
    assert data.items.loc[1, ["imdb_id", "tmdb_id"]].tolist() == ["tt0114709", 862]
    assert pd.isna(data.items.loc[2, "tmdb_id"]) and data.items.loc[3, "genres"] == ""
    assert data.items.loc[3, "item_info"] == "Some Film."
    assert data.users["user_info"].tolist() == ["", ""]


def test_seeded_kfold_split_partitions_each_users_ratings(tmp_path: Path) -> None:
    from lusifer.domains.movies.loading import kfold_split

    ratings = pd.DataFrame({"user_id": [1] * 10 + [2] * 7, "item_id": range(17), "rating": 3, "timestamp": 0})
    tests = [kfold_split(ratings, fold, seed=7).test for fold in "12345"]
    assert sorted(pd.concat(tests)["item_id"]) == list(range(17))  # every rating is tested exactly once
    assert [int((t["user_id"] == 1).sum()) for t in tests] == [2] * 5
    again = kfold_split(ratings, "3", seed=7)
    assert again.test.equals(tests[2]) and len(again.train) + len(again.test) == 17


@pytest.mark.parametrize(("dataset", "write"), [("ml-100k", write_100k), ("ml-1m", write_1m), ("ml-25m", write_latest)])
def test_domain_contract(tmp_path: Path, dataset: str, write: Callable[[Path], Path]) -> None:
    from lusifer.testing.contracts import check_domain

    check_domain(DOMAIN, dataset, DataConfig(path=write(tmp_path / dataset)))


def test_unknown_dataset_has_a_hint() -> None:
    with pytest.raises(NotFoundError, match="Unknown dataset 'ml-100'. Did you mean 'ml-100k'"):
        DOMAIN.load("ml-100", DataConfig())


# Malformed input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1\t1\t5\t100\n1\t2\t3\n", r"u\.data, line 2: expected 4 fields"),  # truncated line
        (
            "1\t1\t5\t100\n\n1\t2\t3\t4\t5\n",
            r"u\.data, line 3: expected 4 fields separated by '\\t', found 5",
        ),
        ("1\t1\t5\t100\n1\t2\tfive\t100\n", r"u\.data, line 2: rating 'five' is not an integer from 1 to 5"),
        ("1\t1\t7\t100\n", r"u\.data, line 1: rating '7' is not an integer from 1 to 5"),
        ("1\tx\t5\t100\n", r"u\.data, line 1: item id 'x' is not a non-negative integer"),
    ],
)
def test_malformed_ratings_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    (folder / "u.data").write_text(content)
    with pytest.raises(DataError, match=message):
        DOMAIN.load("ml-100k", DataConfig(path=folder))


def test_missing_file(tmp_path: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    (folder / "u.user").unlink()
    with pytest.raises(DataError, match=r"u\.user: file not found"):
        DOMAIN.load("ml-100k", DataConfig(path=folder))


def test_unknown_ids_in_split_file(tmp_path: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    data = DOMAIN.load("ml-100k", DataConfig(path=folder))
    (folder / "u1.test").write_text("3\t2\t3\t10\n\n99\t1\t1\t20\n")
    with pytest.raises(DataError, match=r"u1\.test, line 3: unknown user id 99"):
        DOMAIN.split(data, "u1", 0)
    (folder / "u1.test").write_text("3\t2\t3\t10\n3\t42\t1\t20\n")
    with pytest.raises(DataError, match=r"u1\.test, line 2: unknown item id 42"):
        DOMAIN.split(data, "u1", 0)


def test_wrong_encoding(tmp_path: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    (folder / "u.data").write_text("1\t1\t5\t100\n", encoding="utf-16")
    with pytest.raises(DataError, match=r"u\.data, line 1"):
        DOMAIN.load("ml-100k", DataConfig(path=folder))
    latest = write_latest(tmp_path / "latest")
    (latest / "movies.csv").write_bytes(b"movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Caf\xe9 (1990),Drama\n")
    with pytest.raises(DataError, match=r"movies\.csv, line 3: not valid utf-8 text"):
        DOMAIN.load("ml-latest-small", DataConfig(path=latest))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("u.item", "1|Toy Story (1995)|01-Jan-1995\n", r"u\.item, line 1: expected 24 fields"),
        ("u.user", "1|24|M|technician|85711\n2|old|F|other|94043\n", r"u\.user, line 2: age 'old'"),
        ("u.user", "1|24|X|technician|85711\n", r"u\.user, line 1: gender 'X' is not M or F"),
    ],
)
def test_malformed_100k_side_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    (folder / name).write_text(content)
    with pytest.raises(DataError, match=message):
        DOMAIN.load("ml-100k", DataConfig(path=folder))


def test_malformed_1m_and_latest(tmp_path: Path) -> None:
    folder = write_1m(tmp_path / "ml-1m")
    (folder / "ratings.dat").write_text("1::1::5::978300760\n1::2:3::978302109\n")
    with pytest.raises(DataError, match=r"ratings\.dat, line 2: expected 4 fields separated by '::', found 3"):
        readers.read_1m_ratings(folder / "ratings.dat")
    latest = write_latest(tmp_path / "latest")
    (latest / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,9\n1,2,0.7,9\n")
    with pytest.raises(DataError, match=r"ratings\.csv, line 3: rating '0.7' is not 0.5..5 in half stars"):
        readers.read_latest_ratings(latest / "ratings.csv")
    (latest / "ratings.csv").write_text("user,movie,rating,timestamp\n1,1,4.0,9\n")
    with pytest.raises(DataError, match=r"ratings\.csv, line 1: expected the header"):
        readers.read_latest_ratings(latest / "ratings.csv")


def test_malformed_enrichment_file(tmp_path: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    enrich = tmp_path / "enrich.csv"
    enrich.write_text("movie_id,overview\n1,Toys.\n1,Again.\n")
    with pytest.raises(DataError, match=r"enrich\.csv, line 3: movie_id '1' appears twice"):
        DOMAIN.load("ml-100k", DataConfig(path=folder, enrich_file=enrich))
    enrich.write_text("title,overview\nx,y\n")
    with pytest.raises(DataError, match="needs a 'movie_id'"):
        DOMAIN.load("ml-100k", DataConfig(path=folder, enrich_file=enrich))
