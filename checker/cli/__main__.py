"""`python -m checker.cli`: the same as the `ecsdoctor` console script."""

from checker.cli.app import run

run()
