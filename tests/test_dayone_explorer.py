"""The run explorer (issue 19, item 8): `lusifer report RUN --html` writes one self-contained page, checked
in a real headless browser (Chromium); `lusifer show user` names the items and their ratings."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands
from lusifer.runs.store import RunStore

#: Set by CI, so that a missing browser fails the browser test instead of skipping it.
REQUIRE_BROWSER = os.environ.get("LUSIFER_REQUIRE_BROWSER") == "1"


@pytest.fixture
def explored_run(tmp_path_factory: pytest.TempPathFactory, ml100k: Path) -> Path:
    """An offline run of 3 users, evaluated (for metrics and plots), with its explorer page written."""
    load_plugin_commands()
    run = tmp_path_factory.mktemp("explorer") / "run"
    runner = CliRunner()
    simulated = runner.invoke(
        cli, ["run", "--no-progress", "--data-dir", str(ml100k), "--users", "3", "--out", str(run)]
    )
    assert simulated.exit_code == 0, simulated.output
    evaluated = runner.invoke(cli, ["evaluate", str(run), "--bootstrap", "20", "--no-calibrate", "--no-baselines"])
    assert evaluated.exit_code == 0, evaluated.output
    written = runner.invoke(cli, ["report", str(run), "--html"])
    assert written.exit_code == 0 and f"Wrote {run / 'explorer.html'}" in written.output, written.output
    return run


def _page_data(page: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="run-data">(.*?)</script>', text, re.S)
    assert block is not None
    return json.loads(block.group(1))


def test_the_page_is_self_contained_and_holds_every_user(explored_run: Path) -> None:
    page = explored_run / "explorer.html"
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # no CDN, no remote file
    assert "@import" not in text and "fetch(" not in text
    data = _page_data(page)
    store = RunStore(explored_run)
    try:
        profiles, feedback = store.profiles("1"), [row for row in store.feedback(None) if row["user_id"] == "1"]
        history = {item: rating for user, item, rating, _ in store.history() if user == "1"}
    finally:
        store.close()
    assert [user["id"] for user in data["users"]] == ["1", "2", "3"]
    user = data["users"][0]
    assert [step["profile"] for step in user["steps"]] == [state.profile for state in profiles]
    first = user["steps"][0]
    assert first["items"] == [[item, history[item]] for item in profiles[0].item_ids]
    assert data["titles"][profiles[0].item_ids[0]]  # items by title
    assert len(user["ratings"]) == len(feedback)
    assert {"rmse", "mae", "pearson"} <= {row["metric"] for row in data["metrics"]}
    assert set(data["plots"]) >= {"errors", "profile_timeline"}
    assert all(uri.startswith("data:image/png;base64,") for uri in data["plots"].values())


def test_show_user_names_the_items_and_their_ratings(explored_run: Path) -> None:
    store = RunStore(explored_run)
    try:
        state = store.profiles("1")[0]
        history = {item: rating for user, item, rating, _ in store.history() if user == "1"}
    finally:
        store.close()
    titles = _page_data(explored_run / "explorer.html")["titles"]
    shown = CliRunner().invoke(cli, ["show", "user", "1", "--run", str(explored_run)])
    assert shown.exit_code == 0, shown.output
    item = state.item_ids[0]
    assert f"  {titles[item]} ({item}): rated {history[item]:g}" in shown.output.splitlines()
    assert "--- feedback (item: simulated / true)" in shown.output


def _browser() -> str:
    found = next(
        (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
    )
    if found is None:
        if REQUIRE_BROWSER:
            pytest.fail("no Chromium on PATH (CI installs Debian's chromium package)")
        pytest.skip("no Chromium on PATH")
    return found


def _headless(browser: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_page_renders_a_users_timeline_in_a_headless_browser(explored_run: Path, tmp_path: Path) -> None:
    browser = _browser()
    store = RunStore(explored_run)
    try:
        states = store.profiles("2")
    finally:
        store.close()
    url = (explored_run / "explorer.html").resolve().as_uri() + "#user=2"
    dumped = _headless(browser, "--dump-dom", url)
    console = [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console  # nothing logged: no script error, no warning
    dom = dumped.stdout
    root = re.search(r"<html[^>]*>", dom)
    assert root is not None and 'data-ready="1"' in root.group(0) and "data-errors" not in root.group(0)
    assert "User 2 · done" in dom and dom.count('class="step"') == len(states)
    assert "Why: " in dom and "Simulated vs true ratings" in dom and "3 of 3 users" in dom
    assert "<ins>" in dom or "<del>" in dom  # what changed between two steps is marked
    screenshot = Path(os.environ.get("LUSIFER_EXPLORER_SCREENSHOT") or tmp_path / "explorer.png")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    shot = _headless(browser, f"--screenshot={screenshot}", "--window-size=1280,1400", "--hide-scrollbars", url)
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(screenshot)
    assert pixels.shape[:2] == (1400, 1280) and float(np.std(pixels[..., :3])) > 0.05  # drawn, not blank


def test_profile_text_cannot_end_the_data_block(tmp_path: Path) -> None:
    from lusifer.api.run_info import ProfileState
    from lusifer.evaluation.explorer import write_explorer

    hostile = "Likes </script><script>alert(1)</script> films & <b>bold</b> claims."
    store = RunStore(tmp_path)
    try:
        store.save_history([("7", "1", 4.0, 0)])
        store.add_profile(ProfileState("7", 0, hostile, "why </script>", ["1"]))
        store.set_user_status("7", "done")
    finally:
        store.close()
    page = write_explorer(tmp_path)
    assert page.read_text(encoding="utf-8").count("</script>") == 3  # the page's own blocks only
    data = _page_data(page)
    assert data["users"][0]["steps"][0]["profile"] == hostile and data["users"][0]["steps"][0]["items"] == [["1", 4.0]]
    assert data["metrics"] == [] and data["plots"] == {} and data["titles"] == {}
