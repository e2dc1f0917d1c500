"""A pytest plugin for the child run of tests/checks/test_coverage.py: at the end of the
session, write the (check, status) pairs the check tests produced to the file named by
ECSDOCTOR_OBSERVED_FILE."""

from __future__ import annotations

import json
import os

import pytest

from tests.checks.harness import OBSERVED

ENV = "ECSDOCTOR_OBSERVED_FILE"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    del session, exitstatus
    path = os.environ.get(ENV)
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(sorted(OBSERVED), out)
