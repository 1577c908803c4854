"""Running the read models: the projections' thread, their status, and rebuilds.

``ProjectionService`` runs the projections of this process in one thread
(ADR 0014). Each batch of events (up to ``batch_size``) is read once, decoded
once and applied to every read model in one pipelined transaction, each with its
tracking row (its position) and an announcement on ``PROGRESS_CHANNEL``: an
event a read model ignores costs it no SQL. If that transaction fails, each read
model applies the batch alone, so one that fails leaves the others' applied.
For each projection (a ``_Runner``), the service:

- is woken by one LISTEN connection when events are recorded, and looks anyway
  every ``check_interval`` seconds (a lost wake-up, upstream issue #305, only
  delays);
- retries, with exponential backoff (capped), when a handler fails, having
  applied the events before the failing one; it records the failure
  (``last_error`` names the notification id and event);
- holds a PostgreSQL advisory lock for the projection, so two processes never
  run the same projection at once (the second stands by) and a rebuild refuses
  to run while the projection is running anywhere;
- writes a heartbeat row to ``projections_status`` so ``tequio projections
  status`` in another process can show errors and restarts.

Each view keeps its own small psycopg pool (``POSTGRES_POOL_SIZE=1``,
``POSTGRES_MAX_OVERFLOW=2``): the embedded server allows 100 connections.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import psycopg
from eventsourcing.persistence import (
    InfrastructureFactory,
    Notification,
    PersistenceError,
    Tracking,
)
from eventsourcing.utils import Environment, resolve_topic, retry
from psycopg import sql
from psycopg.rows import DictRow, dict_row, tuple_row

from cases.application import TequioApplication
from projections.base import (
    Pending,
    ProjectionEventError,
    TequioProjection,
    TequioView,
    Unread,
    roomy_send_buffer,
)
from projections.positions import PROGRESS_CHANNEL, announcement
from projections.registry import (
    HEARTBEAT_STALE_AFTER,
    PROJECTIONS,
    STATUS_TABLE,
    select,
    tracking_table,
)

log = logging.getLogger("tequio.projections")
T = TypeVar("T")

APPLICATION_NAME = TequioApplication.name
EVENTS_TABLE = f"{APPLICATION_NAME.lower()}_events"
LOCK_NAMESPACE = "tequio.projection"

CHECK_INTERVAL = 2.0
# Live, a batch is what was recorded since the last one (a few events); catching up,
# a bigger batch shares more of each transaction's cost and makes longer runs of
# grouped writes (ADR 0020): 500 -> 2,000 took a catch-up of 200,000 events from
# 6,700 to 7,600 events/s, and a rebuild in one process from 5,600 to 6,300.
BATCH_SIZE = 2000
BACKOFF_INITIAL = 0.5
BACKOFF_CAP = 30.0
REBUILD_BATCH = 2000
# A rebuild of at least this many events is split over processes (see ``rebuild``).
PARALLEL_REBUILD_EVENTS = 50_000
# A read model with nothing in it, this many events behind or more, fills its tables
# first and makes its secondary indexes once it has caught up (ADR 0018).
FIRST_FILL_EVENTS = 20_000
# Each read model's share of a replay's time (measured on the bench's data set, each
# alone less reading the log), so that parallel rebuild groups take about as long.
REBUILD_COST = {
    "feed": 1.1,
    "timelines": 1.1,
    "commitments": 0.85,
    "cases": 0.8,
    "scorecards": 0.45,
    "forums": 0.4,
    "directory": 0.15,
}

CREATE_STATUS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {STATUS_TABLE} ("
    " name text PRIMARY KEY, owner text NOT NULL, running boolean NOT NULL,"
    " position bigint, head bigint, last_error text, last_error_at timestamptz,"
    " error_count integer NOT NULL DEFAULT 0, restarts integer NOT NULL DEFAULT 0,"
    " heartbeat_at timestamptz NOT NULL)"
)


class ProjectionBusy(RuntimeError):
    """A rebuild was asked for while the projection runs somewhere."""


# -- connections ----------------------------------------------------------------------


def pooled_env(env: Mapping[str, str], pool_size: int = 1, max_overflow: int = 2) -> dict[str, str]:
    """The library env with a small psycopg pool (each runner has two pools of its own)."""
    out = dict(env)
    out["POSTGRES_POOL_SIZE"] = str(pool_size)
    out["POSTGRES_MAX_OVERFLOW"] = str(max_overflow)
    return out


def connect(env: Mapping[str, str]) -> psycopg.Connection[DictRow]:
    """A plain autocommit connection to the database the library env names."""
    kwargs: dict[str, Any] = {
        "host": env.get("POSTGRES_HOST", "localhost"),
        "port": int(env.get("POSTGRES_PORT", "5432")),
        "dbname": env["POSTGRES_DBNAME"],
        "user": env.get("POSTGRES_USER", "postgres"),
        "connect_timeout": int(float(env.get("POSTGRES_CONNECT_TIMEOUT", "5"))),
    }
    if env.get("POSTGRES_PASSWORD"):
        kwargs["password"] = env["POSTGRES_PASSWORD"]
    return psycopg.connect(autocommit=True, row_factory=dict_row, **kwargs)


def _try_lock(conn: psycopg.Connection[DictRow], name: str) -> bool:
    row = conn.execute(
        "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s)) AS locked",
        (LOCK_NAMESPACE, name),
    ).fetchone()
    return bool(row and row["locked"])


def make_view(name: str, env: Mapping[str, str]) -> TequioView:
    """The projection's view as the runner makes it (tables created if missing)."""
    _, view_class = PROJECTIONS[name]
    environment = Environment(name, {**os.environ, **env})
    return (
        InfrastructureFactory[TequioView].construct(env=environment).tracking_recorder(view_class)
    )


def _retry(make: Callable[[], T], attempts: int = 5) -> T:
    """For start-up races between processes creating the same tables."""
    for attempt in range(attempts):
        try:
            return make()
        except PersistenceError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(tz=UTC)


# -- reading positions and lag ------------------------------------------------------------


class _Monitor:
    """Positions, head and lag, read through one small application (thread-safe)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._app = TequioApplication(dict(env))

    def close(self) -> None:
        self._app.close()

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[DictRow]]:
        with self._app.recorder.datastore.get_connection() as conn, conn.cursor() as curs:  # type: ignore[attr-defined]
            yield curs

    def head(self) -> int:
        return self._app.recorder.max_notification_id() or 0

    def channel(self) -> str:
        """The channel the event store notifies when events are recorded."""
        return str(self._app.recorder.channel_name)  # type: ignore[attr-defined]

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        with self._cursor() as curs:
            return _positions(curs, names)

    def lag(self, position: int, head: int) -> tuple[int, float | None]:
        """(events not yet processed, age in seconds of the oldest of them)."""
        if position >= head:
            return 0, 0.0
        with self._cursor() as curs:
            curs.execute(
                f"SELECT count(*) AS n FROM {EVENTS_TABLE}"
                " WHERE notification_id > %s AND notification_id <= %s",
                (position, head),
            )
            row = curs.fetchone()
            events = int(row["n"]) if row else 0
        oldest = self._app.recorder.select_notifications(
            start=position, limit=1, inclusive_of_start=False
        )
        if not oldest:
            return events, 0.0
        try:
            event: Any = self._app.mapper.to_domain_event(oldest[0])
            timestamp: datetime = event.timestamp
        except Exception:  # an undecodable event still has a lag in events
            return events, None
        return events, max(0.0, (_now() - timestamp).total_seconds())


def _positions(curs: psycopg.Cursor[DictRow], names: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name in names:
        table = tracking_table(name)
        curs.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (table,))
        present = curs.fetchone()
        if not present or not present["present"]:
            found[name] = 0
            continue
        curs.execute(
            f"SELECT notification_id FROM {table} WHERE application_name = %s",
            (APPLICATION_NAME,),
        )
        row = curs.fetchone()
        found[name] = int(row["notification_id"]) if row and row["notification_id"] else 0
    return found


def _status_row(
    name: str, position: int, head: int, lag: tuple[int, float | None], **state: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "position": position,
        "head": head,
        "lag_events": lag[0],
        "lag_seconds": lag[1],
        "running": state.get("running", False),
        "standby": state.get("standby", False),
        "last_error": state.get("last_error"),
        "last_error_at": state.get("last_error_at"),
        "error_count": state.get("error_count", 0),
        "restarts": state.get("restarts", 0),
    }


# -- supervision ----------------------------------------------------------------------------


class _Runner:
    """One projection as the service runs it: its view, its lock, its position, its
    errors. The service's one thread drives every runner it holds the lock for."""

    def __init__(
        self,
        service: ProjectionService,
        name: str,
        projection_class: type[TequioProjection[Any]],
        view_class: type[TequioView],
    ) -> None:
        self.service = service
        self.name = name
        self.projection_class = projection_class
        self.view_class = view_class
        self.view: TequioView | None = None
        self.projection: TequioProjection[Any] | None = None
        self.running = False
        self.standby = False
        self.position = 0
        self.head = 0
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.error_count = 0
        self.restarts = 0
        self.first_attempt = threading.Event()
        # Filling empty tables without their secondary indexes, until caught up.
        self.filling = False
        self.retry_at = 0.0
        self._backoff = service.backoff_initial
        self._lock_conn: psycopg.Connection[DictRow] | None = None

    def state(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "standby": self.standby,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "error_count": self.error_count,
            "restarts": self.restarts,
        }

    # -- opening and closing the view --

    def try_open(self, now: float) -> None:
        """Takes the lock and opens the view (tables made if missing), or stands by."""
        try:
            if not self._hold_lock():
                self.retry_at = now + self.service.check_interval
                return
            view = make_view(self.name, self.service.runner_env)
            self.view, self.projection = view, self.projection_class(view)
            self.position = view.max_tracking_id(APPLICATION_NAME) or 0
            if self.position == 0 and self._log_head() >= FIRST_FILL_EVENTS:
                view.drop_secondary_indexes()
                self.filling = True
                log.info("projection %s: filling from zero; indexes when caught up", self.name)
            self.running = True
        except Exception as error:
            self.failed(error, now)
        finally:
            self.first_attempt.set()

    def caught_up(self) -> None:
        """The log is read to its end: a first fill makes its indexes now."""
        if self.filling and self.view is not None:
            self.view.create_secondary_indexes()
            self.filling = False
            log.info("projection %s: caught up; indexes made", self.name)

    def _log_head(self) -> int:
        assert self._lock_conn is not None
        row = self._lock_conn.execute(
            f"SELECT coalesce(max(notification_id), 0) AS head FROM {EVENTS_TABLE}"
        ).fetchone()
        return int(row["head"]) if row else 0

    def close(self) -> None:
        self.running = False
        # Reopened, the view makes its tables and their indexes again (if not exists).
        self.filling = False
        view, self.view, self.projection = self.view, None, None
        if view is not None:
            with suppress(Exception):
                view.datastore.close()

    def stop(self) -> None:
        self.close()
        self._release_lock()

    # -- applying events --

    def pending(self, events: Sequence[tuple[Any, Tracking]]) -> Sequence[tuple[Any, Tracking]]:
        # Every runner is usually at the batch's start: then all of it is new.
        if not events or events[0][1].notification_id > self.position:
            return events
        return [e for e in events if e[1].notification_id > self.position]

    def part(self, events: Sequence[tuple[Any, Tracking]]) -> _Part:
        assert self.view is not None and self.projection is not None
        return _Part(self.name, self.view, self.projection, events)

    def apply_alone(self, events: Sequence[tuple[Any, Tracking]]) -> None:
        """The batch in a transaction of its own. When a handler fails, the events
        before the failing one are applied on their own and the error is raised, so
        the projection stops just before the event it cannot apply."""
        view, projection = self.view, self.projection
        assert view is not None and projection is not None
        try:
            _apply_batch(view, projection, events, pipelined=True, announce=self.name)
        except Exception as pipelined_error:
            # Unpipelined, the error names the event that caused it (or it was transient).
            log.debug("projection %s: batch failed (%s); again", self.name, pipelined_error)
            try:
                _apply_batch(view, projection, events, pipelined=False, announce=self.name)
            except ProjectionEventError as error:
                before = [e for e in events if e[1].notification_id < error.notification_id]
                if before:
                    _apply_batch(view, projection, before, pipelined=False, announce=self.name)
                    self.position = before[-1][1].notification_id
                raise
        self.applied(events)

    def applied(self, events: Sequence[tuple[Any, Tracking]]) -> None:
        self.position = events[-1][1].notification_id
        self._backoff = self.service.backoff_initial

    # -- failures --

    def failed(self, error: Exception, now: float) -> None:
        """Records the failure, closes the view and retries after a (growing) pause."""
        self.error_count += 1
        self.restarts += 1
        self.last_error = str(error)
        self.last_error_at = _now()
        if isinstance(error, ProjectionEventError):
            log.error(
                "projection %s failed at notification %s (%s); retrying in %.1f s",
                self.name,
                error.notification_id,
                error.event_type,
                self._backoff,
                exc_info=error.error,
            )
        else:
            log.error(
                "projection %s failed: %s; retrying in %.1f s",
                self.name,
                error,
                self._backoff,
                exc_info=error,
            )
        self.close()
        self.retry_at = now + self._backoff
        self._backoff = min(self._backoff * 2, self.service.backoff_cap)
        with suppress(Exception):
            self.heartbeat()

    # -- the advisory lock and the status row --

    def _hold_lock(self) -> bool:
        """True once this process holds the projection's lock; False: standing by."""
        if self._lock_conn is not None and not self._lock_conn.closed:
            return True
        conn = connect(self.service.env)
        with suppress(psycopg.errors.UniqueViolation):  # two creators at once: it exists
            conn.execute(CREATE_STATUS_TABLE)
        if _try_lock(conn, self.name):
            self._lock_conn = conn
            self.standby = False
            return True
        conn.close()
        if not self.standby:
            log.warning("projection %s runs in another process: standing by", self.name)
        self.standby = True
        return False

    def _release_lock(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is None:
            return
        with suppress(Exception):
            self.heartbeat(conn)
        with suppress(Exception):
            conn.close()

    def heartbeat(self, conn: psycopg.Connection[DictRow] | None = None) -> None:
        conn = conn or self._lock_conn
        if conn is None:
            return
        try:
            conn.execute(
                f"INSERT INTO {STATUS_TABLE} (name, owner, running, position, head, last_error,"
                " last_error_at, error_count, restarts, heartbeat_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
                " ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner,"
                " running = EXCLUDED.running, position = EXCLUDED.position,"
                " head = EXCLUDED.head, last_error = EXCLUDED.last_error,"
                " last_error_at = EXCLUDED.last_error_at, error_count = EXCLUDED.error_count,"
                " restarts = EXCLUDED.restarts, heartbeat_at = now()",
                (
                    self.name,
                    _owner(),
                    self.running and not self.service.stopping,
                    self.position,
                    self.head,
                    self.last_error,
                    self.last_error_at,
                    self.error_count,
                    self.restarts,
                ),
            )
        except psycopg.Error:
            # The lock went with the connection: give the view up and start over.
            with suppress(Exception):
                conn.close()
            if conn is self._lock_conn:
                self._lock_conn = None
                self.close()
            raise


class ProjectionService:
    """Runs the projections (all, or the named ones) until stopped.

    ``start()`` returns once every projection has made its first attempt (its
    tables exist, unless the attempt failed); ``stop()`` stops and joins them.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        names: list[str] | None = None,
        *,
        check_interval: float = CHECK_INTERVAL,
        batch_size: int = BATCH_SIZE,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_cap: float = BACKOFF_CAP,
        pool_size: int = 1,
        max_overflow: int = 2,
    ) -> None:
        self.env = dict(env)
        self.names = select(names)
        # The runners' applications only read: the event store's tables are made
        # once by start() (concurrent CREATE OR REPLACE FUNCTION statements collide).
        self.runner_env = pooled_env(env, pool_size, max_overflow)
        # A runner uses its connections back to back; a broken one fails the batch,
        # which rolls back and is retried on fresh connections. Pinging on every
        # checkout would be one more round trip per batch.
        self.runner_env["POSTGRES_PRE_PING"] = "n"
        self.runner_env[f"{APPLICATION_NAME.upper()}_CREATE_TABLE"] = "n"
        self.check_interval = check_interval
        self.batch_size = batch_size
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self._stopping = threading.Event()
        # Set by the listener when events are recorded (and by stop()).
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._runners: dict[str, _Runner] = {}
        # Which topics the active read models handle, per set of them (the same most
        # of the time).
        self._topic_filters: dict[tuple[str, ...], Callable[[str], bool]] = {}
        self._monitor: _Monitor | None = None
        self._started = False

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self, timeout: float = 30.0) -> None:
        if self._started:
            return
        # One small application first: it creates the event store's tables, so the
        # runners' applications never race to create them.
        self._monitor = _retry(lambda: _Monitor(pooled_env(self.env, 1, 1)))
        self._started = True
        self._runners = {name: _Runner(self, name, *PROJECTIONS[name]) for name in self.names}
        self._stopping.clear()
        channel = self._monitor.channel()
        self._listener = threading.Thread(
            target=self._listen, args=(channel,), name="projections-listen", daemon=True
        )
        self._listener.start()
        self._thread = threading.Thread(target=self._run, name="projections", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        for runner in self._runners.values():
            runner.first_attempt.wait(max(0.0, deadline - time.monotonic()))

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._wakeup.set()
        deadline = time.monotonic() + timeout
        for thread in (self._thread, self._listener):
            if thread is not None:
                thread.join(max(0.1, deadline - time.monotonic()))
                if thread.is_alive():
                    log.warning("%s did not stop within %.0f s", thread.name, timeout)
        self._thread = self._listener = None
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None
        self._started = False

    # -- the projections' thread --

    def _run(self) -> None:
        """Reads each batch of events once, decodes it once and applies it to every
        read model this process runs, in one transaction (ADR 0014)."""
        runners = list(self._runners.values())
        app: TequioApplication | None = None
        next_beat = 0.0
        try:
            while not self._stopping.is_set():
                self._wakeup.clear()
                now = time.monotonic()
                for runner in runners:
                    if runner.view is None and now >= runner.retry_at:
                        runner.try_open(now)
                active = [r for r in runners if r.view is not None]
                got = 0
                try:
                    if active:
                        app = app or TequioApplication(self.runner_env)
                        got = self._step(app, active)
                    if now >= next_beat:
                        self._beat(app, runners)
                        next_beat = now + self.check_interval
                except Exception as error:
                    # Reading the log failed (PostgreSQL down?): every runner starts over.
                    for runner in active:
                        runner.failed(error, time.monotonic())
                    if app is not None:
                        with suppress(Exception):
                            app.close()
                        app = None
                if got < self.batch_size:
                    for runner in active:
                        if runner.filling:
                            self._make_indexes(runner)
                    self._wakeup.wait(self._pause(runners))
        finally:
            for runner in runners:
                runner.stop()
                runner.first_attempt.set()
            if app is not None:
                with suppress(Exception):
                    app.close()

    @staticmethod
    def _make_indexes(runner: _Runner) -> None:
        try:
            runner.caught_up()
        except Exception as error:
            runner.failed(error, time.monotonic())

    def _pause(self, runners: Sequence[_Runner]) -> float:
        """Until the next look: the check interval, or sooner if a runner retries."""
        now = time.monotonic()
        waiting = [r.retry_at - now for r in runners if r.view is None and r.retry_at > now]
        return max(0.0, min([self.check_interval, *waiting]))

    def _step(self, app: TequioApplication, active: Sequence[_Runner]) -> int:
        start = min(r.position for r in active)
        notifications = notifications_after(app, start, self.batch_size)
        if not notifications:
            return 0
        events = decoded(app, notifications, self._wanted(active))
        todo = [(r, pending) for r in active if (pending := r.pending(events))]
        try:
            _apply_together([r.part(pending) for r, pending in todo])
            for runner, pending in todo:
                runner.applied(pending)
        except Exception as error:
            # One at a time: a read model that fails leaves the others' batches applied.
            log.debug("projections: the joint batch failed (%s); one at a time", error)
            for runner, pending in todo:
                try:
                    runner.apply_alone(pending)
                except Exception as failure:
                    runner.failed(failure, time.monotonic())
        return len(notifications)

    def _wanted(self, active: Sequence[_Runner]) -> Callable[[str], bool]:
        names = tuple(r.name for r in active)
        wanted = self._topic_filters.get(names)
        if wanted is None:
            projections = [r.projection for r in active if r.projection is not None]
            wanted = topic_filter(projections)
            if len(projections) == len(active):
                self._topic_filters[names] = wanted
        return wanted

    def _beat(self, app: TequioApplication | None, runners: Sequence[_Runner]) -> None:
        head = (app.recorder.max_notification_id() or 0) if app is not None else None
        for runner in runners:
            if head is not None:
                runner.head = head
            try:
                runner.heartbeat()
            except psycopg.Error as error:
                log.warning("projection %s lost its lock connection: %s", runner.name, error)

    def _listen(self, channel: str) -> None:
        """Wakes the projections' thread when the event store notifies its channel.

        When this connection breaks, the thread still looks for events every
        ``check_interval`` seconds until it is back.
        """
        while not self._stopping.is_set():
            try:
                with connect(self.env) as conn:
                    conn.execute(sql.SQL("LISTEN {0}").format(sql.Identifier(channel)))
                    self._wakeup.set()  # what was recorded while nobody listened
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.1, stop_after=1):
                            self._wakeup.set()
            except Exception as error:
                log.debug("projections: listening on %s failed: %s", channel, error)
                self._stopping.wait(self.check_interval)

    def __enter__(self) -> ProjectionService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def status(self) -> list[dict[str, Any]]:
        """Per projection: ``{name, position, head, lag_events, lag_seconds, running,
        standby, last_error, last_error_at, error_count, restarts}``."""
        monitor = self._monitor
        rows = []
        positions: dict[str, int] = {}
        head = 0
        if monitor is not None:
            try:
                head = monitor.head()
                positions = monitor.positions(self.names)
            except Exception as error:
                log.warning("projection status: cannot read positions: %s", error)
        for name in self.names:
            runner = self._runners.get(name)
            position = positions.get(name, 0)
            lag: tuple[int, float | None] = (max(0, head - position), None)
            if monitor is not None and name in positions:
                with suppress(Exception):
                    lag = monitor.lag(position, head)
            state = runner.state() if runner else {}
            rows.append(_status_row(name, position, head, lag, **state))
        return rows

    def positions(self) -> dict[str, int]:
        if self._monitor is None:
            return {}
        return self._monitor.positions(self.names)

    def wait(self, notification_id: int | None, timeout: float = 5.0) -> bool:
        """True once every projection of this service has processed ``notification_id``."""
        if notification_id is None:
            return True
        deadline = time.monotonic() + timeout
        interval = 0.002
        while True:
            try:
                reached = self.positions()
            except Exception:
                reached = {}
            if reached and min(reached.values()) >= notification_id:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(interval, remaining))
            interval = min(interval * 2, 0.05)


# -- without running anything -------------------------------------------------------------


def status(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The status of every projection as stored in the database (for the CLI).

    ``running`` is true when a process running the projection wrote a heartbeat
    recently; errors and restarts are those that process reported.
    """
    names = list(PROJECTIONS)
    monitor = _Monitor(pooled_env(env, 1, 0))
    try:
        head = monitor.head()
        positions = monitor.positions(names)
        stale_after = max(3 * CHECK_INTERVAL, HEARTBEAT_STALE_AFTER)
        reported: dict[str, dict[str, Any]] = {}
        with connect(env) as conn:
            present = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL AS present", (STATUS_TABLE,)
            ).fetchone()
            if present and present["present"]:
                for row in conn.execute(
                    f"SELECT *, extract(epoch FROM now() - heartbeat_at) AS age FROM {STATUS_TABLE}"
                ):
                    reported[row["name"]] = row
        rows = []
        for name in names:
            info = reported.get(name, {})
            alive = bool(info) and info["running"] and float(info["age"]) < stale_after
            rows.append(
                _status_row(
                    name,
                    positions[name],
                    head,
                    monitor.lag(positions[name], head),
                    running=alive,
                    last_error=info.get("last_error"),
                    last_error_at=info.get("last_error_at"),
                    error_count=info.get("error_count", 0),
                    restarts=info.get("restarts", 0),
                )
            )
        return rows
    finally:
        monitor.close()


def rebuild(
    env: Mapping[str, str],
    name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    processes: int | None = None,
) -> int:
    """Drops the projection's tables (all projections when ``name`` is None) and its
    tracking table, recreates them and replays every event from the event store.

    Events are read once, in batches, and each batch is applied to every view in one
    pipelined transaction, each view with its tracking position (if that fails, each
    view alone, unpipelined, so the error names the event). Run it with the projection
    stopped: ``ProjectionBusy`` if it runs anywhere. Returns the number of events.

    Replaying is Python-bound, so with ``processes`` > 1 the views are split into that
    many groups, each rebuilt by a process of its own (each reads the whole log).
    The default is one process below ``PARALLEL_REBUILD_EVENTS`` events (starting a
    process costs about a second) and ``min(2, cpus)`` above.
    """
    names = select([name] if name else None)
    if processes is None:
        processes = 1 if _count_events(env) < PARALLEL_REBUILD_EVENTS else min(2, _cpus())
    groups = rebuild_groups(names, processes)
    if len(groups) > 1:
        return _rebuild_in_processes(env, groups, progress)
    return _rebuild(env, names, progress)


def _rebuild(
    env: Mapping[str, str],
    names: list[str],
    progress: Callable[[int, int], None] | None = None,
) -> int:
    small = pooled_env(env, 1, 1)
    small["POSTGRES_PRE_PING"] = "n"  # one connection, used back to back
    app = TequioApplication(small)
    views: dict[str, TequioView] = {}
    try:
        with connect(env) as conn:
            busy = [n for n in names if not _try_lock(conn, n)]
            if busy:
                raise ProjectionBusy(_busy_message(busy))
            for n in names:
                view_class = PROJECTIONS[n][1]
                tables = [*view_class.TABLES, tracking_table(n)]
                conn.execute(f"DROP TABLE IF EXISTS {', '.join(tables)} CASCADE")
            projections: dict[str, TequioProjection[Any]] = {}
            for n in names:
                views[n] = make_view(n, small)
                views[n].drop_secondary_indexes()
                projections[n] = PROJECTIONS[n][0](views[n])
            wanted = topic_filter(list(projections.values()))
            head = app.recorder.max_notification_id() or 0
            row = conn.execute(
                f"SELECT count(*) AS n FROM {EVENTS_TABLE} WHERE notification_id <= %s", (head,)
            ).fetchone()
            total = int(row["n"]) if row else 0
            done = 0
            last = 0
            if progress:
                progress(0, total)
            while True:
                notifications = notifications_after(app, last, REBUILD_BATCH)
                if not notifications:
                    break
                events = decoded(app, notifications, wanted)
                try:
                    _apply_together(
                        [_Part(n, views[n], projections[n], events) for n in names],
                        announce=False,
                    )
                except Exception:
                    # Each alone, unpipelined: the error names the view and the event.
                    for n in names:
                        _apply_batch(views[n], projections[n], events, pipelined=False)
                done += len(notifications)
                last = notifications[-1].id
                if progress:
                    progress(done, max(total, done))
            for n in names:
                views[n].create_secondary_indexes()
            log.debug("rebuilt %s from %s events", ", ".join(names), done)
            return done
    except BaseException:
        # What was filled keeps its indexes, if PostgreSQL is still there (if not, the
        # runners make them when they start).
        for view in views.values():
            with suppress(Exception):
                view.create_secondary_indexes()
        raise
    finally:
        for view in views.values():
            with suppress(Exception):
                view.datastore.close()
        app.close()


def rebuild_groups(names: Sequence[str], processes: int) -> list[list[str]]:
    """``names`` in at most ``processes`` groups of about equal replay cost."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(processes, len(names))))]
    costs = [0.0] * len(groups)
    for name in sorted(names, key=lambda n: -REBUILD_COST.get(n, 1.0)):
        cheapest = costs.index(min(costs))
        groups[cheapest].append(name)
        costs[cheapest] += REBUILD_COST.get(name, 1.0)
    return [sorted(group, key=list(PROJECTIONS).index) for group in groups if group]


def _rebuild_in_processes(
    env: Mapping[str, str],
    groups: list[list[str]],
    progress: Callable[[int, int], None] | None,
) -> int:
    """Each group rebuilt by a process of its own; progress is the slowest one's."""
    with connect(env) as conn:  # refuse before anything is dropped (the locks go with it)
        busy = [n for group in groups for n in group if not _try_lock(conn, n)]
    if busy:
        raise ProjectionBusy(_busy_message(busy))
    context = multiprocessing.get_context("spawn")
    messages: Any = context.Queue()
    children = [
        context.Process(
            target=_rebuild_child, args=(dict(env), group, index, messages), daemon=True
        )
        for index, group in enumerate(groups)
    ]
    for child in children:
        child.start()
    done = [0] * len(groups)
    totals = [0] * len(groups)
    results: dict[int, int] = {}
    failure: BaseException | None = None
    try:
        while len(results) < len(groups) and failure is None:
            try:
                kind, index, *values = messages.get(timeout=1.0)
            except queue.Empty:
                dead = [c for i, c in enumerate(children) if i not in results and not c.is_alive()]
                if dead:
                    failure = RuntimeError(
                        f"a rebuild process ended without an answer (exit code {dead[0].exitcode})"
                    )
                continue
            if kind == "progress":
                done[index], totals[index] = values
                if progress:
                    progress(min(done), max(totals))
            elif kind == "done":
                results[index] = values[0]
                done[index] = values[0]
            else:
                failure = values[0]
    finally:
        if failure is not None:
            for child in children:
                child.terminate()
        for child in children:
            child.join()
    if failure is not None:
        raise failure
    return max(results.values())


def _rebuild_child(env: dict[str, str], names: list[str], index: int, messages: Any) -> None:
    """A rebuild process: its answer (or its error) goes back through ``messages``."""
    try:
        events = _rebuild(env, names, lambda d, t: messages.put(("progress", index, d, t)))
    except BaseException as error:
        # Its traceback stays here: only the error crosses to the parent.
        log.exception("rebuild of %s failed", ", ".join(names))
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:
            error = RuntimeError(f"{type(error).__name__}: {error}")
        messages.put(("error", index, error))
    else:
        messages.put(("done", index, events))


def _busy_message(busy: Sequence[str]) -> str:
    if len(busy) == 1:
        return f"projection {busy[0]} is running (a worker or a server); stop it first"
    return f"projections {', '.join(busy)} are running (a worker or a server); stop them first"


def _count_events(env: Mapping[str, str]) -> int:
    with connect(env) as conn:
        row = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AS present", (EVENTS_TABLE,)
        ).fetchone()
        if not row or not row["present"]:
            return 0
        row = conn.execute(f"SELECT max(notification_id) AS n FROM {EVENTS_TABLE}").fetchone()
        return int(row["n"] or 0) if row else 0


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _apply_batch(
    view: TequioView,
    projection: TequioProjection[Any],
    events: Sequence[tuple[Any, Tracking]],
    *,
    pipelined: bool,
    announce: str | None = None,
) -> None:
    """One transaction: the batch's rows and its last position. With ``announce`` (the
    projection's name), the position is also announced on ``PROGRESS_CHANNEL`` on
    commit, which wakes the requests waiting for this read model."""
    with view.batch(events[-1][1], pipelined=pipelined) as curs:
        for domain_event, tracking in events:
            projection.process_event(domain_event, tracking)
        if announce is not None:
            _announce(curs, [announce], events[-1][1].notification_id)


def topic_filter(projections: Sequence[TequioProjection[Any]]) -> Callable[[str], bool]:
    """Whether any of ``projections`` handles the events of a topic (asked once per topic)."""
    known: dict[str, bool] = {}

    def wanted(topic: str) -> bool:
        answer = known.get(topic)
        if answer is None:
            try:
                event_class = resolve_topic(topic)
            except Exception:
                answer = True  # decoding will say what is wrong with it
            else:
                answer = any(p.handles(event_class) for p in projections)
            known[topic] = answer
        return answer

    return wanted


@retry((psycopg.InterfaceError, psycopg.OperationalError), max_attempts=10, wait=0.2)
def notifications_after(app: TequioApplication, position: int, limit: int) -> list[Notification]:
    """The library's ``select_notifications(start=position, limit=limit,
    inclusive_of_start=False)``, retried as it is, in a third of its time: the rows
    come in binary, as tuples, and each notification is made as the library makes an
    event from its state (see :func:`_made`)."""
    recorder: Any = app.recorder
    table = (recorder.datastore.schema, recorder.events_table_name)
    statement = _SELECT_AFTER.get(table)
    if statement is None:
        statement = _SELECT_AFTER[table] = (
            sql.SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                " FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
            )
            .format(
                sql.Identifier(recorder.datastore.schema),
                sql.Identifier(recorder.events_table_name),
            )
            .as_string(None)
        )
    with (
        recorder.datastore.get_connection() as conn,
        conn.cursor(row_factory=tuple_row, binary=True) as curs,
    ):
        curs.execute(statement, (position, limit), prepare=True)
        rows = curs.fetchall()
    return [_notification(*row) for row in rows]


# The events table's schema and name -> the statement that reads a batch after a position.
_SELECT_AFTER: dict[tuple[str, str], str] = {}


def _notification(
    id: int, originator_id: Any, originator_version: int, topic: str, state: bytes
) -> Notification:
    return _made(
        Notification,
        {
            "originator_id": originator_id,
            "originator_version": originator_version,
            "topic": topic,
            "state": state,
            "id": id,
        },
    )


def _made(cls: type[T], fields: dict[str, Any]) -> T:
    """A frozen dataclass's instance with these fields, made as the library makes an
    event from its state: its ``__init__`` sets each field through
    ``object.__setattr__``, which costs more per notification than reading its row."""
    made = object.__new__(cls)
    object.__setattr__(made, "__dict__", fields)
    return made


def decoded(
    app: TequioApplication, notifications: Sequence[Notification], wanted: Callable[[str], bool]
) -> list[tuple[Any, Tracking]]:
    """The batch's events with their positions; those no read model wants stay unread."""
    return [
        (
            app.mapper.to_domain_event(n) if wanted(n.topic) else Unread(n.topic),
            _made(Tracking, {"application_name": APPLICATION_NAME, "notification_id": n.id}),
        )
        for n in notifications
    ]


class _Part(NamedTuple):
    """One read model's part of a batch: the events it applies."""

    name: str
    view: TequioView
    projection: TequioProjection[Any]
    events: Sequence[tuple[Any, Tracking]]


def _apply_together(parts: Sequence[_Part], *, announce: bool = True) -> None:
    """Every read model's part of a batch in one pipelined transaction, each with its
    own tracking row (and, with ``announce``, its announcement)."""
    if not parts:
        return
    pending = Pending()
    with parts[0].view.datastore.transaction(commit=True) as curs:
        roomy_send_buffer(curs.connection)
        with curs.connection.pipeline():
            for part in parts:
                with part.view.joined(curs, part.events[-1][1], pending, bulk=True):
                    for domain_event, tracking in part.events:
                        part.projection.process_event(domain_event, tracking)
            pending.send_positions(curs)
            if announce:
                # Every part ends at the batch's last event: one announcement names them
                # all, so a waiting request wakes once per batch, not once per read model.
                _announce(curs, [p.name for p in parts], parts[0].events[-1][1].notification_id)
        pending.finish(curs)


def _announce(curs: Any, names: Sequence[str], position: int) -> None:
    """Delivered on commit: wakes the requests waiting for these read models."""
    curs.execute("SELECT pg_notify(%s, %s)", (PROGRESS_CHANNEL, announcement(names, position)))
