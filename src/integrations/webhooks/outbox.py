"""The outbox step: the feed read model, followed by position, becomes delivery rows.

One step is one transaction that

1. locks the cursor row (``FOR UPDATE SKIP LOCKED``: a process that finds it locked
   leaves the step to the one holding it);
2. reads the next feed events after the cursor, in position order. The feed's
   committed rows are always a prefix of the log (ADR 0012), so no event can appear
   later below the cursor;
3. inserts one delivery per active subscription of the event's municipality whose
   types match and that existed when the event was recorded
   (``position > from_position``), with ``ON CONFLICT DO NOTHING`` on
   (subscription, event);
4. moves the cursor to the last event read.

A crash before the commit leaves neither rows nor cursor; a second process waits its
turn. So each (subscription, event) gets exactly one delivery row, and the deliveries
survive restarts because they are rows, not memory.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat

from integrations.webhooks.tables import (
    CURSOR,
    DELIVERIES,
    OUTBOX,
    SUBSCRIPTIONS,
    Conn,
    ensure_cursor,
)
from integrations.webhooks.validation import matches_any
from projections.feed.projection import EVENTS as FEED_EVENTS
from projections.feed.queries import cloud_event

FORMAT = JSONFormat()


def body(municipality: str, row: asyncpg.Record) -> bytes:
    """The CloudEvent in structured JSON, exactly as ``GET /events`` shows it."""
    return bytes(to_structured(cloud_event(municipality, row), FORMAT).body)


async def step(
    conn: Conn, *, now: datetime, window: timedelta, batch: int = 500
) -> tuple[int, int]:
    """One step: (feed events read, deliveries offered). (0, 0) when there was nothing to
    do, or another process holds the cursor, or the feed is being rebuilt."""
    try:
        async with conn.transaction():
            position = await conn.fetchval(
                f"SELECT position FROM {CURSOR} WHERE name = $1 FOR UPDATE SKIP LOCKED", OUTBOX
            )
            if position is None:
                # Locked by another process, or the row is gone (an emptied table).
                await ensure_cursor(conn)
                return 0, 0
            events = await conn.fetch(
                f"SELECT position, municipality, id, type, subject, time, data"
                f" FROM {FEED_EVENTS} WHERE position > $1 ORDER BY position LIMIT $2",
                position,
                batch,
            )
            if not events:
                return 0, 0
            subscriptions = await conn.fetch(
                f"SELECT id, municipality, event_types, from_position FROM {SUBSCRIPTIONS}"
                " WHERE active"
            )
            records = []
            for event in events:
                targets = [
                    s["id"]
                    for s in subscriptions
                    if s["municipality"] == event["municipality"]
                    and event["position"] > s["from_position"]
                    and matches_any(s["event_types"], event["type"])
                ]
                if not targets:
                    continue
                payload = body(event["municipality"], event)
                records += [
                    (
                        target,
                        event["id"],
                        event["type"],
                        event["subject"],
                        event["position"],
                        payload,
                        now,
                        now + window,
                    )
                    for target in targets
                ]
            if records:
                await conn.executemany(
                    f"INSERT INTO {DELIVERIES} (subscription_id, event_id, event_type, subject,"
                    " position, body, status, created_at, next_attempt_at, give_up_after)"
                    " VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $7, $8)"
                    " ON CONFLICT (subscription_id, event_id) DO NOTHING",
                    records,
                )
            await conn.execute(
                f"UPDATE {CURSOR} SET position = $2, updated_at = now() WHERE name = $1",
                OUTBOX,
                events[-1]["position"],
            )
            return len(events), len(records)
    except asyncpg.UndefinedTableError:
        # The feed has not run here yet, or `tequio projections rebuild feed` dropped it:
        # its rows come back in order, and the cursor skips those already handled.
        return 0, 0
