"""Offline first run advice, package metadata and the shared-data variable (issue 19, items 7 and 8)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from movies_fakes import spec_for, write_100k, zip_folder

from lusifer.api.errors import DataError
from lusifer.domains.movies.download import fetch

REPO = Path(__file__).resolve().parents[1]


def test_download_failure_says_how_to_work_offline(tmp_path: Path) -> None:
    archive = zip_folder(write_100k(tmp_path / "src"), tmp_path / "ml-100k.zip", "ml-100k")
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as caught:
        fetch(spec_for(archive, "http://127.0.0.1:9/ml-100k.zip"), cache, show_progress=False)
    message = str(caught.value)
    assert "--data-dir" in message and "LUSIFER_DATA_DIR" in message
    assert str(cache / "ml-100k.zip") in message and "\n" not in message


def test_package_declares_types_classifiers_and_changelog() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert (REPO / "lusifer" / "py.typed").is_file()
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["lusifer"]
    assert "Typing :: Typed" in project["project"]["classifiers"]
    assert "## Unreleased" in (REPO / "CHANGELOG.md").read_text(encoding="utf-8")


def test_shared_data_folder_follows_the_environment_variable(tmp_path: Path) -> None:
    code = "import sys; sys.path.insert(0, 'tests'); import conftest; print(conftest.SHARED)"
    environment = {**os.environ, "LUSIFER_SHARED_DIR": str(tmp_path)}
    found = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True, text=True)
    assert found.stdout.strip() == str(tmp_path), found.stderr


def test_supported_pythons_are_the_tested_ones() -> None:
    """CI tests Python 3.11 only, so that is the supported range (metadata, classifiers and lint target)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.11"
    versions = [c.rsplit(":: ", 1)[1] for c in project["project"]["classifiers"] if re.search(r"Python :: 3\.\d+$", c)]
    assert versions == ["3.11"]
    assert project["tool"]["ruff"]["target-version"] == "py311"
    assert sys.version_info >= (3, 11)


def test_docs_site_lists_every_page_and_builds_strictly(tmp_path: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert {"mkdocs-material", "mkdocstrings[python]"} <= {
        re.split(r"[<>=]", requirement)[0] for requirement in project["project"]["optional-dependencies"]["docs"]
    }
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {path.relative_to(REPO / "docs").as_posix() for path in (REPO / "docs").rglob("*.md")}
    listed = set(re.findall(r":\s+(\S+\.md)\s*$", config, re.M))
    assert pages == listed  # every page reachable from the navigation, none listed that is missing
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs not installed (pip install -e '.[docs]'); .ci/run builds the site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert "check_templates" in (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")


def test_the_test_switches_are_not_configuration_keys(tmp_path: Path) -> None:
    from lusifer.kernel.settings import load_config

    switches = {"LUSIFER_SHARED_DIR": str(tmp_path), "LUSIFER_REQUIRE_BROWSER": "1"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**switches, "LUSIFER_EXPLORER_SCREENSHOT": str(tmp_path / "shot.png")}.items():
            patch.setenv(name, value)
        assert load_config(None, {}).domain == "movies"
