"""Events of a history being told take the story's time, in the telling thread only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from eventsourcing.domain import Aggregate

from cases.clock import events_stamped_by

STORY = datetime(2026, 9, 7, 17, tzinfo=UTC)


class Noted(Aggregate):
    pass


def test_events_made_while_telling_a_story_carry_its_time() -> None:
    with events_stamped_by(lambda: STORY):
        told = Noted()
    after = Noted()
    assert told.created_on == STORY
    assert datetime.now(tz=UTC) - after.created_on < timedelta(minutes=1)


def test_events_made_in_another_thread_meanwhile_keep_the_wall_clock() -> None:
    made: list[Noted] = []
    with events_stamped_by(lambda: STORY):
        elsewhere = threading.Thread(target=lambda: made.append(Noted()))
        elsewhere.start()
        elsewhere.join()
        told = Noted()
    assert told.created_on == STORY
    assert datetime.now(tz=UTC) - made[0].created_on < timedelta(minutes=1)


def test_a_story_told_inside_another_gives_it_back_its_clock() -> None:
    inner = STORY + timedelta(days=30)
    with events_stamped_by(lambda: STORY):
        with events_stamped_by(lambda: inner):
            assert Noted().created_on == inner
        assert Noted().created_on == STORY
