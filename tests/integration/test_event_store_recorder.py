"""The event store's recorder (ADR 0028): a save is one statement that takes the table
lock, so insert order stays commit order and a follower of the log misses nothing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from cases.application import TequioApplication
from cases.recorder import OrderedInsertRecorder
from tequio.database import ConnectionInfo

SAVERS = 6
SAVES_EACH = 60
SLOW = "tests.recorder:SlowToCommit"


def _events(count: int, version: int = 1) -> list[StoredEvent]:
    originator = uuid4()
    return [
        StoredEvent(originator, version + n, "tests.recorder:Noted", b"{}") for n in range(count)
    ]


def _ids_after(db: ConnectionInfo, position: int) -> list[int]:
    with psycopg.connect(db.url()) as conn:
        rows = conn.execute(
            "SELECT notification_id FROM tequio_events WHERE notification_id > %s"
            " ORDER BY notification_id",
            (position,),
        ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def store(db: ConnectionInfo) -> Iterator[TequioApplication]:
    """An application with room in its pool for every saving thread and the follower."""
    app = TequioApplication(db.eventsourcing_env(lock_timeout=1, pool_size=SAVERS + 2))
    yield app
    app.close()


def test_the_application_saves_with_the_ordered_recorder(store: TequioApplication) -> None:
    assert isinstance(store.recorder, OrderedInsertRecorder)


def test_a_save_returns_its_events_notification_ids_in_order(
    store: TequioApplication, db: ConnectionInfo
) -> None:
    before = store.recorder.max_notification_id() or 0
    ids = store.recorder.insert_events(_events(3))
    assert ids is not None and len(ids) == 3
    assert list(ids) == sorted(ids) and ids[0] > before
    assert _ids_after(db, before) == list(ids)


def test_a_follower_of_the_log_misses_no_event_while_many_threads_save(
    store: TequioApplication, db: ConnectionInfo
) -> None:
    recorder = store.recorder
    start = recorder.max_notification_id() or 0
    saving_done = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def follow() -> None:
        last = start
        while True:
            # Read once more after the last save committed, then stop.
            finished = saving_done.is_set()
            got = recorder.select_notifications(last, 500, inclusive_of_start=False)
            seen.extend(n.id for n in got)
            if got:
                last = got[-1].id
            elif finished:
                return

    def save() -> None:
        try:
            for n in range(SAVES_EACH):
                recorder.insert_events(_events(1 + n % 3))
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    follower = threading.Thread(target=follow)
    savers = [threading.Thread(target=save) for _ in range(SAVERS)]
    follower.start()
    for thread in savers:
        thread.start()
    for thread in savers:
        thread.join()
    saving_done.set()
    follower.join(30)

    assert not failures
    stored = _ids_after(db, start)
    assert len(stored) == SAVERS * sum(1 + n % 3 for n in range(SAVES_EACH))
    # Every id, once, in order: none committed behind the follower's position.
    assert seen == stored


def test_a_save_of_a_version_already_stored_is_refused_and_stores_nothing(
    store: TequioApplication, db: ConnectionInfo
) -> None:
    first = _events(2)
    store.recorder.insert_events(first)
    after_first = store.recorder.max_notification_id() or 0
    clash = [
        StoredEvent(first[1].originator_id, 2, "tests.recorder:Noted", b"{}"),
        StoredEvent(first[1].originator_id, 3, "tests.recorder:Noted", b"{}"),
    ]
    with pytest.raises(IntegrityError):
        store.recorder.insert_events(clash)
    assert _ids_after(db, after_first) == []


def test_a_save_waits_for_the_table_lock_no_longer_than_the_lock_timeout(
    store: TequioApplication, db: ConnectionInfo
) -> None:
    before = store.recorder.max_notification_id() or 0
    # One attempt (the library retries a failed save ten times).
    attempt = OrderedInsertRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]
    with psycopg.connect(db.url()) as holder:
        holder.execute("LOCK TABLE tequio_events IN EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"):
            attempt(store.recorder, _events(1))
        waited = time.monotonic() - started
        holder.rollback()
    assert 0.9 <= waited < 5
    assert _ids_after(db, before) == []


def test_an_empty_save_stores_nothing(store: TequioApplication, db: ConnectionInfo) -> None:
    before = store.recorder.max_notification_id() or 0
    assert store.recorder.insert_events([]) is None
    assert _ids_after(db, before) == []


def test_a_save_wakes_whoever_listens_to_the_log(
    store: TequioApplication, db: ConnectionInfo
) -> None:
    with psycopg.connect(db.url(), autocommit=True) as listener:
        listener.execute("LISTEN tequio_events")
        store.recorder.insert_events(_events(1))
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in heard] == ["tequio_events"]


def test_a_store_made_before_the_insert_function_still_saves(
    store: TequioApplication, db: ConnectionInfo, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(db.url(), autocommit=True) as conn:
        conn.execute("DROP FUNCTION tequio_events_insert")
    try:
        before = store.recorder.max_notification_id() or 0
        with caplog.at_level(logging.WARNING, logger="tequio.event_store"):
            ids = store.recorder.insert_events(_events(2))
        assert ids is not None and _ids_after(db, before) == list(ids)
        assert "insert function is missing" in caplog.text
    finally:
        # Made again, as by any process that makes the tables.
        store.recorder.create_table()
    assert store.recorder.insert_events(_events(1))


def _wait_for(what: str, found: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not found():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.02)


def _backends_waiting(db: ConnectionInfo, event_type: str, event: str | None = None) -> int:
    with psycopg.connect(db.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = %s AND (%s::text IS NULL OR wait_event = %s)",
            (event_type, event, event),
        ).fetchone()
    return int(row[0]) if row else 0


def test_the_table_lock_is_held_until_a_save_has_committed(
    store: TequioApplication, db: ConnectionInfo
) -> None:
    """A save whose commit is slow (a deferred trigger sleeps at commit, after the
    insert function has returned) keeps the next save waiting for the table lock, so
    the next one's ids never commit before its own."""
    with psycopg.connect(db.url(), autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION tests_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN IF NEW.topic = '{SLOW}' THEN PERFORM pg_sleep(0.6); END IF;"
            " RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER tests_slow_commit AFTER INSERT ON tequio_events"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tests_slow_commit()"
        )
    try:
        originator = uuid4()
        slow = [StoredEvent(originator, 1, SLOW, b"{}")]
        finished: dict[str, list[int]] = {}

        def save(name: str, events: list[StoredEvent]) -> None:
            finished[name] = list(store.recorder.insert_events(events) or [])

        first = threading.Thread(target=save, args=("slow", slow))
        first.start()
        _wait_for(
            "the slow save to sleep in its commit",
            lambda: bool(_backends_waiting(db, "Timeout", "PgSleep")),
        )
        second = threading.Thread(target=save, args=("next", _events(1)))
        second.start()
        _wait_for("the next save to wait for the lock", lambda: bool(_backends_waiting(db, "Lock")))
        assert "next" not in finished
        first.join(10)
        second.join(10)
        assert finished["slow"][0] < finished["next"][0]
    finally:
        with psycopg.connect(db.url(), autocommit=True) as conn:
            conn.execute("DROP TRIGGER IF EXISTS tests_slow_commit ON tequio_events")
            conn.execute("DROP FUNCTION IF EXISTS tests_slow_commit()")
