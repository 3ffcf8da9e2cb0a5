"""`python -m lusifer` runs the command-line interface."""

from lusifer.cli import main

main()
