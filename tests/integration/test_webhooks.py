"""Webhooks against the real database: the outbox, the dispatcher, its schedule and order.

The feed read model runs for real (from events written through the application); the
receivers are in-process ``httpx.MockTransport`` handlers, and the dispatcher's clock
is a ``FixedClock`` moved by hand, so a day of retries takes no time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from base64 import b64decode
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from projection_helpers import MUNICIPALITY, REPORTER, build_week, env_for
from standardwebhooks import Webhook

from cases.application import CommandContext, TequioApplication
from cases.clock import FixedClock
from cases.values import GovernmentLevel, Priority, Theme
from integrations.webhooks.backoff import Backoff
from integrations.webhooks.config import WebhookConfig
from integrations.webhooks.dispatcher import BackgroundWebhooks, WebhookService
from integrations.webhooks.errors import InvalidWebhook, WebhookConflict
from integrations.webhooks.secrets import SecretBox
from integrations.webhooks.signing import headers, new_secret, signature
from integrations.webhooks.store import WebhookStore
from integrations.webhooks.validation import check_description, check_event_types, check_url
from projections.feed.types import EVENT_TYPES
from projections.runtime import ProjectionService
from tequio.database import ConnectionInfo

BOX = SecretBox(None)
RECEIVER = "https://receptor.example.org/tequio"


# -- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def feed(db: ConnectionInfo) -> Iterator[ProjectionService]:
    service = ProjectionService(env_for(db), ["feed"], check_interval=0.1)
    service.start()
    yield service
    service.stop()


@pytest.fixture
def now() -> FixedClock:
    # Real time, so that the signatures' timestamps pass a receiver's freshness check.
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def store(pool: asyncpg.Pool, now: FixedClock) -> WebhookStore:
    created = WebhookStore(pool, BOX, production=False, clock=now)
    await created.create_tables()
    return created


class Receiver:
    """Answers each POST with ``answer(request)`` (a status code) and keeps what came."""

    def __init__(self, answer: Callable[[httpx.Request], int] = lambda _: 204) -> None:
        self.answer = answer
        self.received: list[httpx.Request] = []
        self.accepted: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        await asyncio.sleep(0)  # lets concurrent dispatchers interleave
        self.received.append(request)
        status = self.answer(request)
        if 200 <= status < 300:
            self.accepted.append(request)
        return httpx.Response(status)

    def ids(self, accepted: bool = True) -> list[str]:
        return [r.headers["webhook-id"] for r in (self.accepted if accepted else self.received)]


@pytest.fixture
async def services(db: ConnectionInfo, now: FixedClock) -> AsyncIterator[Callable[..., Any]]:
    started: list[WebhookService] = []

    async def make(receiver: Receiver, **config: Any) -> WebhookService:
        settings = {"clock": now, "backoff": Backoff(random=lambda: 0.5), **config}
        service = WebhookService(
            db.url(), BOX, WebhookConfig(**settings), transport=httpx.MockTransport(receiver)
        )
        # The tests drive it by hand (run_once): no background loop to race them.
        await service.start(loop=False)
        started.append(service)
        return service

    yield make
    for service in started:
        await service.stop()


async def subscribe(store: WebhookStore, types: list[str], url: str = RECEIVER) -> tuple[Any, str]:
    async with store.operation(MUNICIPALITY, "admin", None, "") as op:
        row, secret = await store.create(
            op.conn, MUNICIPALITY, "admin", url=url, event_types=types, description=None
        )
    return row, secret


async def deliveries(pool: asyncpg.Pool, **where: Any) -> list[dict[str, Any]]:
    clauses = " AND ".join(f"{k} = ${i}" for i, k in enumerate(where, 1)) or "TRUE"
    rows = await pool.fetch(
        f"SELECT * FROM webhook_deliveries WHERE {clauses} ORDER BY position, subscription_id",
        *where.values(),
    )
    return [dict(r) for r in rows]


async def caught_up(app: TequioApplication, feed: ProjectionService) -> None:
    head = app.recorder.max_notification_id()
    assert await asyncio.to_thread(feed.wait, head, 20.0)


def feed_rows(db: ConnectionInfo) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(db.url(), row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT position, id, type, subject FROM feed_events ORDER BY position"
        ).fetchall()


# -- signatures and secrets ---------------------------------------------------------------


def test_signature_is_the_standard_webhooks_one() -> None:
    # The test vector of the Standard Webhooks specification's reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )

    # And the reference verifier accepts our headers, with one secret or two (rotation).
    fresh, old = new_secret(), new_secret()
    stamp = int(datetime.now(UTC).timestamp())
    signed = headers("case/abc/1", stamp, body, [fresh, old])
    assert signed["content-type"] == "application/json"
    assert len(signed["webhook-signature"].split(" ")) == 2
    assert Webhook(fresh).verify(body, signed) == {"test": 2432232314}
    assert Webhook(old).verify(body, signed) == {"test": 2432232314}
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, signed)
    with pytest.raises(Exception, match="signature"):
        Webhook(fresh).verify(body + b" ", signed)


async def test_secret_is_shown_once_and_stored_encrypted(
    store: WebhookStore, pool: asyncpg.Pool
) -> None:
    row, secret = await subscribe(store, ["*"])
    assert secret.startswith("whsec_")
    assert len(b64decode(secret.removeprefix("whsec_"))) >= 24
    assert "secret" not in row and all(secret not in str(v) for v in row.values())

    stored = bytes(await pool.fetchval("SELECT secret FROM webhook_subscriptions"))
    key = b64decode(secret.removeprefix("whsec_"))
    assert secret.encode() not in stored and key not in stored
    assert BOX.open(stored) == secret
    # Without the cipher key the dump opens nothing.
    with pytest.raises(Exception):  # noqa: B017 - whatever the cipher raises
        SecretBox("b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXkhIQ==").open(stored)

    # Rotation: a new secret, the old one kept (as ciphertext) for the grace period.
    async with store.operation(MUNICIPALITY, "admin", None, "") as op:
        rotated, again = await store.rotate(op.conn, MUNICIPALITY, str(row["id"]))
    assert again != secret and again.startswith("whsec_")
    assert rotated["previous_secret_until"] == store.now() + timedelta(hours=24)
    previous = bytes(await pool.fetchval("SELECT previous_secret FROM webhook_subscriptions"))
    assert BOX.open(previous) == secret


def test_urls_and_event_types_are_checked() -> None:
    assert check_url("https://c5.cdmx.gob.mx/hooks/tequio?x=1", production=True)
    assert check_url("http://127.0.0.1:8080/hook", production=False)
    assert check_url("http://localhost/hook", production=False)
    refused = [
        ("http://c5.cdmx.gob.mx/hook", False, "webhook_url_https_required"),
        ("http://127.0.0.1:8080/hook", True, "webhook_url_https_required"),
        ("ftp://c5.cdmx.gob.mx/", False, "webhook_url_invalid"),
        ("https:///no-host", False, "webhook_url_invalid"),
        ("https://c5.cdmx.gob.mx:99999/", False, "webhook_url_invalid"),
        ("https://c5.cdmx.gob.mx/a b", False, "webhook_url_invalid"),
        ("https://user:pw@c5.cdmx.gob.mx/", False, "webhook_url_credentials"),
        ("https://c5.cdmx.gob.mx/" + "a" * 2000, False, "webhook_url_too_long"),
    ]
    for url, production, key in refused:
        with pytest.raises(InvalidWebhook) as caught:
            check_url(url, production=production)
        assert caught.value.key == key, url

    assert check_event_types(["*"]) == ["*"]
    assert check_event_types(["mx.tequio.case.*", "mx.tequio.case.*", EVENT_TYPES[0]]) == [
        "mx.tequio.case.*",
        EVENT_TYPES[0],
    ]
    for types in ([], ["mx.tequio.case.raised"], ["mx.tequio.cas.*"], ["case.*"], ["*.v1"]):
        with pytest.raises(InvalidWebhook):
            check_event_types(types)

    assert check_description("Tablero del C5\nturno nocturno") == "Tablero del C5\nturno nocturno"
    for description, key in (
        ("a\u0007b", "webhook_description_control"),
        ("x" * 501, "webhook_description_too_long"),
    ):
        with pytest.raises(InvalidWebhook) as caught:
            check_description(description)
        assert caught.value.key == key


# -- the outbox -----------------------------------------------------------------------------


async def test_outbox_makes_exactly_one_delivery_per_subscription_and_event(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    store: WebhookStore,
    feed: ProjectionService,
    services: Callable[..., Any],
    now: FixedClock,
) -> None:
    early = app.add_agency(ctx, agency_id="dif", name="DIF", level=GovernmentLevel.STATE)
    await caught_up(app, feed)
    everything, _ = await subscribe(store, ["*"])
    cases, _ = await subscribe(store, ["mx.tequio.case.*", "mx.tequio.commitment.made.v1"])
    build_week(app, ctx)
    await caught_up(app, feed)

    receiver = Receiver()
    first, second = await services(receiver, batch=7), await services(receiver, batch=7)
    # Two processes at once, then again and again: nothing more.
    await asyncio.gather(first.pump(), second.pump(), first.pump(), second.pump())
    await first.pump()
    made = await deliveries(pool)
    # A re-run from an old cursor (a restored backup, a bug) still adds nothing.
    await pool.execute("UPDATE webhook_outbox_cursor SET position = 0")
    await asyncio.gather(first.pump(), second.pump())
    assert await deliveries(pool) == made

    rows = [r for r in feed_rows(db) if r["position"] > early.notification_id]
    assert [d["event_id"] for d in made if d["subscription_id"] == everything["id"]] == [
        r["id"] for r in rows
    ]
    chosen = [
        r["id"]
        for r in rows
        if r["type"].startswith("mx.tequio.case.") or r["type"] == "mx.tequio.commitment.made.v1"
    ]
    assert [d["event_id"] for d in made if d["subscription_id"] == cases["id"]] == chosen
    # The agency added before the subscriptions existed is nobody's.
    assert not any(d["event_id"] == "agency/dif/1" for d in made)

    # What is sent is the feed's CloudEvent: no cabinet material, no reporter.
    bodies = [bytes(d["body"]).decode() for d in made]
    assert all(json.loads(b)["specversion"] == "1.0" for b in bodies)
    dumped = "\n".join(bodies)
    for value in REPORTER.values():
        assert value not in dumped
    assert "gabinete-teotongo" not in dumped and "Patrullajes" not in dumped

    # Sent once each, in log order, whichever process sends.
    await asyncio.gather(first.run_once(), second.run_once())
    assert sorted(receiver.ids()) == sorted(d["event_id"] for d in made)
    assert len(receiver.received) == len(made)
    assert {d["status"] for d in await deliveries(pool)} == {"DELIVERED"}


async def test_inactive_and_deleted_subscriptions_get_nothing_new(
    app: TequioApplication,
    ctx: CommandContext,
    pool: asyncpg.Pool,
    store: WebhookStore,
    feed: ProjectionService,
    services: Callable[..., Any],
) -> None:
    paused, _ = await subscribe(store, ["*"])
    gone, _ = await subscribe(store, ["*"])
    async with store.operation(MUNICIPALITY, "admin", None, "") as op:
        await store.update(op.conn, MUNICIPALITY, str(paused["id"]), active=False)
        await store.delete(op.conn, MUNICIPALITY, str(gone["id"]))
    app.add_agency(ctx, agency_id="dif", name="DIF", level=GovernmentLevel.STATE)
    await caught_up(app, feed)
    receiver = Receiver()
    await (await services(receiver)).run_once()
    assert await deliveries(pool) == [] and receiver.received == []


# -- the dispatcher ---------------------------------------------------------------------------


async def test_a_failing_receiver_is_retried_for_a_day_then_dead_lettered(
    app: TequioApplication,
    ctx: CommandContext,
    pool: asyncpg.Pool,
    store: WebhookStore,
    feed: ProjectionService,
    services: Callable[..., Any],
    now: FixedClock,
) -> None:
    row, _ = await subscribe(store, ["mx.tequio.agency.added.v1"])
    app.add_agency(ctx, agency_id="dif", name="DIF", level=GovernmentLevel.STATE)
    await caught_up(app, feed)
    receiver = Receiver(lambda _: 500)
    service = await services(receiver)  # the default schedule, jitter pinned to none
    start = now.now()
    await service.run_once()
    attempts = [start]
    while True:
        (delivery,) = await deliveries(pool)
        if delivery["status"] == "DEAD_LETTERED":
            break
        assert delivery["status"] == "RETRYING"
        assert delivery["last_status_code"] == 500 and delivery["last_error"] == "HTTP 500"
        # Not due a moment before its time...
        now.set(delivery["next_attempt_at"] - timedelta(seconds=1))
        await service.run_once()
        assert len(receiver.received) == len(attempts)
        # ...and tried at its time.
        now.set(delivery["next_attempt_at"])
        await service.run_once()
        attempts.append(now.now())
        assert len(receiver.received) == len(attempts) < 40

    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[:8] == [
        timedelta(seconds=5),
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=3),
    ]
    assert set(gaps[8:]) == {timedelta(hours=3)}
    assert attempts[-1] - attempts[0] >= timedelta(hours=24)
    assert attempts[-2] - attempts[0] < timedelta(hours=24)  # not a retry more than needed
    assert delivery["attempts"] == len(attempts)
    assert delivery["dead_lettered_at"] == attempts[-1]
    assert delivery["next_attempt_at"] is None
    counts = await store.counts()
    assert counts["dead_lettered"] == 1 and counts["pending"] == 0

    # Dead-lettered stays put, until an admin sends it again.
    now.advance(timedelta(days=2))
    await service.run_once()
    assert len(receiver.received) == len(attempts)
    receiver.answer = lambda _: 200
    async with store.operation(MUNICIPALITY, "admin", None, "") as op:
        again = await store.redeliver(op.conn, MUNICIPALITY, str(delivery["id"]))
    assert again["status"] == "PENDING" and again["attempts"] == 0
    assert again["redeliveries"] == 1
    await service.run_once()
    (delivery,) = await deliveries(pool)
    assert delivery["status"] == "DELIVERED" and delivery["delivered_at"] == now.now()
    assert receiver.ids() == ["agency/dif/1"]
    # A delivery that is still queued is not "redelivered" twice.
    async with store.operation(MUNICIPALITY, "admin", None, "") as op:
        await store.redeliver(op.conn, MUNICIPALITY, str(delivery["id"]))
    with pytest.raises(WebhookConflict):
        async with store.operation(MUNICIPALITY, "admin", None, "") as op:
            await store.redeliver(op.conn, MUNICIPALITY, str(delivery["id"]))
    del row


def test_jitter_never_shortens_the_retry_window() -> None:
    for pinned in (0.0, 0.999999):
        backoff = Backoff(random=lambda pinned=pinned: pinned)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        give_up = backoff.give_up_after(start)
        at, failures = start, 0
        while True:
            failures += 1
            following = backoff.next_attempt(failures, at, give_up)
            if following is None:
                break
            assert following - at >= timedelta(seconds=4)  # 5 s less 20 %
            at = following
        assert at - start >= timedelta(hours=24)
        assert failures < 30


async def test_connection_failures_and_timeouts_are_retried(
    app: TequioApplication,
    ctx: CommandContext,
    pool: asyncpg.Pool,
    store: WebhookStore,
    feed: ProjectionService,
    services: Callable[..., Any],
    now: FixedClock,
) -> None:
    await subscribe(store, ["mx.tequio.agency.added.v1"])
    app.add_agency(ctx, agency_id="dif", name="DIF", level=GovernmentLevel.STATE)
    await caught_up(app, feed)
    failures: list[Exception] = [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadTimeout("timed out"),
    ]

    def answer(request: httpx.Request) -> int:
        if failures:
            raise failures.pop(0)
        return 301  # a redirect is not followed, so not delivered

    service = await services(Receiver(answer))
    await service.run_once()
    (delivery,) = await deliveries(pool)
    assert delivery["last_error"].startswith("ConnectError: ")
    assert delivery["last_status_code"] is None and delivery["status"] == "RETRYING"
    now.set(delivery["next_attempt_at"])
    await service.run_once()
    (delivery,) = await deliveries(pool)
    assert delivery["last_error"] == "ReadTimeout: timed out"
    now.set(delivery["next_attempt_at"])
    await service.run_once()
    (delivery,) = await deliveries(pool)
    assert delivery["last_status_code"] == 301 and delivery["status"] == "RETRYING"
    assert "redirects are not followed" in delivery["last_error"]
    assert delivery["attempts"] == 3


async def test_order_is_kept_per_aggregate_and_only_per_aggregate(
    app: TequioApplication,
    ctx: CommandContext,
    pool: asyncpg.Pool,
    store: WebhookStore,
    feed: ProjectionService,
    services: Callable[..., Any],
    now: FixedClock,
) -> None:
    app.add_territory(ctx, territory_id="smt", name="San Miguel Teotongo", kind="colonia")
    _, secret = await subscribe(store, ["mx.tequio.case.*"])
    one = app.raise_case(
        ctx, territory_id="smt", theme=Theme.WATER, title="Fuga", description="Fuga de agua."
    ).id
    two = app.raise_case(
        ctx, territory_id="smt", theme=Theme.SAFETY, title="Luminarias", description="Sin luz."
    ).id
    for case_id in (one, two):
        app.triage_case(
            ctx, case_id=case_id, expected_version=1, theme=Theme.WATER, priority=Priority.HIGH
        )
    await caught_up(app, feed)

    # The receiver refuses case one's first event until told otherwise.
    refusing = {f"case/{one}/1"}
    receiver = Receiver(lambda r: 503 if r.headers["webhook-id"] in refusing else 200)
    service = await services(receiver)
    await service.run_once()
    # Case two went through; case one's triage waits behind its raise.
    assert receiver.ids() == [f"case/{two}/1", f"case/{two}/2"]
    assert sorted(receiver.ids(accepted=False)) == sorted(
        [f"case/{one}/1", f"case/{two}/1", f"case/{two}/2"]
    )
    waiting = await deliveries(pool, event_id=f"case/{one}/2")
    assert waiting[0]["status"] == "PENDING" and waiting[0]["attempts"] == 0

    # Still failing at its retry: the triage still waits.
    (raised,) = await deliveries(pool, event_id=f"case/{one}/1")
    now.set(raised["next_attempt_at"])
    await service.run_once()
    assert receiver.ids(accepted=False)[-1] == f"case/{one}/1"
    assert (await deliveries(pool, event_id=f"case/{one}/2"))[0]["attempts"] == 0

    # Once the raise is through, the triage follows at once, signed like the rest.
    refusing.clear()
    (raised,) = await deliveries(pool, event_id=f"case/{one}/1")
    now.set(raised["next_attempt_at"])
    await service.run_once()
    assert receiver.ids()[-2:] == [f"case/{one}/1", f"case/{one}/2"]
    for request in receiver.accepted:
        event = Webhook(secret).verify(request.content, dict(request.headers))
        assert event["id"] == request.headers["webhook-id"]

    # A dead-lettered delivery does not hold back the ones after it.
    refusing.add(f"case/{one}/3")
    app.resolve_case(ctx, case_id=one, expected_version=2, summary="Reparada.")
    app.close_case(ctx, case_id=one, expected_version=3)
    await caught_up(app, feed)
    await service.run_once()
    assert receiver.ids(accepted=False)[-1] == f"case/{one}/3"
    (resolved,) = await deliveries(pool, event_id=f"case/{one}/3")
    now.set(resolved["give_up_after"])
    await service.run_once()
    (resolved,) = await deliveries(pool, event_id=f"case/{one}/3")
    assert resolved["status"] == "DEAD_LETTERED"
    await service.run_once()
    assert receiver.ids()[-1] == f"case/{one}/4"


async def test_two_dispatchers_never_send_one_delivery_twice(
    app: TequioApplication,
    ctx: CommandContext,
    pool: asyncpg.Pool,
    store: WebhookStore,
    feed: ProjectionService,
    services: Callable[..., Any],
) -> None:
    await subscribe(store, ["*"])
    await subscribe(store, ["mx.tequio.territory.*"], url="https://otro.example.org/hook")
    for n in range(12):
        app.add_territory(ctx, territory_id=f"t{n}", name=f"Colonia {n}", kind="colonia")
    await caught_up(app, feed)
    receiver = Receiver()
    first = await services(receiver, concurrency=3)
    second = await services(receiver, concurrency=3)
    await asyncio.gather(first.run_once(), second.run_once(), first.run_once())
    sent = [(str(r.url), r.headers["webhook-id"]) for r in receiver.received]
    assert len(sent) == len(set(sent)) == 24
    rows = await deliveries(pool)
    assert {r["status"] for r in rows} == {"DELIVERED"} and len(rows) == 24
    assert {r["attempts"] for r in rows} == {1}


async def test_a_worker_runs_the_dispatcher_on_its_own_thread(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    store: WebhookStore,
    feed: ProjectionService,
    now: FixedClock,
) -> None:
    _, secret = await subscribe(store, ["mx.tequio.agency.*"])
    receiver = Receiver()
    config = WebhookConfig(clock=now, poll_seconds=0.05)
    worker = BackgroundWebhooks(
        lambda: WebhookService(db.url(), BOX, config, transport=httpx.MockTransport(receiver))
    )
    await asyncio.to_thread(worker.start)
    try:
        app.add_agency(ctx, agency_id="dif", name="DIF", level=GovernmentLevel.STATE)
        for _ in range(200):
            if receiver.accepted:
                break
            await asyncio.sleep(0.05)
    finally:
        await asyncio.to_thread(worker.stop)
    (request,) = receiver.accepted
    assert Webhook(secret).verify(request.content, dict(request.headers))["id"] == "agency/dif/1"
    assert [d["status"] for d in await deliveries(pool)] == ["DELIVERED"]


# -- retention ----------------------------------------------------------------------------


async def test_delivered_deliveries_are_deleted_after_the_retention_and_never_sent_again(
    app: TequioApplication,
    ctx: CommandContext,
    pool: asyncpg.Pool,
    store: WebhookStore,
    feed: ProjectionService,
    services: Callable[..., Any],
    now: FixedClock,
) -> None:
    await subscribe(store, ["mx.tequio.agency.added.v1"])
    app.add_agency(ctx, agency_id="dif", name="DIF", level=GovernmentLevel.STATE)
    app.add_agency(ctx, agency_id="ine", name="INE", level=GovernmentLevel.FEDERAL)
    await caught_up(app, feed)
    # The INE's receiver never answers well: its delivery ends dead-lettered.
    receiver = Receiver(lambda r: 500 if r.headers["webhook-id"].startswith("agency/ine") else 204)
    service = await services(receiver, keep=timedelta(days=30))
    await service.run_once()

    def log(rows: list[dict[str, Any]]) -> dict[str, str]:
        return {r["event_id"]: r["status"] for r in rows}

    assert log(await deliveries(pool)) == {"agency/dif/1": "DELIVERED", "agency/ine/1": "RETRYING"}

    now.advance(timedelta(days=31))
    app.add_agency(ctx, agency_id="sat", name="SAT", level=GovernmentLevel.FEDERAL)
    await caught_up(app, feed)
    await service.run_once()
    assert log(await deliveries(pool)) == {
        "agency/ine/1": "DEAD_LETTERED",  # waits for an admin, however old
        "agency/sat/1": "DELIVERED",  # delivered within the retention
    }

    now.advance(timedelta(days=31))
    await service.run_once()
    assert log(await deliveries(pool)) == {"agency/ine/1": "DEAD_LETTERED"}
    # Deleting a delivered row never sends its event again.
    assert receiver.ids() == ["agency/dif/1", "agency/sat/1"]
