"""Package list for setuptools: everything under lusifer/, plus prompts/ shipped as `lusifer.prompts`."""

from pathlib import Path

from setuptools import find_packages, setup

PROMPT_FOLDERS = sorted(path.name for path in Path(__file__).parent.joinpath("prompts").iterdir() if path.is_dir())

setup(
    packages=[
        *find_packages(include=["lusifer", "lusifer.*"]),
        "lusifer.prompts",
        *(f"lusifer.prompts.{folder}" for folder in PROMPT_FOLDERS if folder != "__pycache__"),
    ],
    package_dir={"lusifer.prompts": "prompts"},
)
