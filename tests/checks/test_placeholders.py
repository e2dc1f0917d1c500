"""The placeholder finder: what a template leaves in a value, and only that."""

from __future__ import annotations

import pytest

from checks.lib.placeholders import find_placeholders, has_placeholder


@pytest.mark.parametrize(("value", "found"), [
    ("${DB_PASSWORD}", ["${DB_PASSWORD}"]),
    ("arn:aws:iam::${ACCOUNT_ID}:role/x", ["${ACCOUNT_ID}"]),
    ("app:{{ tag }}", ["{{ tag }}"]),
    ("{{must_env `AWS_ACCOUNT_ID`}}.dkr.ecr", ["{{must_env `AWS_ACCOUNT_ID`}}"]),
    ("<YOUR_API_KEY>", ["<YOUR_API_KEY>"]),
    ("<your app image URL here>", ["<your app image URL here>"]),
    ("<task_role_arn>", ["<task_role_arn>"]),
    ("#{Octopus.Tag}", ["#{Octopus.Tag}"]),
    ("$ECR_URI:$IMAGE_TAG", ["$ECR_URI", "$IMAGE_TAG"]),
    ("${ECR_URI}:${IMAGE_TAG}", ["${ECR_URI}", "${IMAGE_TAG}"]),
])
def test_finds_template_variables(value: str, found: list[str]) -> None:
    got = find_placeholders(value)
    assert [p.text for p in got] == found
    assert all(value[p.start:p.end] == p.text for p in got)
    assert has_placeholder(value)


@pytest.mark.parametrize("value", [
    "nginx:1.25.3", "postgres://db:5432/app", "<html><body><p>hi</p></body></html>",
    "a < b > c", "price $5", "\\$ESCAPED", "100%", "{}", "{ a }", "", "${}", "$lower",
])
def test_leaves_ordinary_values(value: str) -> None:
    assert find_placeholders(value) == []
    assert not has_placeholder(value)


def test_not_a_string() -> None:
    assert not has_placeholder(None)
    assert not has_placeholder(42)


def test_long_runs_of_openers() -> None:
    """Openers with no closer (what a hostile or truncated value looks like) find nothing
    and a closed one after them is still found: the pattern's repetitions are bounded."""
    assert find_placeholders("{{" * 50_000) == []
    assert find_placeholders("<a" * 50_000) == []
    tail = find_placeholders("${" * 50_000 + "${TAG}")
    assert [p.text for p in tail] == ["${TAG}"]
