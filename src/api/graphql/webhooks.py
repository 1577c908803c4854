"""Webhook subscriptions and their delivery log, for admins (``integrations.webhooks``).

Merged into the schema's Query and Mutation (``schema.py``). Every operation is the
admin's: the policy module decides (``policy.MUTATIONS``, ``require_webhook_admin``).
A signing secret is in an answer only when it is made: by ``createWebhookSubscription``
and ``rotateWebhookSecret`` (and by an idempotent replay of either).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from api import policy
from api.errors import ApiError
from api.graphql.idempotency import field_position, scoped_key
from api.graphql.types import PageInfo, local_time
from integrations.webhooks.errors import WebhookError
from integrations.webhooks.store import WebhookStore, fingerprint
from integrations.webhooks.tables import Conn, DeliveryStatus
from projections.pages import decode_cursor, encode_cursor

ID = strawberry.ID
T = TypeVar("T")
Row = dict[str, Any]

MAX_PAGE = 500
CURSOR_KIND = "webhook_delivery"

WebhookDeliveryStatus = strawberry.enum(
    DeliveryStatus,
    name="WebhookDeliveryStatus",
    description="PENDING: not tried yet. RETRYING: failed, tried again at nextAttemptAt. "
    "DELIVERED: the receiver answered 2xx. DEAD_LETTERED: given up after the retry window; "
    "redeliverWebhook sends it again.",
)


def _store(info: Info) -> WebhookStore:
    store: WebhookStore = info.context.request.app.state.webhooks
    return store


def _at(info: Info, at: datetime | None) -> datetime | None:
    return None if at is None else local_time(info, at)


@strawberry.type(description="One event to be sent, or sent, to one subscription.")
class WebhookDelivery:
    id: ID
    subscription_id: ID
    event_id: str = strawberry.field(description="The CloudEvent id, sent as webhook-id.")
    event_type: str
    subject: str
    status: WebhookDeliveryStatus  # type: ignore[valid-type]
    attempts: int = strawberry.field(description="Attempts since it was (re)queued.")
    redeliveries: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    dead_lettered_at: datetime | None

    @classmethod
    def from_row(cls, info: Info, row: Row) -> WebhookDelivery:
        return cls(
            id=ID(str(row["id"])),
            subscription_id=ID(str(row["subscription_id"])),
            event_id=row["event_id"],
            event_type=row["event_type"],
            subject=row["subject"],
            status=DeliveryStatus(row["status"]),
            attempts=row["attempts"],
            redeliveries=row["redeliveries"],
            last_status_code=row["last_status_code"],
            last_error=row["last_error"],
            created_at=local_time(info, row["created_at"]),
            last_attempt_at=_at(info, row["last_attempt_at"]),
            next_attempt_at=_at(info, row["next_attempt_at"]),
            delivered_at=_at(info, row["delivered_at"]),
            dead_lettered_at=_at(info, row["dead_lettered_at"]),
        )


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="Where Tequio POSTs the feed's events, signed (Standard Webhooks).")
class WebhookSubscription:
    id: ID
    url: str
    event_types: list[str] = strawberry.field(
        description="Feed types; '*' is every type, and a prefix ending in '.*' "
        "(mx.tequio.case.*) every type that starts with it."
    )
    description: str | None
    active: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="Until then, deliveries also carry a signature made with the "
        "secret before the last rotation."
    )

    @classmethod
    def from_row(cls, info: Info, row: Row) -> WebhookSubscription:
        until = row["previous_secret_until"]
        if until is not None and until <= _store(info).now():
            until = None
        return cls(
            id=ID(str(row["id"])),
            url=row["url"],
            event_types=list(row["event_types"]),
            description=row["description"],
            active=row["active"],
            created_by=row["created_by"],
            created_at=local_time(info, row["created_at"]),
            updated_at=local_time(info, row["updated_at"]),
            secret_rotated_at=_at(info, row["secret_rotated_at"]),
            previous_secret_expires_at=_at(info, until),
        )

    @strawberry.field(description="The delivery log, newest first.")
    async def deliveries(
        self,
        info: Info,
        status: WebhookDeliveryStatus | None = None,  # type: ignore[valid-type]
        first: int = 50,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        if not 0 <= first <= MAX_PAGE:
            raise ApiError("BAD_USER_INPUT", "page_size_out_of_range", max=MAX_PAGE, first=first)
        last_id = None
        if after is not None:
            try:
                (value,) = decode_cursor(CURSOR_KIND, after, 1)
                if not (value.isascii() and value.isdigit() and len(value) < 19):
                    raise ValueError(value)
                last_id = int(value)
            except ValueError:
                raise ApiError("BAD_USER_INPUT", "bad_cursor", cursor=after[:60]) from None
        page = await _store(info).deliveries(self.id, status=status, first=first, after=last_id)
        edges = [
            WebhookDeliveryEdge(
                cursor=encode_cursor(CURSOR_KIND, str(row["id"])),
                node=WebhookDelivery.from_row(info, row),
            )
            for row in page.rows
        ]
        return WebhookDeliveryConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total_count,
        )


@strawberry.type(description="A subscription and its signing secret, shown this once.")
class WebhookSubscriptionSecret:
    subscription: WebhookSubscription
    secret: str = strawberry.field(
        description="whsec_ and the base64 of the key: keep it; it is not shown again."
    )


# -- running one change ------------------------------------------------------------------


async def _change(
    info: Info,
    mutation: str,
    params: dict[str, Any],
    change: Callable[[WebhookStore, Conn], Awaitable[str]],
    answer: Callable[[WebhookStore, Conn, str], Awaitable[T]],
) -> T:
    """Authorises, runs ``change`` (which returns the id of what it changed) once per
    Idempotency-Key, and answers from that id in the same transaction."""
    ctx = info.context
    policy.require_mutation(ctx.caller, mutation)
    store = _store(info)
    path = str(info.path.key)
    key = scoped_key(ctx.idempotency_key, field_position(info))
    try:
        async with store.operation(
            ctx.municipality, ctx.caller.actor, key, fingerprint(mutation, params)
        ) as op:
            if op.replay is not None:
                ctx.response_extensions.setdefault("idempotentReplays", []).append(path)
                result_id = op.replay
            else:
                result_id = await change(store, op.conn)
                op.result_id = result_id
            return await answer(store, op.conn, result_id)
    except WebhookError as error:
        raise ApiError(error.code, error.key, **error.params) from None


def _read(info: Info, refused: str = "webhook_not_found") -> Any:
    async def answer(store: WebhookStore, conn: Conn, sid: str) -> Any:
        row = await store.get(info.context.municipality, sid, conn)
        if row is None:  # deleted since the replayed request
            raise ApiError("NOT_FOUND", refused, id=sid)
        return WebhookSubscription.from_row(info, row)

    return answer


def _with_secret(info: Info) -> Any:
    async def answer(store: WebhookStore, conn: Conn, sid: str) -> WebhookSubscriptionSecret:
        subscription = await _read(info)(store, conn, sid)
        secret = await store.secret(info.context.municipality, sid, conn)
        return WebhookSubscriptionSecret(subscription=subscription, secret=secret)

    return answer


# -- the operations ---------------------------------------------------------------------


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Every webhook subscription of this municipality (admin).")
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscription]:
        policy.require_webhook_admin(info.context.caller, "webhookSubscriptions")
        rows = await _store(info).list(info.context.municipality)
        return [WebhookSubscription.from_row(info, r) for r in rows]

    @strawberry.field(description="One webhook subscription and its delivery log (admin).")
    async def webhook_subscription(self, info: Info, id: ID) -> WebhookSubscription | None:
        policy.require_webhook_admin(info.context.caller, "webhookSubscription")
        row = await _store(info).get(info.context.municipality, str(id))
        return WebhookSubscription.from_row(info, row) if row else None


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Registers a receiver of the given event types; the answer holds its "
        "signing secret, shown only this once."
    )
    async def create_webhook_subscription(
        self, info: Info, url: str, event_types: list[str], description: str | None = None
    ) -> WebhookSubscriptionSecret:
        municipality, actor = info.context.municipality, info.context.caller.actor

        async def change(store: WebhookStore, conn: Conn) -> str:
            row, _ = await store.create(
                conn,
                municipality,
                actor,
                url=url,
                event_types=event_types,
                description=description,
            )
            return str(row["id"])

        params = {"url": url, "event_types": event_types, "description": description}
        return await _change(info, "createWebhookSubscription", params, change, _with_secret(info))

    @strawberry.mutation(
        description="Changes what is given. Applies to events handled from now on; "
        "while inactive, no new events are queued and queued ones wait."
    )
    async def update_webhook_subscription(
        self,
        info: Info,
        id: ID,
        url: str | None = None,
        event_types: list[str] | None = None,
        description: str | None = None,
        active: bool | None = None,
    ) -> WebhookSubscription:
        municipality = info.context.municipality

        async def change(store: WebhookStore, conn: Conn) -> str:
            row = await store.update(
                conn,
                municipality,
                str(id),
                url=url,
                event_types=event_types,
                description=description,
                active=active,
            )
            return str(row["id"])

        params = {
            "id": str(id),
            "url": url,
            "event_types": event_types,
            "description": description,
            "active": active,
        }
        result: WebhookSubscription = await _change(
            info, "updateWebhookSubscription", params, change, _read(info)
        )
        return result

    @strawberry.mutation(
        description="A new signing secret, shown only this once. The previous one still "
        "signs (a second signature) for keepPreviousForHours, 0 to 168."
    )
    async def rotate_webhook_secret(
        self, info: Info, id: ID, keep_previous_for_hours: int = 24
    ) -> WebhookSubscriptionSecret:
        municipality = info.context.municipality

        async def change(store: WebhookStore, conn: Conn) -> str:
            row, _ = await store.rotate(
                conn, municipality, str(id), keep_previous_hours=keep_previous_for_hours
            )
            return str(row["id"])

        params = {"id": str(id), "keep": keep_previous_for_hours}
        return await _change(info, "rotateWebhookSecret", params, change, _with_secret(info))

    @strawberry.mutation(description="Deletes the subscription and its delivery log.")
    async def delete_webhook_subscription(self, info: Info, id: ID) -> ID:
        municipality = info.context.municipality

        async def change(store: WebhookStore, conn: Conn) -> str:
            return await store.delete(conn, municipality, str(id))

        async def answer(store: WebhookStore, conn: Conn, sid: str) -> ID:
            return ID(sid)

        return await _change(info, "deleteWebhookSubscription", {"id": str(id)}, change, answer)

    @strawberry.mutation(
        description="Sends a delivered or dead-lettered delivery again, with a fresh retry window."
    )
    async def redeliver_webhook(self, info: Info, delivery_id: ID) -> WebhookDelivery:
        municipality = info.context.municipality

        async def change(store: WebhookStore, conn: Conn) -> str:
            row = await store.redeliver(conn, municipality, str(delivery_id))
            return str(row["id"])

        async def answer(store: WebhookStore, conn: Conn, did: str) -> WebhookDelivery:
            row = await store.delivery(municipality, did, conn)
            if row is None:
                raise ApiError("NOT_FOUND", "webhook_delivery_not_found", id=did)
            return WebhookDelivery.from_row(info, row)

        params = {"delivery_id": str(delivery_id)}
        return await _change(info, "redeliverWebhook", params, change, answer)
