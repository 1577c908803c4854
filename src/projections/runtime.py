"""Running the read models: supervised projection runners, their status, and rebuilds.

``ProjectionService`` runs each projection in a supervisor thread of its own that:

- reads the events after the view's position, up to ``batch_size`` at a time, and
  applies each batch in one transaction that also records the batch's last
  position (ADR 0014): an event a read model ignores costs it no SQL, and a
  runner that is behind catches up in few transactions;
- is woken by the service's one LISTEN connection when events are recorded, and
  looks anyway every ``check_interval`` seconds (a lost wake-up, upstream issue
  #305, only delays);
- restarts, with exponential backoff (capped), when a handler fails, having
  applied the events before the failing one; it records the failure
  (``last_error`` names the notification id and event);
- holds a PostgreSQL advisory lock for its projection, so two processes never
  run the same projection at once (the second waits as a standby) and a rebuild
  refuses to run while the projection is running anywhere;
- writes a heartbeat row to ``projections_status`` so ``tequio projections
  status`` in another process can show errors and restarts.

Every runner builds its own application and view, each with its own psycopg
pool, so they are given small pools (``POSTGRES_POOL_SIZE=1``,
``POSTGRES_MAX_OVERFLOW=2``): the embedded server allows 100 connections.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from eventsourcing.persistence import (
    InfrastructureFactory,
    Notification,
    PersistenceError,
    Tracking,
)
from eventsourcing.utils import Environment
from psycopg import sql
from psycopg.rows import DictRow, dict_row

from cases.application import TequioApplication
from projections.base import ProjectionEventError, TequioProjection, TequioView
from projections.positions import PROGRESS_CHANNEL, announcement
from projections.registry import PROJECTIONS, select, tracking_table

log = logging.getLogger("tequio.projections")
T = TypeVar("T")

APPLICATION_NAME = TequioApplication.name
EVENTS_TABLE = f"{APPLICATION_NAME.lower()}_events"
STATUS_TABLE = "projections_status"
LOCK_NAMESPACE = "tequio.projection"

CHECK_INTERVAL = 2.0
BATCH_SIZE = 500
BACKOFF_INITIAL = 0.5
BACKOFF_CAP = 30.0
REBUILD_BATCH = 500

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


class _Supervisor:
    """Keeps one projection's runner alive; one thread per projection."""

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
        # Set by the service's listener when events are recorded.
        self.wakeup = threading.Event()
        self.running = False
        self.standby = False
        self.position = 0
        self.head = 0
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.error_count = 0
        self.restarts = 0
        self.first_attempt = threading.Event()
        self._stopping = threading.Event()
        self._backoff = service.backoff_initial
        self._lock_conn: psycopg.Connection[DictRow] | None = None
        self._thread = threading.Thread(target=self._run, name=f"projection-{name}", daemon=True)

    # -- control (from the service's thread) --

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()
        self.wakeup.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("projection %s did not stop within %.0f s", self.name, timeout)

    def state(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "standby": self.standby,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "error_count": self.error_count,
            "restarts": self.restarts,
        }

    # -- the supervisor thread --

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    if not self._hold_lock():
                        continue
                    self._run_once()
                except Exception as error:
                    self._failed(error)
                    self.first_attempt.set()
                    self._stopping.wait(self._backoff)
                    self._backoff = min(self._backoff * 2, self.service.backoff_cap)
        finally:
            self.running = False
            self.first_attempt.set()
            self._release_lock()

    def _run_once(self) -> None:
        env = self.service.runner_env
        app = TequioApplication(env)
        view: TequioView | None = None
        try:
            view = make_view(self.name, env)
            projection = self.projection_class(view)
            self.position = view.max_tracking_id(APPLICATION_NAME) or 0
            self.running = True
            self.first_attempt.set()
            self._follow(app, view, projection)
        finally:
            self.running = False
            app.close()
            if view is not None:
                with suppress(Exception):
                    view.datastore.close()

    def _follow(self, app: TequioApplication, view: TequioView, projection: Any) -> None:
        """Applies every new event, a batch at a time, until asked to stop.

        Woken by the service's LISTEN connection; it also looks for new events every
        ``check_interval`` seconds, so a lost notification delays, never stalls.
        """
        batch_size = self.service.batch_size
        next_beat = 0.0
        while not self._stopping.is_set():
            self.wakeup.clear()
            notifications = app.recorder.select_notifications(
                start=self.position, limit=batch_size, inclusive_of_start=False
            )
            if notifications:
                with self.service.turn:
                    self._apply(app, view, projection, notifications)
                self._backoff = self.service.backoff_initial
            now = time.monotonic()
            if now >= next_beat:
                self.head = app.recorder.max_notification_id() or 0
                self._heartbeat()
                next_beat = now + self.service.check_interval
            if len(notifications) < batch_size:
                self.wakeup.wait(self.service.check_interval)

    def _apply(
        self,
        app: TequioApplication,
        view: TequioView,
        projection: Any,
        notifications: Sequence[Notification],
    ) -> None:
        """One transaction for the batch: its rows and its last position, or nothing.

        When a handler fails, the events before the failing one are applied again on
        their own, so the projection stops just before the event that fails.
        """
        events = [
            (app.mapper.to_domain_event(n), Tracking(APPLICATION_NAME, n.id)) for n in notifications
        ]
        try:
            self._apply_events(view, projection, events, pipelined=True)
        except Exception as pipelined_error:
            # Unpipelined, the error names the event that caused it (or it was transient).
            log.debug(
                "projection %s: batch failed (%s); again, unpipelined", self.name, pipelined_error
            )
            try:
                self._apply_events(view, projection, events, pipelined=False)
            except ProjectionEventError as error:
                before = [e for e in events if e[1].notification_id < error.notification_id]
                if before:
                    self._apply_events(view, projection, before, pipelined=False)
                raise

    def _apply_events(
        self,
        view: TequioView,
        projection: Any,
        events: Sequence[tuple[Any, Tracking]],
        *,
        pipelined: bool,
    ) -> None:
        _apply_batch(view, projection, events, pipelined=pipelined, announce=self.name)
        self.position = events[-1][1].notification_id

    def _failed(self, error: Exception) -> None:
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
        with suppress(Exception):
            self._heartbeat()

    # -- the advisory lock and the status row --

    def _hold_lock(self) -> bool:
        """True once this process holds the projection's lock; False to retry later."""
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
        self.first_attempt.set()
        self._stopping.wait(self.service.check_interval)
        return False

    def _release_lock(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is None:
            return
        with suppress(Exception):
            self._heartbeat(conn)
        with suppress(Exception):
            conn.close()

    def _heartbeat(self, conn: psycopg.Connection[DictRow] | None = None) -> None:
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
                    self.running and not self._stopping.is_set(),
                    self.position,
                    self.head,
                    self.last_error,
                    self.last_error_at,
                    self.error_count,
                    self.restarts,
                ),
            )
        except psycopg.Error:
            # The lock went with the connection: give the runner up and start over.
            with suppress(Exception):
                conn.close()
            if conn is self._lock_conn:
                self._lock_conn = None
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
        # The runners apply their batches one at a time. Their work is Python between
        # short waits on PostgreSQL; side by side, each wait hands the GIL to another
        # runner and waiting to get it back costs more than the wait (a convoy).
        self.turn = threading.Lock()
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self._supervisors: dict[str, _Supervisor] = {}
        self._monitor: _Monitor | None = None
        self._started = False

    def start(self, timeout: float = 30.0) -> None:
        if self._started:
            return
        # One small application first: it creates the event store's tables, so the
        # runners' applications never race to create them.
        self._monitor = _retry(lambda: _Monitor(pooled_env(self.env, 1, 1)))
        self._started = True
        self._supervisors = {
            name: _Supervisor(self, name, *PROJECTIONS[name]) for name in self.names
        }
        self._stopping.clear()
        channel = self._monitor.channel()
        self._listener = threading.Thread(
            target=self._listen, args=(channel,), name="projections-listen", daemon=True
        )
        self._listener.start()
        for supervisor in self._supervisors.values():
            supervisor.start()
        deadline = time.monotonic() + timeout
        for supervisor in self._supervisors.values():
            supervisor.first_attempt.wait(max(0.0, deadline - time.monotonic()))

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        for supervisor in self._supervisors.values():
            supervisor.request_stop()
        deadline = time.monotonic() + timeout
        for supervisor in self._supervisors.values():
            supervisor.join(max(0.1, deadline - time.monotonic()))
        if self._listener is not None:
            self._listener.join(max(0.1, deadline - time.monotonic()))
            self._listener = None
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None
        self._started = False

    def _listen(self, channel: str) -> None:
        """Wakes every runner when the event store notifies its channel.

        One connection for all the runners. When it breaks, the runners still look
        for events every ``check_interval`` seconds until it is back.
        """
        while not self._stopping.is_set():
            try:
                with connect(self.env) as conn:
                    conn.execute(sql.SQL("LISTEN {0}").format(sql.Identifier(channel)))
                    self._wake()  # what was recorded while nobody listened
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.1, stop_after=1):
                            self._wake()
            except Exception as error:
                log.debug("projections: listening on %s failed: %s", channel, error)
                self._stopping.wait(self.check_interval)

    def _wake(self) -> None:
        for supervisor in self._supervisors.values():
            supervisor.wakeup.set()

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
            supervisor = self._supervisors.get(name)
            position = positions.get(name, 0)
            lag: tuple[int, float | None] = (max(0, head - position), None)
            if monitor is not None and name in positions:
                with suppress(Exception):
                    lag = monitor.lag(position, head)
            state = supervisor.state() if supervisor else {}
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
        stale_after = max(3 * CHECK_INTERVAL, 10.0)
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
) -> int:
    """Drops the projection's tables (all projections when ``name`` is None) and its
    tracking table, recreates them and replays every event from the event store.

    Events are read once, in batches, and each batch is applied to each view in one
    transaction together with its tracking position. Run it with the projection
    stopped: ``ProjectionBusy`` if it runs anywhere. Returns the number of events.
    """
    names = select([name] if name else None)
    small = pooled_env(env, 1, 1)
    app = TequioApplication(small)
    views: dict[str, TequioView] = {}
    try:
        with connect(env) as conn:
            busy = [n for n in names if not _try_lock(conn, n)]
            if busy:
                raise ProjectionBusy(
                    f"projection {', '.join(busy)} is running (a worker or a server); stop it first"
                )
            for n in names:
                view_class = PROJECTIONS[n][1]
                tables = [*view_class.TABLES, tracking_table(n)]
                conn.execute(f"DROP TABLE IF EXISTS {', '.join(tables)} CASCADE")
            projections: dict[str, TequioProjection[Any]] = {}
            for n in names:
                views[n] = make_view(n, small)
                projections[n] = PROJECTIONS[n][0](views[n])
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
                notifications: Sequence[Notification] = app.recorder.select_notifications(
                    start=last, limit=REBUILD_BATCH, inclusive_of_start=False
                )
                if not notifications:
                    break
                events = [
                    (app.mapper.to_domain_event(n), Tracking(APPLICATION_NAME, n.id))
                    for n in notifications
                ]
                for n in names:
                    try:
                        _apply_batch(views[n], projections[n], events, pipelined=True)
                    except Exception:
                        # Again, unpipelined: the error names the event that caused it.
                        _apply_batch(views[n], projections[n], events, pipelined=False)
                done += len(notifications)
                last = notifications[-1].id
                if progress:
                    progress(done, max(total, done))
            log.debug("rebuilt %s from %s events", ", ".join(names), done)
            return done
    finally:
        for view in views.values():
            with suppress(Exception):
                view.datastore.close()
        app.close()


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
            position = events[-1][1].notification_id
            curs.execute(
                "SELECT pg_notify(%s, %s)", (PROGRESS_CHANNEL, announcement(announce, position))
            )
