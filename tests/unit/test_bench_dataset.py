"""The bench's simulated history saves what one command would: events in the order
their steps ran, even when a batch holds several steps on one aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.dataset import History
from eventsourcing.domain import Aggregate, event


class Thing(Aggregate):
    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Touched")
    def touch(self) -> None:
        pass


class RecordingApp:
    def __init__(self) -> None:
        self.saves: list[tuple[Any, ...]] = []

    def save(self, *objs: Any) -> None:
        self.saves.append(objs)


def history(app: RecordingApp, now: datetime) -> History:
    return History(
        app,  # type: ignore[arg-type]
        "iztapalapa",
        days=30,
        seed=1,
        receipt_fraction=0.0,
        zone=ZoneInfo("America/Mexico_City"),
        now=now,
    )


def test_a_batch_saves_events_in_the_order_their_steps_ran() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    app = RecordingApp()
    h = history(app, now)
    case = Thing("case")
    commitment: list[Thing] = []

    def make_commitment() -> list[Any]:
        # As the application's makeCommitment: the new commitment, then the case.
        made = Thing("commitment")
        commitment.append(made)
        case.touch()
        return [made, case]

    h.plan(now - timedelta(days=2), 1, lambda: [case])
    h.plan(now - timedelta(days=1), 2, make_commitment)

    assert h.play(batch_events=100) == (3, 1)

    (saved,) = app.saves
    events = [o for o in saved if not isinstance(o, Aggregate)]
    assert [(e.originator_id, type(e).__name__) for e in events] == [
        (case.id, "Created"),
        (commitment[0].id, "Created"),
        (case.id, "Touched"),
    ]


def test_a_batch_also_hands_the_library_its_aggregates_for_snapshots() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    app = RecordingApp()
    h = history(app, now)
    thing = Thing("thing")
    h.plan(now - timedelta(hours=1), 1, lambda: [thing])

    h.play(batch_events=100)

    (saved,) = app.saves
    assert [o for o in saved if isinstance(o, Aggregate)] == [thing]
    assert thing.collect_events() == []  # taken once, with the batch's events
