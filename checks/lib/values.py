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
