"""What the read models are handed: which events a batch decodes at all, and how an
event's facts are written as JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import Enum
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from cases.case import Case
from cases.commitment import Commitment
from cases.receipts import IdempotencyReceipt
from projections.base import jsonable, jsonb
from projections.registry import PROJECTIONS
from projections.runtime import topic_filter


def projections(*names: str) -> list:  # type: ignore[type-arg]
    # handles() reads only the class's handlers: no view is needed to ask it.
    return [PROJECTIONS[name][0](object()) for name in names]  # type: ignore[arg-type]


def test_idempotency_receipts_are_not_decoded_for_any_read_model() -> None:
    wanted = topic_filter(projections(*PROJECTIONS))

    assert not wanted(get_topic(IdempotencyReceipt.Recorded))
    assert wanted(get_topic(Commitment.ProgressReported))
    assert wanted(get_topic(Case.Raised))


def test_an_event_is_decoded_when_any_read_model_of_the_batch_handles_it() -> None:
    assert not topic_filter(projections("directory", "forums"))(
        get_topic(Commitment.ProgressReported)
    )
    assert topic_filter(projections("directory", "scorecards"))(
        get_topic(Commitment.ProgressReported)
    )


def test_an_unknown_topic_is_decoded_so_that_decoding_reports_it() -> None:
    assert topic_filter(projections(*PROJECTIONS))("nowhere.module:Missing")


class Colour(Enum):
    RED = "red"


def test_facts_are_written_as_the_json_the_read_models_always_wrote() -> None:
    facts = {
        "at": datetime(2026, 11, 16, 16, 0, 5, 123456, tzinfo=UTC),
        "due_on": date(2026, 11, 30),
        "id": UUID("12345678-1234-5678-1234-567812345678"),
        "colour": Colour.RED,
        "tags": {"b", "a", "c"},
        "by_day": {3: [date(2026, 1, 2)]},
        "nested": [{"when": date(2026, 2, 3)}, None, 1.5, True],
    }

    wrapped = jsonb(facts)
    written = json.loads(wrapped.dumps(wrapped.obj))

    assert written == jsonable(facts)
    assert written["tags"] == ["a", "b", "c"]
    assert written["at"] == "2026-11-16T16:00:05.123456+00:00"


class OnlySkips:
    """A view that lets a read model only record its position."""

    def __init__(self) -> None:
        self.skipped: list[object] = []

    def skip(self, tracking: object) -> None:
        self.skipped.append(tracking)

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a read model used {name!r} for an event it does not handle")


class SomethingNobodyHandles:
    originator_id = "x"
    originator_version = 1


@pytest.mark.parametrize("name", list(PROJECTIONS))
def test_an_event_a_read_model_does_not_handle_only_moves_its_position(name: str) -> None:
    # What ``handles`` answers (False) must be what the read model does: a runner
    # leaves such events undecoded.
    view = OnlySkips()
    projection = PROJECTIONS[name][0](view)  # type: ignore[arg-type]
    assert not projection.handles(SomethingNobodyHandles)
    tracking = Tracking("Tequio", 7)

    projection.process_event(SomethingNobodyHandles(), tracking)

    assert view.skipped == [tracking]
