"""The news domain against the kernel contracts: tables, split, templates, registration, Gymnasium id."""

from __future__ import annotations

from pathlib import Path

import pytest

from lusifer import CLICK, ConfigError, DataConfig, DataError, NotFoundError
from lusifer.testing import Interaction, check_domain, get_domain, request_builder, template_dirs
from lusifer_plugin_news.domain import NewsDomain


def test_the_fixture_passes_the_domain_contract(mind_dir: Path) -> None:
    data, split = check_domain(NewsDomain(), "mind-small", DataConfig(path=mind_dir))
    assert data.users["user_info"].eq("").all() and len(data.users) == 10
    assert len(data.items) == 42  # 30 train articles, 12 more from the dev news.tsv
    assert data.items["has_text"].sum() == 28  # every article with an abstract
    assert set(data.ratings["rating"]) == {0, 1}
    assert split.fold == "dev" and len(split.train) + data.metadata["test_rows"] == len(data.ratings)


def test_the_plugin_registers_the_domain_with_the_click_scale() -> None:
    domain = get_domain("news")
    assert isinstance(domain, NewsDomain) and domain.scale == CLICK
    assert domain.evaluators == ("auc", "accuracy", "log_loss", "ece")
    assert any((entry.obj / "news" / "feedback.j2").is_file() for entry in template_dirs())


def test_history_clicks_precede_every_impression_of_their_user(mind_dir: Path) -> None:
    data = NewsDomain().load("mind-small", DataConfig(path=mind_dir))
    ratings = data.ratings
    history = ratings.iloc[: ratings["rating"].size - data.metadata["test_rows"]]
    user = history[history["user_id"] == "U1"]
    clicks = user.iloc[:5]  # U1's 4 train history clicks, then the one the dev history adds
    assert clicks["item_id"].tolist() == ["N1", "N7", "N13", "N19", "N25"]
    assert clicks["rating"].eq(1).all() and clicks["timestamp"].is_monotonic_increasing
    first_impression = ratings[(ratings["user_id"] == "U1")].iloc[5:]["timestamp"].min()
    assert clicks["timestamp"].max() == first_impression - 1


def test_the_dev_fold_tests_each_shown_article_once(mind_dir: Path) -> None:
    domain = NewsDomain()
    data = domain.load("mind-small", DataConfig(path=mind_dir))
    split = domain.split(data, None, seed=0)
    assert split.test["timestamp"].min() > split.train["timestamp"].max()
    assert not split.test.duplicated(["user_id", "item_id"]).any()
    assert len(split.test) == 10 * 8 and set(split.test["rating"]) == {0, 1}
    with pytest.raises(NotFoundError, match="Unknown fold 'u1'"):
        domain.split(data, "u1", seed=0)


def test_data_dir_without_the_official_folders_is_an_error(tmp_path: Path, mind_dir: Path) -> None:
    with pytest.raises(DataError, match="no MINDsmall_train or MINDsmall_dev folder"):
        NewsDomain().load("mind-small", DataConfig(path=tmp_path))
    with pytest.raises(ConfigError, match="no --enrich-file"):
        NewsDomain().load("mind-small", DataConfig(path=mind_dir, enrich_file=tmp_path / "x.csv"))
    with pytest.raises(NotFoundError, match="Did you mean 'mind-small'"):
        NewsDomain().load("mind-smal", DataConfig(path=mind_dir))


def test_news_templates_render_clicks_and_skips(mind_dir: Path) -> None:
    builder = request_builder("news", NewsDomain().load("mind-small", DataConfig(path=mind_dir)))
    batch = [Interaction("N1", 1, 1), Interaction("N2", 0, 2)]
    profile = builder.profile("U1", "", batch, None, 0)
    assert "reader of Microsoft News" in profile.messages[0].content
    assert "- Clicked: Football Playoffs update 1." in profile.messages[1].content
    assert "- Skipped: Stock Markets update 2." in profile.messages[1].content
    feedback = builder.feedback("U1", "", "Likes football.", batch, ["N4", "N5"], {"mean": 0.5, "count": 2}, {})
    text = feedback.messages[1].content
    assert "They clicked 50% of the 2 articles" in text and 'skipped "Stock Markets update 2"' in text
    assert "[N4] Congress Vote update 4." in text and "1 if the user would click" in text
    assert feedback.schema["properties"]["ratings"]["properties"]["N4"]["enum"] == [0, 1]


def test_the_gymnasium_id_is_registered() -> None:
    import gymnasium

    from lusifer import env_id, register_envs

    assert env_id(get_domain("news")) == "lusifer/MIND-v0"
    assert "lusifer/MIND-v0" in register_envs() and "lusifer/MIND-v0" in gymnasium.registry
