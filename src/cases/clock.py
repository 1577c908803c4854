"""Time as the municipality lives it: an injectable clock, and what "overdue" means.

Overdue is derived from the due date, the clock and the municipality's time
zone whenever it is asked, never stored: at midnight a commitment becomes
overdue with no job having run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from eventsourcing.domain import CanCreateTimestamp

from cases.values import CommitmentStatus

# A commitment is still owed while it is in one of these states.
OWED = frozenset({CommitmentStatus.OPEN, CommitmentStatus.IN_PROGRESS, CommitmentStatus.DISPUTED})


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(tz=UTC)


class FixedClock:
    """A clock that stands still until moved: for tests and for replaying a day."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def today(clock: Clock, tz: ZoneInfo) -> date:
    return clock.now().astimezone(tz).date()


def is_overdue(status: CommitmentStatus, due_on: date, on: date) -> bool:
    return status in OWED and on > due_on


def days_overdue(status: CommitmentStatus, due_on: date, on: date) -> int:
    return (on - due_on).days if is_overdue(status, due_on, on) else 0


@contextmanager
def events_stamped_by(clock: Callable[[], datetime]) -> Iterator[None]:
    """Events created inside take their timestamp from ``clock`` rather than the wall
    clock, in this whole process: for telling a history that already happened (the
    demo's weeks, the bench's months), never in a process that serves requests."""
    original = CanCreateTimestamp.__dict__["create_timestamp"]
    CanCreateTimestamp.create_timestamp = staticmethod(clock)  # type: ignore[method-assign]
    try:
        yield
    finally:
        CanCreateTimestamp.create_timestamp = original  # type: ignore[method-assign]
