"""Offline first run advice, package metadata and the shared-data variable (issue 19, items 7 and 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from movies_fakes import spec_for, write_100k, zip_folder

from lusifer.api.errors import DataError
from lusifer.domains.movies.download import fetch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

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
