"""How long the delivery log keeps what was delivered.

Every event a subscription wants becomes a row with the request's body, so the log
grows with the event store times the subscriptions. Delivered rows older than the
retention (``TEQUIO_WEBHOOK_KEEP_DAYS``) are deleted; rows still to be sent and
dead-lettered ones (they wait for an admin) are kept. Deleting a delivered row
never makes it be sent again: the outbox only moves forward (see ``outbox``).
"""

from __future__ import annotations

from datetime import datetime

from integrations.webhooks.tables import DELIVERIES, Conn, DeliveryStatus

# Rows deleted per statement: a large backlog is removed in short transactions.
CHUNK = 5_000


async def prune_delivered(conn: Conn, before: datetime) -> int:
    """Deletes the deliveries delivered before ``before``; how many."""
    removed = 0
    while True:
        status = await conn.execute(
            f"DELETE FROM {DELIVERIES} WHERE id IN (SELECT id FROM {DELIVERIES}"
            " WHERE status = $1 AND delivered_at < $2 LIMIT $3)",
            DeliveryStatus.DELIVERED.value,
            before,
            CHUNK,
        )
        count = int(status.split()[-1])
        removed += count
        if count < CHUNK:
            return removed
