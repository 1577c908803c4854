"""Signed webhooks over HTTP: admin-only GraphQL operations, and a real receiver.

The receiver is a small HTTP server on 127.0.0.1 in a thread. The app runs as
``tequio serve`` does, dispatcher included; only the dispatcher's clock is held by the
test (it starts at the real time, so signatures pass the reference verifier's
freshness check), so retries come when the test moves it, not after real waiting.
Expectations come from the contract and the feed (GET /events), not from the code.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from graphql_client import GraphQLClient
from standardwebhooks import Webhook
from world import CABINET, MONDAY, MUNICIPALITY, PROGRESS, RAISE, ROUTE, TRIAGE, World
from world import _truncate_all as truncate_all

from api.app import create_app
from cases.clock import FixedClock
from integrations.webhooks.backoff import Backoff
from integrations.webhooks.config import WebhookConfig
from tequio.database import ConnectionInfo
from tequio.settings import Settings

CREATE = """
mutation($url: String!, $types: [String!]!, $description: String) {
  createWebhookSubscription(url: $url, eventTypes: $types, description: $description) {
    secret subscription { id url eventTypes description active createdBy } } }
"""
UPDATE = """
mutation($id: ID!, $url: String, $types: [String!], $active: Boolean) {
  updateWebhookSubscription(id: $id, url: $url, eventTypes: $types, active: $active) {
    id url eventTypes active } }
"""
ROTATE = """
mutation($id: ID!) { rotateWebhookSecret(id: $id) {
  secret subscription { id secretRotatedAt previousSecretExpiresAt } } }
"""
DELETE = "mutation($id: ID!) { deleteWebhookSubscription(id: $id) }"
REDELIVER = """
mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id status attempts redeliveries } }
"""
LIST = "{ webhookSubscriptions { id url eventTypes active } }"
LOG = """
query($id: ID!, $status: WebhookDeliveryStatus, $first: Int!, $after: String) {
  webhookSubscription(id: $id) {
    id
    deliveries(status: $status, first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id eventId eventType subject status attempts redeliveries
        lastStatusCode lastError nextAttemptAt deliveredAt deadLetteredAt } } } } }
"""
CONTACT = {
    "name": "Guadalupe Reyes Ortiz",
    "phone": "5598765432",
    "email": "lupita.reyes@example.org",
}


# -- a receiver on this machine -----------------------------------------------------------


class Receiver:
    """An HTTP server that answers each POST with the status its path is set to."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.status.get(self.path, 200)
                with receiver._lock:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "status": status,
                        }
                    )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Not listening any more: connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"] == path and r["status"] < 300]

    def tried(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"] == path]


# -- the app, with the dispatcher's clock in the test's hand ------------------------------


class Hooked(World):
    receiver: Receiver
    hook_clock: FixedClock


@pytest.fixture(scope="module")
async def world(server_info: ConnectionInfo) -> AsyncIterator[Hooked]:
    truncate_all(server_info)
    settings = Settings(
        DATABASE_URL=server_info.url(), TEQUIO_MUNICIPALITY=MUNICIPALITY, TEQUIO_POOL_SIZE=2
    )
    hook_clock = FixedClock(datetime.now(UTC))
    config = WebhookConfig(
        poll_seconds=0.05,
        clock=hook_clock,
        backoff=Backoff(random=lambda: 0.5),  # no jitter: 5 s, 30 s, 2 min, ...
    )
    receiver = Receiver()
    receiver.start()
    app = create_app(settings, clock=FixedClock(MONDAY), webhook_config=config)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tequio.test") as http:
            world = Hooked(GraphQLClient(http, settings), app=app, clock=FixedClock(MONDAY))
            await world.set_up()
            world.receiver = receiver
            world.hook_clock = hook_clock
            yield world
    receiver.stop()


async def subscribe(world: World, path: str, types: list[str]) -> tuple[str, str]:
    created = (
        await world.api.run(
            CREATE,
            {"url": world.receiver.url(path), "types": types},  # type: ignore[attr-defined]
            token=world.admin,
        )
    )["createWebhookSubscription"]
    return created["subscription"]["id"], created["secret"]


async def delivery_log(world: World, sid: str, status: str | None = None) -> list[dict[str, Any]]:
    """The whole log of a subscription, page by page (newest first).

    The outbox may queue new deliveries while the pages are read (they land on the
    first page, already passed): then the count disagrees and the log is read again."""
    for _ in range(50):
        nodes: list[dict[str, Any]] = []
        after = None
        while True:
            page = (
                await world.api.run(
                    LOG,
                    {"id": sid, "status": status, "first": 3, "after": after},
                    token=world.admin,
                )
            )["webhookSubscription"]["deliveries"]
            nodes += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        if page["totalCount"] == len(nodes):
            return nodes
        await asyncio.sleep(0.05)
    raise AssertionError("the delivery log kept changing while it was read")


async def until(check: Callable[[], Any], what: str, seconds: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def feed_story(world: World, subject: str) -> list[dict[str, Any]]:
    token = world.api.token("integracion.c5", "integration")
    response = await world.api.http.get(
        "/events",
        params={"subject": subject, "limit": 1000},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


# -- who may ----------------------------------------------------------------------------------


async def test_only_admins_manage_webhooks_and_bad_input_is_refused(world: Hooked) -> None:
    api = world.api
    url = world.receiver.url("/acceso")
    variables = {"url": url, "types": ["*"]}
    assert (await api.error(CREATE, variables))["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.error(LIST))["extensions"]["code"] == "UNAUTHENTICATED"
    sid, secret = await subscribe(world, "/acceso", ["*"])
    others = [
        world.coordinator,
        world.secretary,
        world.urbanos,
        world.cabinet_member,
        api.token("integracion.c5", "integration"),
    ]
    for token in others:
        for query, params in [
            (CREATE, variables),
            (UPDATE, {"id": sid, "active": False}),
            (ROTATE, {"id": sid}),
            (DELETE, {"id": sid}),
            (REDELIVER, {"id": "1"}),
            (LIST, {}),
            (LOG, {"id": sid, "first": 1}),
        ]:
            error = await api.error(query, params, token=token)
            assert error["extensions"]["code"] == "FORBIDDEN", (query, error)
    assert await api.run(LIST, token=world.admin) == {
        "webhookSubscriptions": [{"id": sid, "url": url, "eventTypes": ["*"], "active": True}]
    }

    bad = [
        ({"url": "http://c5.cdmx.gob.mx/hook", "types": ["*"]}, "https://"),
        ({"url": "ftp://127.0.0.1/hook", "types": ["*"]}, "not a valid webhook URL"),
        ({"url": url, "types": ["mx.tequio.case.raise.v1"]}, "not an event type"),
        ({"url": url, "types": []}, "at least one event type"),
    ]
    for params, says in bad:
        error = await api.error(CREATE, params, token=world.admin)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert says in error["message"]
    spanish = await api.error(
        CREATE, {"url": url, "types": ["mx.tequio.nada.*"]}, token=world.admin, language="es-MX"
    )
    assert spanish["extensions"]["code"] == "BAD_USER_INPUT"
    assert "no es un tipo de evento" in spanish["message"]
    missing = await api.error(UPDATE, {"id": "no-existe", "active": False}, token=world.admin)
    assert missing["extensions"]["code"] == "NOT_FOUND"

    # The secret is in no answer but the one that made it.
    listed = await api.post("{ webhookSubscriptions { id secret } }", token=world.admin)
    assert listed.json()["errors"] and secret not in listed.text

    # Changes, a rotation (a new secret), idempotency, and deletion.
    changed = await api.run(
        UPDATE,
        {"id": sid, "types": ["mx.tequio.case.*"], "active": False},
        token=world.admin,
    )
    assert changed["updateWebhookSubscription"] == {
        "id": sid,
        "url": url,
        "eventTypes": ["mx.tequio.case.*"],
        "active": False,
    }
    rotated = (await api.run(ROTATE, {"id": sid}, token=world.admin))["rotateWebhookSecret"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    assert rotated["subscription"]["previousSecretExpiresAt"] is not None

    keyed = {"url": world.receiver.url("/una-vez"), "types": ["*"]}
    first = await api.run(CREATE, keyed, token=world.admin, idempotency_key="alta-c5")
    again = await api.post(CREATE, keyed, token=world.admin, idempotency_key="alta-c5")
    assert again.json()["data"] == first
    assert again.json()["extensions"]["idempotentReplays"] == ["createWebhookSubscription"]
    reused = await api.error(
        CREATE,
        {**keyed, "types": ["mx.tequio.case.*"]},
        token=world.admin,
        idempotency_key="alta-c5",
    )
    assert reused["extensions"]["code"] == "CONFLICT"
    listed_ids = [s["id"] for s in (await api.run(LIST, token=world.admin))["webhookSubscriptions"]]
    made = first["createWebhookSubscription"]["subscription"]["id"]
    assert sorted(listed_ids) == sorted([sid, made])

    for gone in (sid, made):
        assert (await api.run(DELETE, {"id": gone}, token=world.admin)) == {
            "deleteWebhookSubscription": gone
        }
    assert (await api.run(LIST, token=world.admin)) == {"webhookSubscriptions": []}


async def test_an_idempotency_key_reused_for_another_webhook_operation_changes_nothing(
    world: Hooked,
) -> None:
    api = world.api
    keyed = {"url": world.receiver.url("/otra-vez"), "types": ["*"]}
    made = await api.run(CREATE, keyed, token=world.admin, idempotency_key="alta-tablero")
    sid = made["createWebhookSubscription"]["subscription"]["id"]

    for query, variables in ((DELETE, {"id": sid}), (ROTATE, {"id": sid})):
        reused = await api.error(
            query, variables, token=world.admin, idempotency_key="alta-tablero"
        )
        assert reused["extensions"]["code"] == "CONFLICT"

    listed = (await api.run(LIST, token=world.admin))["webhookSubscriptions"]
    assert [s["id"] for s in listed] == [sid]
    # The retry the key is for still answers with the first answer.
    again = await api.run(CREATE, keyed, token=world.admin, idempotency_key="alta-tablero")
    assert again == made


# -- a receiver that was down gets everything, signed, in order --------------------------


async def test_a_receiver_that_was_down_gets_every_missed_event_in_order(world: Hooked) -> None:
    api, receiver, clock = world.api, world.receiver, world.hook_clock
    sid, secret = await subscribe(world, "/tablero", ["*"])
    receiver.status["/tablero"] = 503

    # Work goes on while the receiver is down: cases, a routing, commitments (one of
    # them a security cabinet's), progress.
    cases = []
    for title in ("Fuga de agua en Calle 5", "Luminarias apagadas en Camino Real"):
        case = (
            await api.run(
                RAISE,
                {
                    "input": {
                        "territoryId": "smt-avisadero",
                        "theme": "SAFETY",
                        "title": title,
                        "description": f"{title}. Planteado en asamblea.",
                        "reporter": CONTACT,
                    }
                },
                token=world.coordinator,
            )
        )["raiseCase"]
        case = (
            await api.run(
                TRIAGE,
                {"id": case["id"], "v": 1, "theme": "SAFETY", "priority": "HIGH"},
                token=world.coordinator,
            )
        )["triageCase"]
        cases.append(case)
    first = cases[0]
    await api.run(
        ROUTE,
        {"id": first["id"], "v": first["version"], "tables": [CABINET, "mesa-alumbrado"]},
        token=world.coordinator,
    )
    hidden = await world.commit(
        first["id"], "Operativo encubierto en Calle 5", agency="ssc", table=CABINET
    )
    lamps = await world.commit(cases[1]["id"], "Reponer 12 luminarias")
    await api.run(
        PROGRESS,
        {"id": lamps["id"], "v": 1, "p": 40, "note": "Seis repuestas"},
        token=world.urbanos,
    )

    # Each aggregate's first delivery was tried and refused; the rest wait behind it.
    async def first_tries_refused() -> Any:
        log = await delivery_log(world, sid)
        tried = [d for d in log if d["attempts"]]
        subjects = {d["subject"] for d in log}
        done = len(tried) == len(subjects) and len(log) >= 9
        return log if done else None

    log = await until(first_tries_refused, "every aggregate's first attempt")
    for delivery in log:
        if delivery["attempts"]:
            assert delivery["status"] == "RETRYING"
            assert delivery["lastStatusCode"] == 503 and delivery["lastError"] == "HTTP 503"
            assert delivery["nextAttemptAt"] is not None
        else:
            assert delivery["status"] == "PENDING"
    assert not receiver.accepted("/tablero")

    # Then it stops listening altogether: the next tries cannot even connect.
    receiver.stop()
    clock.advance(timedelta(seconds=6))

    async def refused_connections() -> Any:
        log = await delivery_log(world, sid, "RETRYING")
        return all(d["attempts"] == 2 for d in log) and log

    for delivery in await until(refused_connections, "the second attempts"):
        assert delivery["lastStatusCode"] is None
        assert delivery["lastError"].startswith("ConnectError")

    # It comes back (same address) and answers; the next retries get through, and each
    # aggregate's waiting deliveries follow at once.
    receiver.status["/tablero"] = 200
    receiver.start()
    clock.advance(timedelta(seconds=31))

    async def all_delivered() -> Any:
        log = await delivery_log(world, sid)
        return all(d["status"] == "DELIVERED" for d in log) and log

    log = await until(all_delivered, "every delivery")
    received = receiver.accepted("/tablero")
    events = []
    for request in received:
        # The reference verifier (Standard Webhooks) accepts every one.
        event = Webhook(secret).verify(request["body"], request["headers"])
        assert request["headers"]["webhook-id"] == event["id"]
        assert request["headers"]["content-type"] == "application/json"
        events.append(event)
    assert sorted(e["id"] for e in events) == sorted(d["eventId"] for d in log)
    assert len({e["id"] for e in events}) == len(events)

    # All of each aggregate's events, in the order of the feed, none missing.
    subjects = [f"case/{c['id']}" for c in cases] + [f"commitment/{lamps['id']}"]
    for subject in subjects:
        story = await feed_story(world, subject)
        assert story, subject
        got = [e for e in events if e["subject"] == subject]
        assert [e["id"] for e in got] == [e["id"] for e in story]
        assert got == story  # the same CloudEvent as the feed's
    assert {e["subject"] for e in events} == set(subjects)

    # Never the cabinet's commitment, nor the reporter's contact.
    everything = b"\n".join(r["body"] for r in receiver.tried("/tablero")).decode()
    assert hidden["id"] not in everything and "Operativo encubierto" not in everything
    assert CABINET not in everything
    for value in CONTACT.values():
        assert value not in everything
    assert not any(hidden["id"] in r["headers"]["webhook-id"] for r in received)

    await api.run(DELETE, {"id": sid}, token=world.admin)


# -- dead letters, redelivery and metrics ------------------------------------------------------


async def test_a_dead_lettered_delivery_shows_in_the_log_and_can_be_sent_again(
    world: Hooked,
) -> None:
    api, receiver, clock = world.api, world.receiver, world.hook_clock
    sid, secret = await subscribe(world, "/estricto", ["mx.tequio.agency.added.v1"])
    receiver.status["/estricto"] = 500
    await api.run(
        'mutation { addAgency(id: "dif", name: "DIF", level: STATE) { id } }',
        token=world.admin,
    )

    async def tried_once() -> Any:
        log = await delivery_log(world, sid)
        return log if log and log[0]["attempts"] == 1 else None

    (delivery,) = await until(tried_once, "the first attempt")
    assert delivery["status"] == "RETRYING" and delivery["lastStatusCode"] == 500

    # A day and more later the next failure gives it up.
    clock.advance(timedelta(hours=25))

    async def dead() -> Any:
        return await delivery_log(world, sid, "DEAD_LETTERED")

    (delivery,) = await until(dead, "the dead letter")
    assert delivery["attempts"] == 2 and delivery["deadLetteredAt"] is not None
    assert delivery["nextAttemptAt"] is None and delivery["eventId"] == "agency/dif/1"
    metrics = (await api.http.get("/metrics")).text.splitlines()
    assert "tequio_webhook_deliveries_dead_lettered 1.0" in metrics
    assert "tequio_webhook_deliveries_pending 0.0" in metrics

    # Sent again by hand once the receiver is fixed, signed with the current time.
    clock.set(datetime.now(UTC))
    receiver.status["/estricto"] = 204
    again = (await api.run(REDELIVER, {"id": delivery["id"]}, token=world.admin))[
        "redeliverWebhook"
    ]
    assert again == {
        "id": delivery["id"],
        "status": "PENDING",
        "attempts": 0,
        "redeliveries": 1,
    }

    async def delivered() -> Any:
        return await delivery_log(world, sid, "DELIVERED")

    (delivery,) = await until(delivered, "the redelivery")
    assert delivery["redeliveries"] == 1 and delivery["lastStatusCode"] == 204
    (request,) = receiver.accepted("/estricto")
    assert Webhook(secret).verify(request["body"], request["headers"])["id"] == "agency/dif/1"
    json.loads(request["body"])  # structured-mode CloudEvent JSON

    # Only a delivered or dead-lettered delivery can be sent again; unknown ids are not found.
    receiver.status["/estricto"] = 500  # so that it stays queued (pending, then retrying)
    await api.run(REDELIVER, {"id": delivery["id"]}, token=world.admin)
    twice = await api.error(REDELIVER, {"id": delivery["id"]}, token=world.admin)
    assert twice["extensions"]["code"] == "CONFLICT"
    unknown = await api.error(REDELIVER, {"id": "999999"}, token=world.admin)
    assert unknown["extensions"]["code"] == "NOT_FOUND"
    await api.run(DELETE, {"id": sid}, token=world.admin)
