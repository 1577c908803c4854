"""Overdue is derived from the due date, the clock and the municipality's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cases.clock import FixedClock, SystemClock, days_overdue, is_overdue, today
from cases.values import CommitmentStatus as S

MEXICO_CITY = ZoneInfo("America/Mexico_City")
THURSDAY = date(2026, 11, 19)  # the dump was due on Thursday
FRIDAY = date(2026, 11, 20)


# -- is_overdue / days_overdue -------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.OPEN, S.IN_PROGRESS, S.DISPUTED])
def test_owed_commitment_due_yesterday_is_one_day_overdue(status: S) -> None:
    assert is_overdue(status, THURSDAY, FRIDAY)
    assert days_overdue(status, THURSDAY, FRIDAY) == 1


def test_commitment_due_today_is_not_overdue() -> None:
    assert not is_overdue(S.OPEN, THURSDAY, THURSDAY)
    assert days_overdue(S.OPEN, THURSDAY, THURSDAY) == 0


def test_commitment_due_tomorrow_is_not_overdue() -> None:
    assert not is_overdue(S.IN_PROGRESS, FRIDAY, THURSDAY)
    assert days_overdue(S.IN_PROGRESS, FRIDAY, THURSDAY) == 0


def test_days_overdue_counts_calendar_days() -> None:
    assert days_overdue(S.OPEN, THURSDAY, date(2026, 12, 19)) == 30


@pytest.mark.parametrize("status", [S.FULFILLED, S.VALIDATED, S.CANCELLED])
def test_commitment_no_longer_owed_is_never_overdue(status: S) -> None:
    long_after = THURSDAY + timedelta(days=365)
    assert not is_overdue(status, THURSDAY, long_after)
    assert days_overdue(status, THURSDAY, long_after) == 0


# -- today in the municipality's time zone --------------------------------------------------------


def test_today_at_one_minute_to_local_midnight_is_still_thursday() -> None:
    # 23:59 in Mexico City is already 05:59 on Friday in UTC.
    clock = FixedClock(datetime(2026, 11, 19, 23, 59, tzinfo=MEXICO_CITY))
    assert clock.now().astimezone(UTC).date() == FRIDAY
    assert today(clock, MEXICO_CITY) == THURSDAY
    assert not is_overdue(S.OPEN, THURSDAY, today(clock, MEXICO_CITY))


def test_overdue_flips_at_local_midnight() -> None:
    clock = FixedClock(datetime(2026, 11, 19, 23, 59, tzinfo=MEXICO_CITY))
    clock.advance(timedelta(minutes=2))  # 00:01 on Friday in Mexico City
    assert today(clock, MEXICO_CITY) == FRIDAY
    assert is_overdue(S.OPEN, THURSDAY, today(clock, MEXICO_CITY))
    assert days_overdue(S.OPEN, THURSDAY, today(clock, MEXICO_CITY)) == 1


def test_utc_midnight_does_not_make_anything_overdue() -> None:
    # 00:01 UTC on Friday is 18:01 on Thursday in Mexico City.
    clock = FixedClock(datetime(2026, 11, 20, 0, 1, tzinfo=UTC))
    assert today(clock, MEXICO_CITY) == THURSDAY
    assert not is_overdue(S.OPEN, THURSDAY, today(clock, MEXICO_CITY))


def test_today_depends_on_the_time_zone_asked_for() -> None:
    clock = FixedClock(datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    assert today(clock, MEXICO_CITY) == THURSDAY
    assert today(clock, ZoneInfo("Europe/Madrid")) == FRIDAY


# -- the clocks themselves ----------------------------------------------------------------------


def test_fixed_clock_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError):
        FixedClock(datetime(2026, 11, 16, 10, 0))
    clock = FixedClock(datetime(2026, 11, 16, 10, 0, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 11, 17, 10, 0))
    assert clock.now() == datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


def test_fixed_clock_stands_still_until_moved() -> None:
    at = datetime(2026, 11, 16, 10, 0, tzinfo=MEXICO_CITY)
    clock = FixedClock(at)
    assert clock.now() == clock.now() == at
    clock.set(at + timedelta(days=3))
    assert today(clock, MEXICO_CITY) == THURSDAY


def test_system_clock_is_aware() -> None:
    assert SystemClock().now().tzinfo is not None
