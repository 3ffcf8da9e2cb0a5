"""The MIND readers: faithful tables, and every malformed line reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lusifer import DataConfig, DataError
from lusifer_plugin_news.domain import NewsDomain
from lusifer_plugin_news.readers import read_behaviors, read_news


def test_news_rows_keep_text_and_entity_labels(mind_dir: Path) -> None:
    news = read_news(mind_dir / "MINDsmall_train" / "news.tsv")
    assert len(news) == 30 and news.index[0] == "N1"
    first = news.loc["N1"]
    assert (first["category"], first["subcategory"]) == ("sports", "football_nfl")
    assert first["abstract"].startswith("What happened") and first["entities"] == "Green Bay Packers"
    assert news.loc["N3", "abstract"] == ""


def test_behaviors_explode_impressions_with_labels_and_times(mind_dir: Path) -> None:
    behaviors = read_behaviors(mind_dir / "MINDsmall_train" / "behaviors.tsv")
    shown = behaviors.shown
    assert list(shown.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert len(shown) == 10 * 2 * 8 and set(shown["rating"]) == {0, 1}
    first = shown.iloc[0]
    assert (first["user_id"], first["item_id"], first["rating"]) == ("U1", "N4", 0)
    assert first["timestamp"] == 1573394467  # 11/10/2019 2:01:07 PM, read as UTC
    assert behaviors.histories["U1"] == ["N1", "N7", "N13", "N19"]
    assert behaviors.shown_lines[0] == 1 and behaviors.shown_lines[-1] == 20


@pytest.mark.parametrize(
    ("file", "line", "broken", "message"),
    [
        ("behaviors.tsv", 3, "3\tU2\t11/10/2019 1:02:07 PM\tN1 N2", "expected 5 tab-separated fields, found 4"),
        ("behaviors.tsv", 2, "2\tU1\t11/11/2019 3:01:07 AM\t\tN4-1 N5", "impression 'N5' is not '<news id>-<1|0>'"),
        ("behaviors.tsv", 4, "4\tU2\t11/11/2019 3:01:07 AM\t\tN4-2", "impression 'N4-2'"),
        ("behaviors.tsv", 5, "5\tU3\t2019-11-10 14:00:00\t\tN4-1", "time '2019-11-10 14:00:00' is not like"),
        ("behaviors.tsv", 6, "6\tU3\t11/10/2019 1:02:07 PM\t\tN999-1", "news id N999 is in no news.tsv"),
        ("behaviors.tsv", 7, "7\tU42\t11/10/2019 1:02:07 PM\tN1 N998\tN4-1", "history news id N998 is in no news.tsv"),
        ("news.tsv", 2, "N2\tsports\tgolf\tTitle\tAbstract\turl\t[{broken\t[]", "entities are not valid JSON"),
        ("news.tsv", 9, "N1\tsports\tgolf\tTitle\t\turl\t[]\t[]", "news id N1 appears twice"),
    ],
)
def test_malformed_lines_name_file_and_line(mind_dir: Path, file: str, line: int, broken: str, message: str) -> None:
    path = mind_dir / "MINDsmall_train" / file
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line - 1] = broken
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        NewsDomain().load("mind-small", DataConfig(path=mind_dir))
    assert f"{path}, line {line}: " in str(caught.value) and message in str(caught.value)


def test_undecodable_bytes_and_missing_files_are_data_errors(mind_dir: Path) -> None:
    path = mind_dir / "MINDsmall_dev" / "news.tsv"
    path.write_bytes(path.read_bytes().replace(b"Golf", b"G\xffolf", 1))
    with pytest.raises(DataError, match=r"news.tsv, line \d+: not valid UTF-8"):
        read_news(path)
    path.unlink()
    with pytest.raises(DataError, match="file not found"):
        NewsDomain().load("mind-small", DataConfig(path=mind_dir))
