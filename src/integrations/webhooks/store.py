"""Subscriptions and the delivery log, as the admin sees and changes them (asyncpg).

Every method takes the municipality: a server manages only its own tenant's
subscriptions, even on a database shared with other servers. Secrets are returned
only by :meth:`WebhookStore.create`, :meth:`WebhookStore.rotate` and
:meth:`WebhookStore.secret` (for an idempotent replay of those two); rows never
carry them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from cases.clock import Clock, SystemClock
from cases.errors import ConflictError
from integrations.webhooks.backoff import DEFAULT_WINDOW
from integrations.webhooks.errors import WebhookConflict, WebhookNotFound
from integrations.webhooks.secrets import SecretBox
from integrations.webhooks.signing import new_secret
from integrations.webhooks.tables import (
    CURSOR,
    DELIVERIES,
    OPEN_SQL,
    OUTBOX,
    REQUESTS,
    SUBSCRIPTIONS,
    Conn,
    DeliveryStatus,
    create_tables,
    ensure_cursor,
)
from integrations.webhooks.validation import (
    check_description,
    check_event_types,
    check_grace_hours,
    check_url,
)
from projections.runtime import EVENTS_TABLE

Row = dict[str, Any]

SUBSCRIPTION_COLUMNS = (
    "id, municipality, url, event_types, description, active, created_by, created_at,"
    " updated_at, secret_rotated_at, previous_secret_until"
)
DELIVERY_COLUMNS = (
    "d.id, d.subscription_id, d.event_id, d.event_type, d.subject, d.position, d.status,"
    " d.attempts, d.redeliveries, d.created_at, d.next_attempt_at, d.last_attempt_at,"
    " d.last_status_code, d.last_error, d.delivered_at, d.dead_lettered_at"
)


def fingerprint(operation: str, params: dict[str, Any]) -> str:
    """What an Idempotency-Key's first request asked for."""
    text = json.dumps([operation, params], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _delivery_id(value: str) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


@dataclass
class Operation:
    """One admin change in one transaction; ``replay`` is the first result's id when the
    Idempotency-Key was already used for the same request."""

    conn: Conn
    replay: str | None
    result_id: str | None = None


@dataclass(frozen=True)
class DeliveryPage:
    rows: list[Row] = field(default_factory=list)
    total_count: int = 0
    has_next_page: bool = False


class WebhookStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        box: SecretBox,
        *,
        production: bool,
        clock: Clock | None = None,
        retry_window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        self._pool = pool
        self._box = box
        self._production = production
        self._clock = clock or SystemClock()
        self._window = retry_window

    async def create_tables(self) -> None:
        await create_tables(self._pool)

    def now(self) -> datetime:
        return self._clock.now()

    # -- one change, once per Idempotency-Key ------------------------------------------

    @asynccontextmanager
    async def operation(
        self, municipality: str, actor: str, key: str | None, request: str
    ) -> AsyncIterator[Operation]:
        """A transaction for one change. With ``key``, the key's first request with the
        same ``request`` fingerprint is replayed (``replay`` set) instead of changing
        anything again; another request under that key is a ConflictError."""
        async with self._pool.acquire() as conn, conn.transaction():
            replay = None
            if key is not None:
                # Two retries racing with one key: the second waits and then replays.
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1))",
                    f"tequio.webhooks/{municipality}/{actor}/{key}",
                )
                row = await conn.fetchrow(
                    f"SELECT fingerprint, result_id FROM {REQUESTS}"
                    " WHERE municipality = $1 AND actor = $2 AND key = $3",
                    municipality,
                    actor,
                    key,
                )
                if row is not None:
                    if row["fingerprint"] != request:
                        raise ConflictError("idempotency_key_reused", key=key.partition("#")[0])
                    replay = row["result_id"]
            operation = Operation(conn, replay)
            yield operation
            if key is not None and replay is None and operation.result_id is not None:
                await conn.execute(
                    f"INSERT INTO {REQUESTS} (municipality, actor, key, fingerprint,"
                    " result_id, at) VALUES ($1, $2, $3, $4, $5, $6)",
                    municipality,
                    actor,
                    key,
                    request,
                    operation.result_id,
                    self.now(),
                )

    # -- subscriptions ------------------------------------------------------------------

    async def create(
        self,
        conn: Conn,
        municipality: str,
        actor: str,
        *,
        url: str,
        event_types: Sequence[str],
        description: str | None,
    ) -> tuple[Row, str]:
        """A new active subscription and its secret (shown to the caller once)."""
        url = check_url(url, production=self._production)
        types = check_event_types(event_types)
        description = check_description(description)
        # Holding the outbox cursor's lock while the log's head is read: every outbox step
        # after this one sees the subscription, and every step before it handled only
        # events at or below that head, so the subscription gets exactly the events
        # recorded after it (ADR 0013).
        await ensure_cursor(conn)
        await conn.execute(f"SELECT 1 FROM {CURSOR} WHERE name = $1 FOR UPDATE", OUTBOX)
        head = 0
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", EVENTS_TABLE):
            head = await conn.fetchval(
                f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"
            )
        secret = new_secret()
        now = self.now()
        row = await conn.fetchrow(
            f"INSERT INTO {SUBSCRIPTIONS} (id, municipality, url, event_types, description,"
            " active, secret, from_position, created_by, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7, $8, $9, $9)"
            f" RETURNING {SUBSCRIPTION_COLUMNS}",
            uuid.uuid4(),
            municipality,
            url,
            types,
            description,
            self._box.seal(secret),
            head,
            actor,
            now,
        )
        assert row is not None  # INSERT ... RETURNING
        return dict(row), secret

    async def get(
        self, municipality: str, subscription_id: str, conn: Conn | None = None
    ) -> Row | None:
        sid = _uuid(subscription_id)
        if sid is None:
            return None
        sql = (
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM {SUBSCRIPTIONS}"
            " WHERE id = $1 AND municipality = $2"
        )
        if conn is not None:
            row = await conn.fetchrow(sql, sid, municipality)
        else:
            row = await self._pool.fetchrow(sql, sid, municipality)
        return dict(row) if row else None

    async def list(self, municipality: str) -> list[Row]:
        rows = await self._pool.fetch(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM {SUBSCRIPTIONS} WHERE municipality = $1"
            " ORDER BY created_at, id",
            municipality,
        )
        return [dict(r) for r in rows]

    async def update(
        self,
        conn: Conn,
        municipality: str,
        subscription_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        active: bool | None = None,
    ) -> Row:
        """Changes what is given; takes effect for events the outbox handles after it."""
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = check_url(url, production=self._production)
        if event_types is not None:
            changes["event_types"] = check_event_types(event_types)
        if description is not None:
            changes["description"] = check_description(description)
        if active is not None:
            changes["active"] = active
        sid = self._require_uuid(subscription_id)
        values: list[Any] = [sid, municipality, self.now()]
        sets = ["updated_at = $3"]
        for column, value in changes.items():
            values.append(value)
            sets.append(f"{column} = ${len(values)}")
        row = await conn.fetchrow(
            f"UPDATE {SUBSCRIPTIONS} SET {', '.join(sets)}"
            f" WHERE id = $1 AND municipality = $2 RETURNING {SUBSCRIPTION_COLUMNS}",
            *values,
        )
        if row is None:
            raise WebhookNotFound("webhook_not_found", id=subscription_id)
        return dict(row)

    async def rotate(
        self,
        conn: Conn,
        municipality: str,
        subscription_id: str,
        *,
        keep_previous_hours: int = 24,
    ) -> tuple[Row, str]:
        """A new secret; the old one still signs (a second signature) for the given hours,
        so the receiver can switch without losing a message."""
        hours = check_grace_hours(keep_previous_hours)
        sid = self._require_uuid(subscription_id)
        secret = new_secret()
        now = self.now()
        until = now + timedelta(hours=hours) if hours else None
        row = await conn.fetchrow(
            f"UPDATE {SUBSCRIPTIONS} SET secret = $3,"
            " previous_secret = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret END,"
            " previous_secret_until = $4, secret_rotated_at = $5, updated_at = $5"
            f" WHERE id = $1 AND municipality = $2 RETURNING {SUBSCRIPTION_COLUMNS}",
            sid,
            municipality,
            self._box.seal(secret),
            until,
            now,
        )
        if row is None:
            raise WebhookNotFound("webhook_not_found", id=subscription_id)
        return dict(row), secret

    async def secret(
        self, municipality: str, subscription_id: str, conn: Conn | None = None
    ) -> str:
        """The current secret: only to replay the answer of a create or a rotation."""
        sid = self._require_uuid(subscription_id)
        sql = f"SELECT secret FROM {SUBSCRIPTIONS} WHERE id = $1 AND municipality = $2"
        sealed = await (conn or self._pool).fetchval(sql, sid, municipality)
        if sealed is None:
            raise WebhookNotFound("webhook_not_found", id=subscription_id)
        return self._box.open(sealed)

    async def delete(self, conn: Conn, municipality: str, subscription_id: str) -> str:
        """Deletes the subscription and its delivery log; nothing more is sent to it."""
        sid = self._require_uuid(subscription_id)
        deleted = await conn.fetchval(
            f"DELETE FROM {SUBSCRIPTIONS} WHERE id = $1 AND municipality = $2 RETURNING id",
            sid,
            municipality,
        )
        if deleted is None:
            raise WebhookNotFound("webhook_not_found", id=subscription_id)
        return str(deleted)

    def _require_uuid(self, subscription_id: str) -> uuid.UUID:
        sid = _uuid(subscription_id)
        if sid is None:
            raise WebhookNotFound("webhook_not_found", id=str(subscription_id)[:60])
        return sid

    # -- the delivery log ---------------------------------------------------------------

    async def deliveries(
        self,
        subscription_id: str,
        *,
        status: DeliveryStatus | None = None,
        first: int = 50,
        after: int | None = None,
    ) -> DeliveryPage:
        """Newest first. ``after`` is the id of the last delivery of the previous page."""
        sid = _uuid(subscription_id)
        if sid is None:
            return DeliveryPage()
        where = ["d.subscription_id = $1"]
        values: list[Any] = [sid]
        if status is not None:
            values.append(status.value)
            where.append(f"d.status = ${len(values)}")
        total = await self._pool.fetchval(
            f"SELECT count(*) FROM {DELIVERIES} d WHERE {' AND '.join(where)}", *values
        )
        if after is not None:
            values.append(after)
            where.append(f"d.id < ${len(values)}")
        values.append(first + 1)
        rows = await self._pool.fetch(
            f"SELECT {DELIVERY_COLUMNS} FROM {DELIVERIES} d WHERE {' AND '.join(where)}"
            f" ORDER BY d.id DESC LIMIT ${len(values)}",
            *values,
        )
        return DeliveryPage(
            rows=[dict(r) for r in rows[:first]],
            total_count=int(total or 0),
            has_next_page=len(rows) > first,
        )

    async def delivery(
        self, municipality: str, delivery_id: str, conn: Conn | None = None
    ) -> Row | None:
        did = _delivery_id(delivery_id)
        if did is None:
            return None
        row = await (conn or self._pool).fetchrow(
            f"SELECT {DELIVERY_COLUMNS} FROM {DELIVERIES} d JOIN {SUBSCRIPTIONS} s"
            " ON s.id = d.subscription_id WHERE d.id = $1 AND s.municipality = $2",
            did,
            municipality,
        )
        return dict(row) if row else None

    async def redeliver(self, conn: Conn, municipality: str, delivery_id: str) -> Row:
        """Queues a delivered or dead-lettered delivery again, with a fresh retry window."""
        current = await self.delivery(municipality, delivery_id, conn)
        if current is None:
            raise WebhookNotFound("webhook_delivery_not_found", id=str(delivery_id)[:60])
        now = self.now()
        row = await conn.fetchrow(
            f"UPDATE {DELIVERIES} d SET status = 'PENDING', attempts = 0,"
            " redeliveries = redeliveries + 1, next_attempt_at = $2, give_up_after = $3,"
            " delivered_at = NULL, dead_lettered_at = NULL, lease_owner = NULL,"
            " lease_until = NULL"
            f" WHERE d.id = $1 AND d.status NOT IN {OPEN_SQL} RETURNING {DELIVERY_COLUMNS}",
            current["id"],
            now,
            now + self._window,
        )
        if row is None:
            raise WebhookConflict("webhook_delivery_open", id=str(current["id"]))
        return dict(row)

    # -- for /metrics -------------------------------------------------------------------

    async def counts(self) -> Row:
        """``{pending, dead_lettered, oldest_pending_seconds}`` over every subscription."""
        if not await self._pool.fetchval("SELECT to_regclass($1) IS NOT NULL", DELIVERIES):
            return {"pending": 0, "dead_lettered": 0, "oldest_pending_seconds": 0.0}
        row = await self._pool.fetchrow(
            f"SELECT count(*) FILTER (WHERE status IN {OPEN_SQL}) AS pending,"
            " count(*) FILTER (WHERE status = 'DEAD_LETTERED') AS dead_lettered,"
            f" min(created_at) FILTER (WHERE status IN {OPEN_SQL}) AS oldest"
            f" FROM {DELIVERIES} WHERE status IN ('PENDING', 'RETRYING', 'DEAD_LETTERED')"
        )
        assert row is not None  # an aggregate always has a row
        oldest = row["oldest"]
        age = max(0.0, (self.now() - oldest).total_seconds()) if oldest else 0.0
        return {
            "pending": int(row["pending"]),
            "dead_lettered": int(row["dead_lettered"]),
            "oldest_pending_seconds": age,
        }
