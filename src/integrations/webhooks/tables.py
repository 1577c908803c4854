"""The webhook tables: subscriptions, the delivery log (the outbox), and its cursor.

Operational state, not history: plain tables next to the read models, created on
start (idempotent), never rebuilt from the event store (ADR 0013).
"""

from __future__ import annotations

from enum import Enum
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

SUBSCRIPTIONS = "webhook_subscriptions"
DELIVERIES = "webhook_deliveries"
CURSOR = "webhook_outbox_cursor"
REQUESTS = "webhook_requests"
OUTBOX = "outbox"  # the name of the one cursor row

# A connection, whether taken from a pool or not.
Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy


class DeliveryStatus(Enum):
    PENDING = "PENDING"  # not tried yet
    RETRYING = "RETRYING"  # failed at least once; tried again at next_attempt_at
    DELIVERED = "DELIVERED"
    DEAD_LETTERED = "DEAD_LETTERED"  # given up; an admin may send it again


# Deliveries still to be sent: they hold back later ones of the same aggregate.
OPEN = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)
OPEN_SQL = "('PENDING', 'RETRYING')"

DDL = (
    f"CREATE TABLE IF NOT EXISTS {SUBSCRIPTIONS} ("
    " id uuid PRIMARY KEY, municipality text NOT NULL, url text NOT NULL,"
    " event_types text[] NOT NULL, description text, active boolean NOT NULL,"
    # AES-GCM ciphertexts (secrets.SecretBox), never the secret itself.
    " secret bytea NOT NULL, previous_secret bytea, previous_secret_until timestamptz,"
    # Events at or below this position of the log came before the subscription.
    " from_position bigint NOT NULL,"
    " created_by text NOT NULL, created_at timestamptz NOT NULL,"
    " updated_at timestamptz NOT NULL, secret_rotated_at timestamptz)",
    f"CREATE INDEX IF NOT EXISTS {SUBSCRIPTIONS}_municipality_idx"
    f" ON {SUBSCRIPTIONS} (municipality, created_at)",
    f"CREATE TABLE IF NOT EXISTS {DELIVERIES} ("
    " id bigserial PRIMARY KEY,"
    f" subscription_id uuid NOT NULL REFERENCES {SUBSCRIPTIONS} (id) ON DELETE CASCADE,"
    " event_id text NOT NULL, event_type text NOT NULL, subject text NOT NULL,"
    " position bigint NOT NULL, body bytea NOT NULL, status text NOT NULL,"
    " attempts integer NOT NULL DEFAULT 0, redeliveries integer NOT NULL DEFAULT 0,"
    " created_at timestamptz NOT NULL, give_up_after timestamptz NOT NULL,"
    " next_attempt_at timestamptz, last_attempt_at timestamptz,"
    " last_status_code integer, last_error text,"
    " delivered_at timestamptz, dead_lettered_at timestamptz,"
    " lease_owner text, lease_until timestamptz,"
    # Exactly one delivery per (subscription, event), whoever enqueues it and however often.
    " UNIQUE (subscription_id, event_id))",
    f"CREATE INDEX IF NOT EXISTS {DELIVERIES}_due_idx ON {DELIVERIES} (next_attempt_at)"
    f" WHERE status IN {OPEN_SQL}",
    f"CREATE INDEX IF NOT EXISTS {DELIVERIES}_order_idx"
    f" ON {DELIVERIES} (subscription_id, subject, position) WHERE status IN {OPEN_SQL}",
    f"CREATE INDEX IF NOT EXISTS {DELIVERIES}_log_idx ON {DELIVERIES} (subscription_id, id)",
    f"CREATE INDEX IF NOT EXISTS {DELIVERIES}_dead_idx ON {DELIVERIES} (subscription_id)"
    " WHERE status = 'DEAD_LETTERED'",
    # What the retention deletes (integrations.webhooks.retention).
    f"CREATE INDEX IF NOT EXISTS {DELIVERIES}_delivered_idx ON {DELIVERIES} (delivered_at)"
    " WHERE status = 'DELIVERED'",
    f"CREATE TABLE IF NOT EXISTS {CURSOR} ("
    " name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL)",
    # Idempotency-Key of the admin mutations: the key's first request and its result.
    f"CREATE TABLE IF NOT EXISTS {REQUESTS} ("
    " municipality text NOT NULL, actor text NOT NULL, key text NOT NULL,"
    " fingerprint text NOT NULL, result_id text NOT NULL, at timestamptz NOT NULL,"
    " PRIMARY KEY (municipality, actor, key))",
)


async def create_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        # Two processes starting at once would collide on CREATE TABLE IF NOT EXISTS.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tequio.webhooks.ddl'))")
        for statement in DDL:
            await conn.execute(statement)
        await ensure_cursor(conn)


async def ensure_cursor(conn: Conn) -> None:
    await conn.execute(
        f"INSERT INTO {CURSOR} (name, position, updated_at) VALUES ($1, 0, now())"
        " ON CONFLICT (name) DO NOTHING",
        OUTBOX,
    )
