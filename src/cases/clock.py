"""Time as the municipality lives it: an injectable clock, and what "overdue" means.

Overdue is derived from the due date, the clock and the municipality's time
zone whenever it is asked, never stored: at midnight a commitment becomes
overdue with no job having run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


# The clock of the history being told in this context (thread), if any.
_STORY_CLOCK: ContextVar[Callable[[], datetime] | None] = ContextVar("story_clock", default=None)


@contextmanager
def events_stamped_by(clock: Callable[[], datetime]) -> Iterator[None]:
    """Events created inside, in this thread, take their timestamp from ``clock``
    rather than the wall clock: for telling a history that already happened (the
    demo's weeks, the bench's months). The library's timestamp is replaced for the
    whole process meanwhile, but events made in any other thread keep the wall
    clock's."""
    original = CanCreateTimestamp.__dict__["create_timestamp"]
    wall_clock = original.__func__

    def stamp() -> datetime:
        story = _STORY_CLOCK.get()
        return story() if story is not None else wall_clock()

    token = _STORY_CLOCK.set(clock)
    CanCreateTimestamp.create_timestamp = staticmethod(stamp)  # type: ignore[method-assign]
    try:
        yield
    finally:
        CanCreateTimestamp.create_timestamp = original  # type: ignore[method-assign]
        _STORY_CLOCK.reset(token)
