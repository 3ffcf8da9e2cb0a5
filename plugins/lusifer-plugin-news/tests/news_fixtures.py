"""Small MIND-small look-alikes in the official file formats, written by the tests themselves.

Ten users, each with a favourite topic: their click history and every click in their impressions are
articles of that topic, and they skip the rest. Train impressions fall on 2019-11-10 .. 11-14, dev
impressions on 2019-11-15; the dev ``news.tsv`` overlaps the train one and adds new articles.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

TOPICS = (
    ("sports", "golf", "golf tournament", "Tiger Woods"),
    ("sports", "football_nfl", "football playoffs", "Green Bay Packers"),
    ("finance", "markets", "stock markets", "Wall Street"),
    ("lifestyle", "lifestyleroyals", "royal family", "Prince Harry"),
    ("news", "newsus", "congress vote", "United States Congress"),
    ("weather", "weathertopstories", "storm forecast", "National Weather Service"),
)
USERS = 10
TRAIN_NEWS = range(1, 31)
DEV_NEWS = range(19, 43)


def news_line(number: int) -> str:
    category, subcategory, words, entity = TOPICS[number % len(TOPICS)]
    title = f"{words.title()} update {number}"
    abstract = f"What happened in the latest {words} story, part {number}." if number % 3 else ""
    entities = json.dumps([{"Label": entity, "Type": "O", "WikidataId": f"Q{number}", "Confidence": 1.0}])
    url = f"https://assets.msn.com/labs/mind/N{number}.html"
    return "\t".join([f"N{number}", category, subcategory, title, abstract, url, entities, "[]"])


def _favourite(number: int, user: int) -> bool:
    return number % len(TOPICS) == user % len(TOPICS)


def behaviors_lines(user_numbers: range, news: range, day: int, impressions: int, first_id: int) -> list[str]:
    """``impressions`` lines per user on 2019-11-``day`` (and the following days)."""
    lines, impression_id = [], first_id
    pool = list(news)
    for user in user_numbers:
        history = " ".join(f"N{n}" for n in pool[:24] if _favourite(n, user))
        for shown in range(impressions):
            start = (user * 3 + shown * 7) % len(pool)
            items = [pool[(start + k) % len(pool)] for k in range(8)]
            tokens = " ".join(f"N{n}-{int(_favourite(n, user))}" for n in items)
            hour = 1 + (user + shown) % 11
            time = f"11/{day + shown}/2019 {hour}:{user:02d}:07 {'AM' if shown % 2 else 'PM'}"
            lines.append("\t".join([str(impression_id), f"U{user}", time, history, tokens]))
            impression_id += 1
    return lines


def write_mind(root: Path, users: int = USERS) -> Path:
    """Write ``root/MINDsmall_train`` and ``root/MINDsmall_dev``; returns ``root``."""
    parts = {
        "MINDsmall_train": (TRAIN_NEWS, behaviors_lines(range(1, users + 1), TRAIN_NEWS, 10, 2, 1)),
        "MINDsmall_dev": (DEV_NEWS, behaviors_lines(range(1, users + 1), DEV_NEWS, 15, 1, 1)),
    }
    for folder, (news, behaviors) in parts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "news.tsv").write_text("\n".join(news_line(n) for n in news) + "\n", encoding="utf-8")
        (root / folder / "behaviors.tsv").write_text("\n".join(behaviors) + "\n", encoding="utf-8")
    return root


def write_zip(folder: Path, archive: Path, nested: bool = False) -> Path:
    """Zip a part as Microsoft does (files at the top; ``nested``: inside a folder of the part's name)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in ("behaviors.tsv", "news.tsv"):
            bundle.write(folder / name, f"{folder.name}/{name}" if nested else name)
        bundle.writestr("entity_embedding.vec", "Q1\t0.1\t0.2\n")
    return archive
