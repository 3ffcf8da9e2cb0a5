"""Package list for setuptools: everything under lusifer/, plus prompts/ shipped as `lusifer.prompts`."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["lusifer", "lusifer.*"]), "lusifer.prompts"],
    package_dir={"lusifer.prompts": "prompts"},
)
