"""The feed read model: every published event once, in log order, with nothing private."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from eventsourcing.domain import Aggregate, _created_event_classes
from projection_helpers import CABINET, LIGHTING, MUNICIPALITY, REPORTER, build_week, env_for

from cases.application import CommandContext, TequioApplication
from cases.commitment import Commitment
from cases.forums import Table
from cases.ids import aggregate_id
from cases.values import GovernmentLevel
from projections.feed import projection as feed_projection
from projections.feed.queries import FeedQueries, decode_position
from projections.feed.types import EVENT_TYPES, PUBLISHED
from projections.runtime import ProjectionService, rebuild
from tequio.database import ConnectionInfo

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


@pytest.fixture
def feed_service(db: ConnectionInfo) -> Iterator[ProjectionService]:
    service = ProjectionService(env_for(db), ["feed"], check_interval=0.1)
    yield service
    service.stop()


async def read_all(feed: FeedQueries, limit: int = 7, **filters: Any) -> list[dict[str, Any]]:
    """The whole feed, page by page, as plain CloudEvent JSON objects."""
    cursor = 0
    found: list[dict[str, Any]] = []
    while True:
        page = await feed.page(MUNICIPALITY, after=cursor, limit=limit, **filters)
        found += [{**e.get_attributes(), "data": e.get_data()} for e in page.events]
        cursor = decode_position(page.cursor)
        if not page.has_more:
            return found


def notifications(app: TequioApplication) -> list[Any]:
    return list(app.recorder.select_notifications(start=1, limit=100_000))


def originator(event: dict[str, Any]) -> tuple[UUID, int]:
    """The (aggregate id, version) a feed event stands for, from its public attributes."""
    kind, public_id, version = event["id"].split("/")
    assert event["subject"] == f"{kind}/{public_id}"
    return aggregate_id(MUNICIPALITY, kind, public_id), int(version)


def test_every_event_class_of_a_published_aggregate_has_a_feed_type() -> None:
    """Adding an event to an aggregate forces a decision on what of it is public."""
    for aggregate, names in PUBLISHED:
        declared = {
            name
            for name, value in vars(aggregate).items()
            if isinstance(value, type)
            and issubclass(value, Aggregate.Event)
            and name not in ("Event", "Created")
        }
        # The library remembers which ``Created`` subclass really creates the aggregate.
        declared.update(c.__name__ for c in _created_event_classes[aggregate])
        assert declared == set(names), aggregate.__name__
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES))
    # The list integrators read is the list the code publishes.
    documented = re.findall(r"^\| `(mx\.tequio\.[a-z_.]+\.v1)` \|", DOCS.read_text(), re.M)
    assert documented == list(EVENT_TYPES)
    assert "mx.tequio.commitment.progress_reported.v1" in EVENT_TYPES
    assert all(t == t.lower() and t.startswith("mx.tequio.") for t in EVENT_TYPES)


async def test_feed_is_the_log_without_receipts_cabinets_or_contacts(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    feed_service: ProjectionService,
) -> None:
    week = build_week(app, ctx)
    keyed = CommandContext(actor=ctx.actor, municipality=MUNICIPALITY, idempotency_key="k-1")
    app.add_agency(
        keyed, agency_id="dif", name="DIF", level=GovernmentLevel.STATE
    )  # and its receipt
    head = app.recorder.max_notification_id() or 0
    feed_service.start()
    assert feed_service.wait(head, timeout=20)

    feed = FeedQueries(pool)
    events = await read_all(feed)

    hidden = {
        Table.id_for(MUNICIPALITY, CABINET),
        Commitment.id_for(MUNICIPALITY, week.commitments["patrols"]),
        Commitment.id_for(MUNICIPALITY, week.commitments["complaints"]),
    }
    log = notifications(app)
    assert any(n.topic.endswith("IdempotencyReceipt.Recorded") for n in log)
    expected = [
        (n.originator_id, n.originator_version)
        for n in log
        if not n.topic.endswith("IdempotencyReceipt.Recorded") and n.originator_id not in hidden
    ]
    assert [originator(e) for e in events] == expected
    assert len({e["id"] for e in events}) == len(events)

    for event in events:
        assert event["specversion"] == "1.0"
        assert event["source"] == f"/tequio/{MUNICIPALITY}"
        assert event["type"] in EVENT_TYPES
        assert event["datacontenttype"] == "application/json"
        assert event["time"].tzinfo is not None

    # Nothing of the cabinet: not its name, its id, nor its commitments' texts.
    dumped = json.dumps(events, default=str)
    for secret in (CABINET, "Gabinete zonal", "Patrullajes nocturnos", "denuncias"):
        assert secret not in dumped, secret
    # Nothing of the reporter, under any key.
    for value in REPORTER.values():
        assert value not in dumped
    assert all(not k.startswith("reporter") for e in events for k in e["data"])

    case_a = f"case/{week.cases['a']}"
    routed = [e for e in events if e["subject"] == case_a and e["type"].endswith(".routed.v1")]
    assert [e["data"]["table_ids"] for e in routed] == [[LIGHTING]]
    attention = [e for e in events if e["type"] == "mx.tequio.case.attention_started.v1"]
    by_case = {e["subject"]: e["data"] for e in attention}
    assert "commitment_id" not in by_case[case_a]  # its first commitment was the cabinet's
    assert by_case[f"case/{week.cases['b']}"]["commitment_id"] == week.commitments["dump"]
    raised = next(e for e in events if e["subject"] == case_a)
    assert raised["type"] == "mx.tequio.case.raised.v1"
    assert raised["data"]["title"] == "Calle Camino Real sin alumbrado"
    assert raised["data"]["actor"] == ctx.actor


async def test_filters_and_sparse_cursors(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    feed_service: ProjectionService,
) -> None:
    week = build_week(app, ctx)
    feed_service.start()
    assert feed_service.wait(app.recorder.max_notification_id(), timeout=20)
    feed = FeedQueries(pool)
    everything = await read_all(feed, limit=1000)

    lamps = f"commitment/{week.commitments['lamps']}"
    story = await read_all(feed, limit=2, subjects=[lamps])
    assert [e["type"].split(".")[3] for e in story] == [
        "made",
        "progress_reported",
        "fulfilment_reported",
        "validated",
    ]
    assert story == [e for e in everything if e["subject"] == lamps]

    kinds = ["mx.tequio.case.raised.v1", "mx.tequio.case.declined.v1"]
    chosen = await read_all(feed, limit=3, types=kinds)
    assert chosen == [e for e in everything if e["type"] in kinds]
    assert len(chosen) == 5

    # The last page of a sparse filter moves the cursor past the events it left out.
    page = await feed.page(MUNICIPALITY, types=["mx.tequio.case.declined.v1"])
    assert len(page.events) == 1 and not page.has_more
    last = decode_position(page.cursor)
    assert last == app.recorder.max_notification_id()
    assert (await feed.page(MUNICIPALITY, after=last)).events == []


async def test_a_rebuilt_feed_is_identical(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    feed_service: ProjectionService,
) -> None:
    build_week(app, ctx)
    feed_service.start()
    assert feed_service.wait(app.recorder.max_notification_id(), timeout=20)
    feed = FeedQueries(pool)
    live = await read_all(feed, limit=1000)
    feed_service.stop()

    assert rebuild(env_for(db), "feed") == app.recorder.max_notification_id()
    assert await read_all(feed, limit=1000) == live


async def test_a_feed_rebuilt_with_little_memory_is_identical(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With room for only a few facts in memory, the feed reads the rest back from its
    tables in the middle of a batch, after the batch's queued writes are sent."""
    build_week(app, ctx)
    rebuild(env_for(db), "feed")
    feed = FeedQueries(pool)
    plenty = await read_all(feed, limit=1000)

    monkeypatch.setattr(feed_projection, "SUBJECT_CACHE_SIZE", 3)
    assert rebuild(env_for(db), "feed") == app.recorder.max_notification_id()
    assert await read_all(feed, limit=1000) == plenty
