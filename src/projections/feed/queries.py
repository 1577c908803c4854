"""Reads of the event feed (async, asyncpg): pages of CloudEvents after a cursor.

A cursor is opaque to consumers; inside, it is a position in the notification log.
Rows are written by one projection thread, in position order, each with its tracking
record in the same transaction (ADR 0012). So within one statement's snapshot the
visible rows are exactly the published events up to some position, with none missing
below it, and ``position > cursor ORDER BY position`` never skips an event that
becomes visible later.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from cloudevents.core.v1.event import CloudEvent

from projections.feed.projection import EVENTS
from projections.pages import Params, decode_cursor, encode_cursor
from projections.runtime import EVENTS_TABLE

CURSOR_KIND = "feed"
SPECVERSION = "1.0"
DATACONTENTTYPE = "application/json"


def source(municipality: str) -> str:
    """The CloudEvents ``source`` of a municipality's events."""
    return f"/tequio/{municipality}"


def encode_position(position: int) -> str:
    return encode_cursor(CURSOR_KIND, str(position))


def decode_position(cursor: str) -> int:
    """The position a cursor stands for; ``ValueError`` if it is not a feed cursor."""
    (value,) = decode_cursor(CURSOR_KIND, cursor, 1)
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ValueError(f"bad cursor: {cursor[:60]!r}")
    return int(value)


class CursorBeyondEnd(ValueError):
    """A cursor past the last event ever recorded: no page gave it out. Taken as is, it
    would make its holder skip every event up to it once they are recorded."""


@dataclass(frozen=True)
class FeedPage:
    """Events in log order; ``cursor`` is where the next page starts."""

    events: list[CloudEvent]
    cursor: str
    has_more: bool


def cloud_event(municipality: str, row: Any) -> CloudEvent:
    data = row["data"]
    if isinstance(data, str):  # asyncpg returns jsonb as text by default
        data = json.loads(data)
    return CloudEvent(
        {
            "specversion": SPECVERSION,
            "id": row["id"],
            "source": source(municipality),
            "type": row["type"],
            "subject": row["subject"],
            "time": row["time"],
            "datacontenttype": DATACONTENTTYPE,
        },
        data,
    )


class FeedQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def page(
        self,
        municipality: str,
        *,
        after: int = 0,
        limit: int = 100,
        types: Sequence[str] = (),
        subjects: Sequence[str] = (),
    ) -> FeedPage:
        """Up to ``limit`` events after position ``after``, optionally only of the given
        CloudEvents types and/or subjects (``<kind>/<public id>``).

        The cursor is that of the last event returned, or, when the page is the last one
        for now, the highest position this read saw (filtered-out events included), so a
        sparse filter does not rescan the same events on every poll."""
        if limit < 1:
            raise ValueError("limit must be positive")
        p = Params(municipality, after)
        where = ["municipality = $1", "position > $2"]
        if types:
            where.append(f"type = any({p(list(types))}::text[])")
        if subjects:
            where.append(f"subject = any({p(list(subjects))}::text[])")
        # One statement, one snapshot: the page and the highest position seen agree.
        rows = await self._pool.fetch(
            f"WITH page AS (SELECT position, id, type, subject, time, data FROM {EVENTS}"
            f" WHERE {' AND '.join(where)} ORDER BY position LIMIT {p(limit + 1)})"
            " SELECT page.*, seen.position AS seen FROM"
            f" (SELECT max(position) AS position FROM {EVENTS}"
            "   WHERE municipality = $1 AND position > $2) AS seen"
            " LEFT JOIN page ON TRUE ORDER BY page.position",
            *p.values,
        )
        found = [r for r in rows if r["position"] is not None]
        if not found and (not rows or rows[0]["seen"] is None) and after:
            # Nothing after it yet: only now is a made-up cursor worth a look. It is
            # checked against the event log, not the feed, whose rows run behind the
            # cursors it gave out while it is being rebuilt.
            head = await self._pool.fetchval(
                f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"
            )
            if after > head:
                raise CursorBeyondEnd(after)
        has_more = len(found) > limit
        found = found[:limit]
        if has_more:
            last = found[-1]["position"]
        else:
            seen = rows[0]["seen"] if rows else None
            last = max(after, seen or 0, found[-1]["position"] if found else 0)
        return FeedPage(
            events=[cloud_event(municipality, r) for r in found],
            cursor=encode_position(last),
            has_more=has_more,
        )
