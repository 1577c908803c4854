"""Cursor pages (Relay style) with opaque, stable keyset cursors."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Page:
    """One page of rows; each row also carries its own ``cursor``."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    total_count: int = 0
    has_next_page: bool = False
    end_cursor: str | None = None


def encode_cursor(kind: str, *values: Any) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, arity: int) -> list[Any]:
    """The values of a cursor made by :func:`encode_cursor`; ``ValueError`` if it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, UnicodeError, json.JSONDecodeError, ValueError) as error:
        raise ValueError(f"bad cursor: {cursor[:60]!r}") from error
    if (
        not isinstance(values, list)
        or len(values) != arity + 1
        or values[0] != kind
        or not all(isinstance(v, str) and "\x00" not in v for v in values[1:])
    ):
        raise ValueError(f"bad cursor: {cursor[:60]!r}")
    return values[1:]


def check_first(first: int) -> int:
    if first < 0:
        raise ValueError("first must not be negative")
    return first


class Params:
    """Numbered asyncpg placeholders, collected while the SQL is built."""

    def __init__(self, *values: Any) -> None:
        self.values: list[Any] = list(values)

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"
