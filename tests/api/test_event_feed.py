"""GET /events over HTTP: the notification log as CloudEvents, for integrations.

Expectations come from the contract, not from the feed's code: every event of the
event store once and in order, except idempotency receipts and anything of a security
cabinet (its table, and commitments agreed at it); never a reporter's contact.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import httpx
import psycopg
from anyio import to_thread
from cloudevents.core.formats.json import JSONFormat
from world import (
    CABINET,
    LIGHTING_TABLE,
    MUNICIPALITY,
    OTHER_CABINET,
    PROGRESS,
    RAISE,
    ROUTE,
    TRIAGE,
    World,
    module_world,
)

from cases.commitment import Commitment
from cases.forums import Table
from cases.ids import aggregate_id
from projections.feed.queries import decode_position, encode_position
from projections.runtime import ProjectionService, rebuild
from tequio.application import library_env

world = module_world()

CONTACT = {
    "name": "Guadalupe Reyes Ortiz",
    "phone": "5598765432",
    "email": "lupita.reyes@example.org",
}
ERASE = (
    "mutation($id: ID!, $reason: String!) {"
    " eraseReporter(caseId: $id, reason: $reason) { id version } }"
)
PROBLEM = "application/problem+json"
MADE = Commitment.Made  # type: ignore[attr-defined]


class Feed:
    """A consumer of the feed, speaking HTTP with one token."""

    def __init__(
        self, world: World, subject: str = "integracion.open311", role: str = "integration"
    ):
        self.http: httpx.AsyncClient = world.api.http
        self.token = world.api.token(subject, role)

    async def get(self, token: str | None = "mine", **params: Any) -> httpx.Response:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {self.token if token == 'mine' else token}"
        language = params.pop("language", None)
        if language:
            headers["Accept-Language"] = language
        return await self.http.get("/events", params=params, headers=headers)

    async def page(self, **params: Any) -> dict[str, Any]:
        response = await self.get(**params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        body: dict[str, Any] = response.json()
        return body

    async def all(self, limit: int = 100, **params: Any) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": limit, **params} | ({"after": cursor} if cursor else {})
            body = await self.page(**query)
            events += body["events"]
            cursor = body["cursor"]
            if not body["hasMore"]:
                return events


def originator(event: dict[str, Any]) -> tuple[UUID, int]:
    """The aggregate id and version an event stands for, from its public id and subject."""
    kind, public_id, version = event["id"].split("/")
    assert event["subject"] == f"{kind}/{public_id}"
    return aggregate_id(MUNICIPALITY, kind, public_id), int(version)


async def published_log(world: World) -> list[tuple[UUID, int]]:
    """The event store's notifications, in order, less what the contract keeps private."""
    assert world.app is not None
    app = world.app.state.runtime.application

    def read() -> list[tuple[UUID, int]]:
        hidden = {Table.id_for(MUNICIPALITY, t) for t in (CABINET, OTHER_CABINET)}
        kept = []
        for n in app.recorder.select_notifications(start=1, limit=1_000_000):
            if n.topic.endswith("IdempotencyReceipt.Recorded"):
                continue
            event = app.mapper.to_domain_event(n)
            if isinstance(event, MADE) and event.table_id in (CABINET, OTHER_CABINET):
                hidden.add(event.originator_id)
            if n.originator_id not in hidden:
                kept.append((n.originator_id, n.originator_version))
        return kept

    return await to_thread.run_sync(read)


async def caught_up(world: World) -> None:
    assert world.app is not None
    runtime = world.app.state.runtime
    head = await to_thread.run_sync(runtime.application.current_position)
    assert await to_thread.run_sync(runtime.projections.wait, head, 10.0)


async def raise_triaged(world: World, title: str, **extra: Any) -> dict[str, Any]:
    payload = {
        "territoryId": "smt-avisadero",
        "theme": "SAFETY",
        "title": title,
        "description": f"{title}, planteado en asamblea.",
        **extra,
    }
    case = (await world.api.run(RAISE, {"input": payload}, token=world.coordinator))["raiseCase"]
    triaged = await world.api.run(
        TRIAGE,
        {"id": case["id"], "v": 1, "theme": "SAFETY", "priority": "HIGH"},
        token=world.coordinator,
    )
    return dict(triaged["triageCase"])


async def a_round_of_work(world: World, n: int) -> None:
    """Public and cabinet work on a new case, a contact, and an idempotent retry."""
    case = await raise_triaged(world, f"Luminarias apagadas {n}", reporter=CONTACT)
    await world.api.run(
        ROUTE,
        {"id": case["id"], "v": case["version"], "tables": [CABINET, LIGHTING_TABLE]},
        token=world.coordinator,
    )
    await world.commit(case["id"], f"Patrullaje en la calle {n}", agency="ssc", table=CABINET)
    lamps = await world.commit(case["id"], f"Reparar lámparas {n}")
    for _ in range(2):  # a retry with the same key changes nothing and publishes nothing
        await world.api.run(
            PROGRESS,
            {"id": lamps["id"], "v": 1, "p": 30, "note": "Avance"},
            token=world.urbanos,
            idempotency_key=f"progress-{n}",
        )


async def test_a_consumer_paging_by_7_while_writes_go_on_gets_every_event_once_in_order(
    world: World,
) -> None:
    feed = Feed(world, "integracion.tablero")
    writing = asyncio.create_task(_rounds(world, 5))
    try:
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        pages_while_writing = 0
        finishing = False
        while True:
            writes_going_on = not writing.done()
            body = await feed.page(limit=7, **({"after": cursor} if cursor else {}))
            pages_while_writing += writes_going_on and bool(body["events"])
            assert len(body["events"]) <= 7
            if body["hasMore"]:
                assert len(body["events"]) == 7
            repeated = {e["id"] for e in body["events"]} & {e["id"] for e in seen}
            assert not repeated, f"delivered twice: {repeated}"
            seen += body["events"]
            cursor = body["cursor"]
            if body["hasMore"]:
                continue
            if finishing:
                break
            if writing.done():
                await writing  # re-raises a failed write
                await caught_up(world)
                finishing = True  # one more pass reads what the last writes published
            else:
                await asyncio.sleep(0.05)
    finally:
        writing.cancel()

    assert pages_while_writing >= 3, "the consumer never read while writes went on"
    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert [originator(e) for e in seen] == await published_log(world)


async def _rounds(world: World, count: int) -> None:
    for n in range(count):
        await a_round_of_work(world, n)


async def test_events_are_cloudevents_and_filters_select_by_type_and_subject(
    world: World,
) -> None:
    feed = Feed(world)
    case = await raise_triaged(world, "Bache en avenida Las Torres")
    work = await world.commit(case["id"], "Tapar el bache")
    await caught_up(world)

    everything = await feed.all(limit=1000)
    assert everything
    for event in everything:
        assert {"specversion", "id", "source", "type", "subject", "time", "data"} <= set(event)
        assert event["specversion"] == "1.0"
        assert event["source"] == f"/tequio/{MUNICIPALITY}"
        assert event["type"].startswith("mx.tequio.") and event["type"].endswith(".v1")
        assert event["datacontenttype"] == "application/json"
        # Every event reads back as a valid CloudEvent with the reference SDK.
        parsed = JSONFormat().read(None, json.dumps(event))
        assert parsed.get_id() == event["id"]
        assert parsed.get_time() is not None and parsed.get_time().tzinfo is not None

    subject = f"case/{case['id']}"
    story = await feed.all(limit=1, subject=subject)
    assert [e["type"] for e in story] == [
        "mx.tequio.case.raised.v1",
        "mx.tequio.case.triaged.v1",
        "mx.tequio.case.routed.v1",
        "mx.tequio.case.attention_started.v1",
    ]
    assert [e["id"] for e in story] == [f"{subject}/{n}" for n in (1, 2, 3, 4)]
    assert story[3]["data"]["commitment_id"] == work["id"]
    assert story[1]["data"] == {"theme": "SAFETY", "priority": "HIGH", "actor": "rosa.martinez"}

    kinds = "mx.tequio.case.raised.v1,mx.tequio.commitment.made.v1"
    chosen = [e for e in everything if e["type"] in kinds.split(",")]
    assert len(chosen) >= 2
    assert await feed.all(limit=2, type=kinds) == chosen
    repeated = await feed.all(
        limit=2, type=["mx.tequio.commitment.made.v1", "mx.tequio.case.raised.v1"]
    )
    assert repeated == await feed.all(limit=1000, type=kinds)
    both = await feed.all(
        type="mx.tequio.commitment.made.v1", subject=[subject, f"commitment/{work['id']}"]
    )
    assert [e["subject"] for e in both] == [f"commitment/{work['id']}"]


async def test_cabinet_commitments_and_cabinets_never_reach_the_feed(world: World) -> None:
    feed = Feed(world)
    case = await raise_triaged(world, "Asaltos en el paradero")
    await world.api.run(
        ROUTE,
        {"id": case["id"], "v": case["version"], "tables": [CABINET, LIGHTING_TABLE]},
        token=world.coordinator,
    )
    secret = await world.commit(
        case["id"], "Operativo encubierto en el paradero", agency="ssc", table=CABINET
    )
    public = await world.commit(case["id"], "Iluminar el paradero")
    await caught_up(world)

    assert await feed.all(subject=f"commitment/{secret['id']}") == []
    assert len(await feed.all(subject=f"commitment/{public['id']}")) == 1
    assert await feed.all(subject=f"table/{CABINET}") == []
    assert len(await feed.all(subject=f"table/{LIGHTING_TABLE}")) == 1
    text = (await feed.get(limit=1000)).text
    assert secret["id"] not in text
    assert "Operativo encubierto" not in text
    assert CABINET not in text and OTHER_CABINET not in text
    assert "Gabinete zonal" not in text
    # The case itself is public: it went into attention when the cabinet agreed.
    story = await feed.all(subject=f"case/{case['id']}")
    assert story[-1]["type"] == "mx.tequio.case.attention_started.v1"
    assert "commitment_id" not in story[-1]["data"]
    assert "actor" not in story[-1]["data"]  # who agreed it would name the cabinet
    # An admin reads the same feed: the feed has no per-caller view.
    admin_view = await Feed(world, "admin.sistema", "admin").all(subject=f"case/{case['id']}")
    assert admin_view == story


async def test_a_reporters_contact_never_appears(world: World) -> None:
    feed = Feed(world)
    case = await raise_triaged(world, "Fuga de agua en la escuela", reporter=CONTACT)
    await world.api.run(
        ERASE, {"id": case["id"], "reason": "Folio ARCO-2026-118"}, token=world.coordinator
    )
    await caught_up(world)

    response = await feed.get(limit=1000)
    for value in CONTACT.values():
        assert value not in response.text
    story = await feed.all(subject=f"case/{case['id']}")
    assert [e["type"].split(".")[3] for e in story] == ["raised", "triaged", "reporter_erased"]
    for event in story:
        assert not [k for k in event["data"] if k.startswith("reporter") or k == "contact"]
    assert story[0]["data"]["title"] == "Fuga de agua en la escuela"
    assert story[2]["data"] == {"actor": "rosa.martinez"}  # not the request's reason


async def test_refusals_are_problem_details_in_the_callers_language(world: World) -> None:
    feed = Feed(world)

    async def problem(status: int, code: str, **params: Any) -> dict[str, Any]:
        response = await feed.get(**params)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM
        body: dict[str, Any] = response.json()
        assert body["status"] == status and body["code"] == code
        return body

    anonymous = await problem(401, "UNAUTHENTICATED", token=None)
    assert "bearer token" in anonymous["title"]
    assert (await feed.get(token=None)).headers["www-authenticate"] == "Bearer"
    await problem(401, "UNAUTHENTICATED", token="not-a-jwt")
    for role in ("coordinator", "secretary", "cabinet_member"):
        token = world.api.token(f"someone.{role}", role, tables=[CABINET])
        body = await problem(403, "FORBIDDEN", token=token)
        assert "GET /events" in body["title"]
    spanish = await problem(403, "FORBIDDEN", token=world.coordinator, language="es-MX")
    assert spanish["title"].startswith("Su rol no permite")

    for bad in ("abc", "1", "WyJjYXNlIiwiMSJd", "!!", ""):
        await problem(400, "BAD_USER_INPUT", after=bad)
    for bad in ("0", "1001", "-1", "x", "7.5", "9" * 5000, "١٠"):
        await problem(400, "BAD_USER_INPUT", limit=bad)
    body = await problem(400, "BAD_USER_INPUT", limit="5000", language="es-MX")
    assert body["title"].startswith("'limit' debe ser")
    await problem(400, "BAD_USER_INPUT", type="mx.tequio.case.vanished.v1")
    await problem(400, "BAD_USER_INPUT", subject="case")
    await problem(400, "BAD_USER_INPUT", subject="idempotency-receipt/abc")
    await problem(400, "BAD_USER_INPUT", cursor="abc")  # a typo of 'after'

    assert (await feed.get(limit="1000")).status_code == 200
    assert (await feed.get(limit="1")).status_code == 200


async def test_link_header_and_batch_mode_walk_the_same_events(world: World) -> None:
    feed = Feed(world)
    await raise_triaged(world, "Poda de árboles")
    await caught_up(world)
    everything = await feed.all(limit=1000)

    first = await feed.get(limit=3)
    link = first.headers["link"]
    assert link.endswith('>; rel="next"')
    following = await feed.http.get(
        link[1 : link.index(">")], headers={"Authorization": f"Bearer {feed.token}"}
    )
    assert following.json()["events"] == everything[3:6]

    batch = await feed.http.get(
        "/events",
        params={"limit": 4},
        headers={
            "Authorization": f"Bearer {feed.token}",
            "Accept": "application/cloudevents-batch+json",
        },
    )
    assert batch.status_code == 200
    assert batch.headers["content-type"] == "application/cloudevents-batch+json"
    assert batch.json() == everything[:4]
    assert batch.headers["tequio-has-more"] == "true"
    rest = await feed.all(after=batch.headers["tequio-cursor"])
    assert everything[:4] + rest == everything

    # Past the end: no events, and the cursor stays where it was.
    end = (await feed.page(limit=1000))["cursor"]
    assert await feed.page(after=end) == {"events": [], "cursor": end, "hasMore": False}


async def test_a_made_up_cursor_past_the_last_event_is_refused(world: World) -> None:
    feed = Feed(world)
    await raise_triaged(world, "Fuga en la toma de agua")
    await caught_up(world)
    end = (await feed.page(limit=1000))["cursor"]

    beyond = encode_position(decode_position(end) + 1_000_000)
    refused = await feed.get(after=beyond, language="es-MX")
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "BAD_USER_INPUT"
    assert refused.json()["title"].startswith("El cursor")
    assert "más allá del último evento" in refused.json()["title"]

    # A cursor the feed gave out still works, and so does what comes after it.
    await raise_triaged(world, "Bache frente a la escuela")
    await caught_up(world)
    after_end = await feed.page(after=end)
    assert after_end["events"] and after_end["cursor"] != end


async def test_ids_and_events_are_the_same_after_a_rebuild(world: World) -> None:
    assert world.app is not None
    feed = Feed(world)
    await raise_triaged(world, "Coladera sin tapa")
    await caught_up(world)
    before = (await feed.get(limit=1000)).content

    runtime = world.app.state.runtime
    env = library_env(runtime.settings, runtime.database.info)
    running = runtime.projections
    await to_thread.run_sync(running.stop)
    fresh = ProjectionService(env)
    try:

        def drop_the_feed() -> None:
            with psycopg.connect(runtime.database.info.url(), autocommit=True) as conn:
                conn.execute("DROP TABLE feed_events")

        # In a thread: the webhooks' outbox runs on this event loop, and may hold the
        # table in a transaction that only the loop can finish.
        await to_thread.run_sync(drop_the_feed)
        gone = await feed.get(limit=1000, language="es-MX")
        assert gone.status_code == 503 and gone.headers["content-type"] == PROBLEM
        assert gone.headers["retry-after"]
        assert "reconstruyendo" in gone.json()["title"]

        await to_thread.run_sync(lambda: rebuild(env, "feed"))
        await to_thread.run_sync(fresh.start)
        runtime.projections = fresh
        assert (await feed.get(limit=1000)).content == before
    finally:
        await to_thread.run_sync(fresh.stop)
        await to_thread.run_sync(running.start)
        runtime.projections = running
