"""Reading values that AWS and hand-written files spell more than one way."""

from __future__ import annotations

from typing import Any


def int_or_none(value: Any) -> int | None:
    """ECS mixes ints and strings ("1024", "1 vcpu" in hand-written files) for sizes."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        return int(value.strip())
    return None


def flag_value(words: list[str], *flags: str) -> str | None:
    """The value after `--flag` (or in `--flag=value`) in a command's words, the last one
    winning as it does for the programs that read them (gunicorn, dotnet-monitor, …)."""
    found = None
    for i, word in enumerate(words):
        for flag in flags:
            if word == flag and i + 1 < len(words):
                found = words[i + 1]
            elif word.startswith(flag + "="):
                found = word.split("=", 1)[1]
    return found
