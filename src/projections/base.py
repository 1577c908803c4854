"""What every read model shares.

A view (:class:`TequioView`) is a ``PostgresTrackingRecorder`` that also owns its
read-model tables: each handler writes its rows and the tracking position in one
transaction (``with self.view.tracked(tracking) as curs: ...``), so every event
is applied exactly once and a crash leaves nothing half done.

In a pipelined batch, handlers' writes (:meth:`TequioView.write`) wait in a queue
per table and are sent together, consecutive identical statements as one
``executemany`` (ADR 0017): a statement costs a fraction of a separate ``execute``.
Rows of append-only tables (:meth:`TequioView.append`) go by ``COPY`` once the
batch's pipeline is done (ADR 0018), a fraction again of a statement per row.

A projection (:class:`TequioProjection`) receives every event of the application
(no topic filter) and records tracking even for the events it ignores, so a
reader can wait for any notification id on every view.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import logging
import os
import socket
import time
import weakref
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime
from enum import Enum
from functools import singledispatchmethod
from typing import Any, ClassVar, NamedTuple, TypeVar
from uuid import UUID

import orjson
import psycopg
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import Connection, Cursor
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.json import Jsonb

from projections import bulk

log = logging.getLogger(__name__)

# Fields of a domain event that are machinery, not facts to display.
EVENT_MACHINERY = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "municipality"}
)
# Personal data: never copied into any read model (nor any field named reporter_*).
PERSONAL_FIELDS = frozenset({"reporter", "contact"})


class ProjectionEventError(RuntimeError):
    """A handler failed on one event: says which projection, notification and event."""

    def __init__(
        self, projection: str, notification_id: int, event_type: str, error: BaseException
    ) -> None:
        self.projection = projection
        self.notification_id = notification_id
        self.event_type = event_type
        self.error = error
        super().__init__(
            f"projection {projection!r} failed at notification {notification_id} "
            f"({event_type}): {type(error).__name__}: {error}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Across processes (a parallel rebuild) the cause travels as its text.
        return (_event_error, (str(self), self.projection, self.notification_id, self.event_type))


def _event_error(
    message: str, projection: str, notification_id: int, event_type: str
) -> ProjectionEventError:
    error = ProjectionEventError.__new__(ProjectionEventError)
    RuntimeError.__init__(error, message)
    error.projection, error.notification_id, error.event_type = (
        projection,
        notification_id,
        event_type,
    )
    error.error = RuntimeError(message)
    return error


class TequioView(PostgresTrackingRecorder):
    """Read-model tables plus the tracking table, created together, written together."""

    # Names of the read-model tables this view owns (the tracking table is added by
    # the library: ``<projection name>_tracking``).
    TABLES: ClassVar[tuple[str, ...]] = ()
    # DDL for those tables (idempotent: ``if not exists``).
    CREATE: ClassVar[tuple[str, ...]] = ()

    # The order in which the tables' queued writes are sent (default: ``TABLES``). A
    # statement that reads another table of the view (``INSERT ... SELECT``) must come
    # after it, and sees all of the batch's writes to it: read only rows that never
    # change once written (kinds, territories, subjects) that way.
    WRITE_ORDER: ClassVar[tuple[str, ...]] = ()

    # Tables only ever added to (:meth:`append`), never updated, and never read by this
    # view's handlers: in a pipelined batch their rows are copied at its end.
    APPENDED: ClassVar[tuple[str, ...]] = ()

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(Composed([SQL(statement)]) for statement in self.CREATE)
        order = self.WRITE_ORDER or self.TABLES
        if sorted(order) != sorted(self.TABLES):
            raise TypeError(f"{type(self).__name__}.WRITE_ORDER must list exactly its TABLES")
        self._write_order = order
        if not set(self.APPENDED) <= set(self.TABLES):
            raise TypeError(f"{type(self).__name__}.APPENDED must be among its TABLES")
        self._batch: Cursor[DictRow] | None = None
        self._batch_tracking: Tracking | None = None
        self._bulk = False
        # The INSERT of each (table, columns) of this view's appended rows, rendered once.
        self._insert_queries: dict[tuple[str, tuple[str, ...]], bytes] = {}
        # In a pipelined batch: what is left for its end (rows to copy, row counts to
        # check), and the writes waiting to be sent, per table.
        self._pending: Pending | None = None
        self._queued: dict[str, list[QueuedWrite]] = {}
        self._appended: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}

    def create_table(self) -> None:
        self._mark_emptied_tracking_table()
        super().create_table()

    def drop_secondary_indexes(self) -> None:
        """For a replay into empty tables: one ``CREATE INDEX`` at the end (a sort)
        costs far less than keeping each index up to date row by row. Tables made
        again (``create_table``, as every runner does on start) get them back."""
        with self.datastore.transaction(commit=True) as curs:
            for ddl in self._secondary_indexes():
                curs.execute(SQL("DROP INDEX IF EXISTS {}").format(Identifier(ddl.name)))

    def create_secondary_indexes(self) -> None:
        """Makes the indexes a fill went without, then gathers the tables' statistics:
        until autovacuum gets to a freshly filled table, the planner sees it as nearly
        empty, and the API's prepared statements (generic plans) may then scan a whole
        index for one subject's rows (a case's timeline: 13 ms instead of 0.1)."""
        with self.datastore.transaction(commit=True) as curs:
            for ddl in self._secondary_indexes():
                curs.execute(SQL(ddl))
            # A sample of 3,000 rows (not 30,000) is enough to stop the planner taking a
            # filled table for an empty one, and costs a rebuild a tenth of what it did
            # (half of making the indexes); autovacuum's own ANALYZE comes later anyway.
            curs.execute("SET LOCAL default_statistics_target = 10")
            for table in self.TABLES:
                curs.execute(SQL("ANALYZE {}").format(Identifier(table)))

    def _secondary_indexes(self) -> list[IndexDDL]:
        return [ddl for ddl in self.CREATE if isinstance(ddl, IndexDDL)]

    def _mark_emptied_tracking_table(self) -> None:
        """An emptied (truncated) tracking table is still a single-row one.

        The library marks a single-row tracking table with a ``__migration__`` row;
        without it, it takes an existing table for a legacy multi-row one and renames
        it to ``bkup1_...`` (once; the second time it fails). Truncating every table,
        as the tests do between cases, removes that row: put it back.
        """
        if not self.datastore.single_row_tracking:
            return
        table = f"{self.datastore.schema}.{self.tracking_table_name}"
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (table,))
            row = curs.fetchone()
            if not row or not row["present"]:
                return
            curs.execute(
                SQL(
                    "INSERT INTO {0}.{1} (application_name, notification_id)"
                    " SELECT %s, 1 WHERE NOT EXISTS (SELECT 1 FROM {0}.{1})"
                ).format(Identifier(self.datastore.schema), Identifier(self.tracking_table_name)),
                (self.table_migration_identifier,),
            )

    def tracked(self, tracking: Tracking) -> AbstractContextManager[Cursor[DictRow]]:
        """A cursor in a transaction that records ``tracking`` when the block succeeds.

        Inside a batch (:meth:`batch`, :meth:`joined`) the batch's transaction is
        reused and tracking is written once, at the end of the batch.
        """
        if self._batch is not None:
            return _InBatch(self, self._batch, tracking)
        return self._transaction(tracking)

    @contextmanager
    def _transaction(self, tracking: Tracking) -> Iterator[Cursor[DictRow]]:
        with self.datastore.transaction(commit=True) as curs:
            yield curs
            self._insert_tracking(curs, tracking)

    def skip(self, tracking: Tracking) -> None:
        """Records only the position: the event means nothing to this read model."""
        if self._batch is not None:
            self._batch_tracking = tracking
            return
        with self.tracked(tracking):
            pass

    @contextmanager
    def batch(
        self, last: Tracking | None = None, *, pipelined: bool = False
    ) -> Iterator[Cursor[DictRow]]:
        """Applies many events in one transaction and records one position at its end.

        The position is ``last`` when given (the batch's last notification, whether
        or not this view did anything with it), else the last one a handler tracked.

        ``pipelined`` sends the statements without waiting for each answer (psycopg's
        pipeline mode; a handler that fetches waits for what was sent before). An
        error then surfaces at a later statement than the one that caused it, so a
        caller that must name the failing event applies the batch again unpipelined.
        """
        pending = Pending() if pipelined else None
        with self.datastore.transaction(commit=True) as curs:
            if pipelined:
                roomy_send_buffer(curs.connection)
            with curs.connection.pipeline() if pipelined else nullcontext():
                with self.joined(curs, last, pending):
                    yield curs
                if pending is not None:
                    pending.send_positions(curs)
            if pending is not None:
                pending.finish(curs)

    @contextmanager
    def joined(
        self,
        curs: Cursor[DictRow],
        last: Tracking | None,
        pending: Pending | None,
        *,
        bulk: bool = False,
    ) -> Iterator[Cursor[DictRow]]:
        """Applies events in a transaction opened by the caller (``batch``, or one
        shared by several views), and writes this view's position at the end.

        With ``pending`` (a pipelined transaction), writes are queued (:meth:`write`),
        appended rows and the row counts writes must change are added to it, for
        :meth:`Pending.finish` once the pipeline has its answers. With ``bulk``, long
        runs of them go as one statement each (ADR 0027); a batch that failed is
        applied again without, so a value only that form refuses cannot stop it.
        """
        self._bulk = bulk
        self._batch = _FlushingCursor(curs.connection, self) if pending is not None else curs
        self._batch_tracking = None
        self._pending = pending
        self._queued = {}
        self._appended = {}
        try:
            yield self._batch
            self.flush()
            self._send_appended()
            tracking = last or self._batch_tracking
            if tracking is None:
                pass
            elif pending is not None and self.datastore.single_row_tracking:
                pending.positions.append((self, tracking))
            else:
                self._insert_tracking(curs, tracking)
        finally:
            self._batch = None
            self._batch_tracking = None
            self._pending = None
            self._queued = {}
            self._appended = {}

    def write(
        self,
        curs: Cursor[DictRow],
        table: str,
        query: str,
        params: Any,
        *,
        missing: str | Missing | None = None,
        row: Hashable | None = None,
    ) -> None:
        """A statement on ``table`` whose answer the handler does not need. With
        ``missing``, it must change exactly one row (``LookupError(missing)`` if not).

        In a pipelined batch it waits in ``table``'s queue: the queues are sent before
        any other statement of this view runs (the batch's cursor sees to that) and at
        the batch's end, in ``WRITE_ORDER``, each table's writes in their order, runs of
        the same statement as one ``executemany``; row counts are checked once the
        pipeline has its answers. Elsewhere it runs at once.

        ``row`` names the one row of ``table`` the statement changes (its key), for a
        statement that reads no other row of ``table``. Such writes may be sent in
        another order than they were made, except that the writes to one row keep
        theirs: the same statement on many rows then goes as one long ``executemany``
        (see :func:`grouped`). A write without ``row`` keeps its place.
        """
        if table not in self._write_order:
            raise ValueError(f"{type(self).__name__} does not own table {table!r}")
        if self._pending is None or self._batch is None:
            curs.execute(query, params)
            if missing is not None and curs.rowcount != 1:
                raise LookupError(missing)
            return
        self._queued.setdefault(table, []).append(QueuedWrite(query, params, missing, row))

    def append(
        self, curs: Cursor[DictRow], table: str, columns: tuple[str, ...], row: tuple[Any, ...]
    ) -> None:
        """A new row of an append-only table (one of ``APPENDED``).

        In a pipelined batch it waits for the batch's end: then, if the view appended
        ``COPY_MIN_ROWS`` rows or more, they are copied (``COPY``) once the pipeline is
        done, else inserted in the pipeline; a handler never sees them. Elsewhere it is
        inserted at once, so a failing row names its event.
        """
        if table not in self.APPENDED:
            raise ValueError(f"{type(self).__name__} does not append to table {table!r}")
        if self._pending is None or self._batch is None:
            curs.execute(_insert(table, columns), row)
            return
        rows = self._appended.get((table, columns))
        if rows is None:
            rows = self._appended[(table, columns)] = []
        rows.append(row)

    def _send_appended(self) -> None:
        """A batch's appended rows: copied after the pipeline if there are many, else
        inserted now, in the pipeline (a ``COPY`` costs round trips of its own, which
        the few rows of a live batch do not repay)."""
        appended, self._appended = self._appended, {}
        if not appended:
            return
        assert self._batch is not None and self._pending is not None
        if sum(map(len, appended.values())) >= COPY_MIN_ROWS:
            for (table, columns), rows in appended.items():
                self._pending.copy(table, columns, rows)
            return
        connection = self._batch.connection
        for (table, columns), rows in appended.items():
            query = self._insert_queries.get((table, columns))
            if query is None:
                query = _insert(table, columns).as_bytes(connection)
                self._insert_queries[(table, columns)] = query
            connection.cursor().executemany(query, rows)

    def flush(self) -> None:
        """Sends the queued writes (see :meth:`write`)."""
        if not self._queued:
            return
        queued, self._queued = self._queued, {}
        assert self._batch is not None and self._pending is not None
        connection = self._batch.connection
        runs = [
            (table, key, list(run))
            for table in self._write_order
            if (writes := queued.get(table))
            for key, run in itertools.groupby(grouped(writes), key=_statement)
        ]
        long_runs = {query for _, (query, _), run in runs if len(run) >= bulk.BULK_MIN_ROWS}
        if self._bulk:
            self._describe(long_runs)
        for _, (query, checked), run in runs:
            if (
                self._bulk
                and len(run) >= bulk.BULK_MIN_ROWS
                and self._send_bulk(query, checked, run)
            ):
                continue
            cursor = connection.cursor()
            cursor.executemany(query, [w.params for w in run])
            if checked:
                self._pending.checks.append(Deferred(cursor, run[0].missing or "", len(run)))

    def _send_bulk(self, query: str, checked: bool, run: list[QueuedWrite]) -> bool:
        """Sends ``run`` as one statement per wave (:mod:`projections.bulk`), if it can go
        so; ``False`` (nothing sent) if not."""
        form = _BULK_FORMS.get(query)
        if form is None:
            return False
        waves = bulk.waves(run, _row)
        if waves is None:
            return False
        payloads = [form.payload([w.params for w in wave]) for wave in waves]
        if None in payloads:
            return False
        assert self._batch is not None and self._pending is not None
        connection = self._batch.connection
        for wave, payload in zip(waves, payloads, strict=True):
            cursor = connection.cursor()
            # Planned each time, for the table's size now: a plan kept from when the
            # table was small (a rebuild's start) would scan the whole table for a join.
            cursor.execute(form.query, (payload,), prepare=False)
            if checked:
                self._pending.checks.append(Deferred(cursor, wave[0].missing or "", len(wave)))
        return True

    def _describe(self, queries: set[str]) -> None:
        """Finds the one-statement form of ``queries`` not seen before, on a connection
        of its own (this one is in a pipeline). If PostgreSQL cannot be reached, or a
        table is locked (a migration, say), they go as they are for a while: waiting
        here would leave the batch's transaction idle past its timeout."""
        unknown = [query for query in queries if query not in _BULK_FORMS]
        if not unknown or time.monotonic() < _DESCRIBE_AGAIN_AT[0]:
            return
        try:
            with describing_connection(self.datastore) as conn:
                for query in unknown:
                    _BULK_FORMS[query] = bulk.describe(conn, query)
        except psycopg.OperationalError as error:
            _DESCRIBE_AGAIN_AT[0] = time.monotonic() + DESCRIBE_BACKOFF
            log.info("projections: runs of writes go row by row for now: %s", error)


class _InBatch:
    """``tracked`` inside a batch: the batch's cursor; the position if the block succeeds.
    (A plain class: handlers enter it once per event.)"""

    __slots__ = ("_curs", "_tracking", "_view")

    def __init__(self, view: TequioView, curs: Cursor[DictRow], tracking: Tracking) -> None:
        self._view = view
        self._curs = curs
        self._tracking = tracking

    def __enter__(self) -> Cursor[DictRow]:
        return self._curs

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if kind is None:
            self._view._batch_tracking = self._tracking


class Missing(NamedTuple):
    """What a write that must change one row says if it changed none: ``what row
    where``, made into text only then (formatting an id for every write cost ~1 µs)."""

    what: str
    row: Any
    where: str

    def __str__(self) -> str:
        return f"{self.what} {self.row} {self.where}"


class QueuedWrite(NamedTuple):
    query: str
    params: Any
    missing: str | Missing | None
    row: Hashable | None


def _statement(write: QueuedWrite) -> tuple[str, bool]:
    return write.query, write.missing is not None


def _row(write: QueuedWrite) -> Hashable | None:
    return write.row


# Each queued statement's one-statement form (``None``: it has none), found once per
# process: the read models' statements are the module's constants.
_BULK_FORMS: dict[str, bulk.BulkForm | None] = {}


def describing_connection(datastore: PostgresDatastore) -> Connection[Any]:
    """A connection of its own, as the datastore's pool makes them, that waits at most
    a second for a lock (see :meth:`TequioView._describe`)."""
    pool = datastore.pool
    conninfo = pool.conninfo() if callable(pool.conninfo) else pool.conninfo
    kwargs = dict((pool.kwargs() if callable(pool.kwargs) else pool.kwargs) or {})
    if pool.get_password_func is not None:
        kwargs["password"] = pool.get_password_func()
    kwargs.update(autocommit=True, connect_timeout=5, options=DESCRIBE_OPTIONS)
    return Connection.connect(conninfo, **kwargs)


# When statements may be described again after the connection for it failed.
_DESCRIBE_AGAIN_AT = [0.0]
DESCRIBE_BACKOFF = 30.0
# Describing a statement takes a lock on its table: never wait long for one.
DESCRIBE_OPTIONS = "-c lock_timeout=1000 -c statement_timeout=5000"


def grouped(writes: list[QueuedWrite]) -> list[QueuedWrite]:
    """``writes`` of one table, reordered so that the same statement's writes are next
    to each other as far as the rows they change allow: a batch's handlers write mostly
    one statement per event, interleaved (a progress report, a fulfilment, a status),
    so in their order the runs average about two rows, and each run costs psycopg
    about as much as two more rows (ADR 0017, ADR 0020).

    A write without a ``row`` keeps its place: the keyed writes before it stay before
    it, those after stay after. Between two such, each row's writes keep their order;
    the writes to different rows, which cannot see each other, may be sent in any
    order. The result never has more runs than ``writes``.
    """
    if len(writes) < 3:
        return writes
    ordered: list[QueuedWrite] = []
    segment: list[QueuedWrite] = []
    for write in writes:
        if write.row is None:
            ordered.extend(_grouped_segment(segment))
            segment = []
            ordered.append(write)
        else:
            segment.append(write)
    ordered.extend(_grouped_segment(segment))
    return ordered if _runs(ordered) < _runs(writes) else writes


def _grouped_segment(segment: list[QueuedWrite]) -> list[QueuedWrite]:
    """Greedy: send every row whose next write is the current statement (again and
    again while a row's next write is the same one), then switch to the statement the
    most rows wait for."""
    if len(segment) < 3:
        return segment
    # Each row's writes, in their order (most rows have one: no deque per write).
    queues: dict[Hashable, list[QueuedWrite]] = {}
    for write in segment:
        queue = queues.get(write.row)
        if queue is None:
            queues[write.row] = [write]
        else:
            queue.append(write)
    # Statement -> the rows whose next write it is.
    ready: dict[tuple[str, bool], list[Hashable]] = {}
    for row, queue in queues.items():
        first = queue[0]
        statement = (first.query, first.missing is not None)
        waiting = ready.get(statement)
        if waiting is None:
            ready[statement] = [row]
        else:
            waiting.append(row)
    ordered: list[QueuedWrite] = []
    current = _statement(segment[0])
    while ready:
        rows = ready.pop(current, None)
        if rows is None:
            current = max(ready, key=lambda statement: len(ready[statement]))
            continue
        for row in rows:  # grows while it is read: a row whose next write is the same
            queue = queues[row]
            if len(queue) == 1:
                ordered.append(queue[0])
                continue
            ordered.append(queue.pop(0))
            following = _statement(queue[0])
            if following == current:
                rows.append(row)
            else:
                ready.setdefault(following, []).append(row)
    return ordered


def _runs(writes: list[QueuedWrite]) -> int:
    return sum(1 for _ in itertools.groupby(writes, key=_statement))


class Deferred(NamedTuple):
    """Statements sent in a pipeline that must change ``rows`` rows between them."""

    cursor: Cursor[Any]
    missing: str | Missing
    rows: int


class _FlushingCursor(Cursor[DictRow]):
    """A batch's cursor: sends its view's queued writes before any statement of its own,
    so a handler that reads (or writes directly) sees the batch in order."""

    def __init__(self, connection: Connection[Any], view: TequioView) -> None:
        super().__init__(connection, row_factory=dict_row)
        self._view = view

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._view.flush()
        return super().execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> None:
        self._view.flush()
        super().executemany(*args, **kwargs)


# From this many appended rows in a batch (a view's), they go by COPY.
COPY_MIN_ROWS = 64


# Bytes the kernel may buffer for a pipelined batch's connection. Asked for only where
# the kernel grants that much (``net.core.wmem_max``; stock kernels allow 208 KiB):
# a fixed buffer turns off TCP's own growth of it, which reaches 4 MiB by default.
PIPELINE_SEND_BUFFER = 4 * 1024 * 1024
_roomy: weakref.WeakSet[Connection[Any]] = weakref.WeakSet()


def _kernel_allows(size: int) -> bool:
    try:
        with open("/proc/sys/net/core/wmem_max") as limit:
            return int(limit.read().strip()) >= size
    except (OSError, ValueError):
        return False


_ROOMY_SOCKETS = _kernel_allows(PIPELINE_SEND_BUFFER)


def roomy_send_buffer(connection: Connection[Any]) -> None:
    """Lets a pipelined batch's statements wait in the socket rather than in the sender.

    A batch's writes go out when its handlers are done, several thousand statements at
    once; with the socket's usual buffer (it starts at 16 KiB on TCP) the sending thread
    stops every few statements until PostgreSQL has read them, and then has nothing else
    to do. With room for the whole batch, it hands them over and goes on with the next
    read model's handlers while PostgreSQL works (docs/performance.md, step 31)."""
    if not _ROOMY_SOCKETS or connection in _roomy:
        return
    _roomy.add(connection)
    fd = connection.pgconn.socket
    # A duplicate descriptor: closing it leaves the connection's own open.
    with socket.socket(fileno=os.dup(fd)) as sock:
        if sock.family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIPELINE_SEND_BUFFER)


class Pending:
    """What a pipelined transaction leaves for after its pipeline: the rows appended to
    append-only tables, to copy, and the statements that must change a number of rows.

    ``COPY`` cannot run in a pipeline; out of it, it sends rows as a stream, without a
    statement (and a round of the pipeline) per row.
    """

    # The statement that records the positions of these tracking tables at once.
    _STATEMENTS: ClassVar[dict[tuple[str, ...], bytes]] = {}

    def __init__(self) -> None:
        self.checks: list[Deferred] = []
        # Each view and the position it records at the end of the batch.
        self.positions: list[tuple[TequioView, Tracking]] = []
        # The statement that recorded them, and the positions in its order.
        self._sent: list[tuple[Cursor[Any], list[Tracking]]] = []
        self._copies: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}

    def send_positions(self, curs: Cursor[Any]) -> None:
        """Every view's position in one statement, in the pipeline, its answer checked by
        :meth:`finish`. Each view's part is the library's own tracking statement (a
        data-modifying ``WITH`` each); sent one by one, they were a statement, a
        cursor and an answer per read model per batch, ~15 % of a live batch's CPU."""
        positions, self.positions = self.positions, []
        by_tracking: dict[Tracking, list[TequioView]] = {}
        for view, tracking in positions:
            by_tracking.setdefault(tracking, []).append(view)
        for tracking, views in by_tracking.items():
            key = tuple(f"{v.datastore.schema}.{v.tracking_table_name}" for v in views)
            query = self._STATEMENTS.get(key)
            if query is None:
                parts = [
                    SQL("p{} AS ({})").format(SQL(str(i)), v.insert_tracking_statement)
                    for i, v in enumerate(views)
                ]
                counts = [
                    SQL("(SELECT count(*) FROM p{})").format(SQL(str(i))) for i in range(len(views))
                ]
                query = (
                    SQL("WITH {} SELECT {}")
                    .format(SQL(", ").join(parts), SQL(", ").join(counts))
                    .as_bytes(curs)
                )
                self._STATEMENTS[key] = query
            cursor = curs.connection.cursor(row_factory=tuple_row)
            cursor.execute(
                query,
                {
                    "application_name": tracking.application_name,
                    "notification_id": tracking.notification_id,
                },
                prepare=True,
            )
            self._sent.append((cursor, [tracking] * len(views)))

    def copy(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        self._copies.setdefault((table, columns), []).extend(rows)

    def finish(self, curs: Cursor[Any]) -> None:
        """Copies the appended rows, then checks the row counts: ``LookupError`` for the
        first group of statements that did not change the rows they had to (a batch
        applied again unpipelined names the event)."""
        copies, self._copies = self._copies, {}
        for (table, columns), rows in copies.items():
            statement = SQL("COPY {} ({}) FROM STDIN").format(
                Identifier(table), SQL(", ").join(map(Identifier, columns))
            )
            with curs.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        for checked in self.checks:
            if checked.cursor.rowcount != checked.rows:
                raise LookupError(checked.missing)
        for cursor, trackings in self._sent:
            recorded = cursor.fetchone()
            for count, tracking in zip(recorded or (), trackings, strict=True):
                if count != 1:
                    # As the library says it: the position did not move forward (this
                    # batch, or a later one, was recorded already).
                    raise IntegrityError(
                        f"Failed to record tracking for {tracking.application_name}"
                        f" {tracking.notification_id}"
                    )


def _insert(table: str, columns: tuple[str, ...]) -> Composed:
    return SQL("INSERT INTO {} ({}) VALUES ({})").format(
        Identifier(table),
        SQL(", ").join(map(Identifier, columns)),
        SQL(", ").join(SQL("%s") for _ in columns),
    )


TView = TypeVar("TView", bound=TequioView)


class TequioProjection(Projection[TView]):
    """A projection whose failures name the notification and the event that failed."""

    def __init__(self, view: TView) -> None:
        super().__init__(view)
        # Bound once, as the library does on every access: that completes registrations
        # it deferred (handlers registered by their annotations).
        getattr(self, "process_event")  # noqa: B009
        handler_for = _handlers(type(self))
        method = inspect.getattr_static(type(self), "process_event")
        self._handler_for = handler_for
        self._fallback = (
            method.dispatcher.dispatch(object) if isinstance(method, singledispatchmethod) else None
        )
        name = self.name

        def guarded(domain_event: Any, tracking: Tracking) -> None:
            try:
                handler_for(type(domain_event))(self, domain_event, tracking)
            except ProjectionEventError:
                raise
            except Exception as error:
                raise ProjectionEventError(
                    name, tracking.notification_id, event_type(domain_event), error
                ) from error

        # The class keeps its ``singledispatchmethod``; this instance wraps it.
        self.process_event = guarded

    def handles(self, event_class: type) -> bool:
        """Whether an event of ``event_class`` may change this read model. One that
        cannot only moves its position, so a runner need not even decode it."""
        return self._fallback is None or self._handler_for(event_class) is not self._fallback


def _handlers(projection: type) -> Callable[[type], Callable[..., None]]:
    """The handler of each event class, found once per class: what ``process_event``'s
    ``singledispatchmethod`` would find on every call (it binds a new function and
    looks the class up again each time, a cost paid per event and per read model)."""
    method = inspect.getattr_static(projection, "process_event")
    if not isinstance(method, singledispatchmethod):
        plain = method

        def always(cls: type) -> Callable[..., None]:
            return plain

        return always
    found: dict[type, Callable[..., None]] = {}
    dispatch = method.dispatcher.dispatch

    def handler_for(cls: type) -> Callable[..., None]:
        handler = found.get(cls)
        if handler is None:
            handler = found[cls] = dispatch(cls)
        return handler

    return handler_for


def remember(facts: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Keeps a fact in a projection's memory of at most ``limit`` facts (then it starts
    over: what is forgotten is read back from the view's tables when needed)."""
    if len(facts) >= limit:
        facts.clear()
    facts[key] = value


class IndexDDL(str):
    """The DDL of a secondary index (no constraint behind it), with the index's name."""

    name: str


def index(table: str, name: str, columns: str, *, using: str = "btree") -> str:
    """DDL for an index named ``<table>_<name>_idx``: a secondary index, which only
    queries use (never a handler: they find rows by primary key or unique column), so
    a rebuild makes it once, at the end (:meth:`TequioView.drop_secondary_indexes`)."""
    ddl = IndexDDL(
        f"CREATE INDEX IF NOT EXISTS {table}_{name}_idx ON {table} USING {using} ({columns})"
    )
    ddl.name = f"{table}_{name}_idx"
    return ddl


def event_class(aggregate: type, name: str) -> type:
    """``Case.Raised`` and friends, made by the library's ``@event``: checked at import."""
    cls = getattr(aggregate, name, None)
    if not isinstance(cls, type):
        raise TypeError(f"{aggregate.__name__} has no event class {name!r}")
    return cls


class Unread:
    """An event that no read model of the batch handles, left undecoded by the runner:
    only its position counts (idempotency receipts are a fifth of a busy log)."""

    __slots__ = ("topic",)

    def __init__(self, topic: str) -> None:
        self.topic = topic


def event_type(domain_event: Any) -> str:
    """``Case.Raised`` for a case's Raised event (its topic, for one left undecoded)."""
    if isinstance(domain_event, Unread):
        return domain_event.topic
    return type(domain_event).__qualname__


def event_fields(domain_event: Any, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The event's own facts, without machinery, personal data or ``exclude``.

    Values are as the event holds them: :func:`jsonb` writes dates, times, UUIDs,
    enums and sets as :func:`jsonable` would (converting each value here first cost
    the feed and the timelines ~7 % of a catch-up)."""
    cls = type(domain_event)
    names = _PUBLIC_FIELDS.get((cls, exclude))
    if names is None:
        if not dataclasses.is_dataclass(domain_event):
            return {
                name: value
                for name, value in vars(domain_event).items()
                if name not in EVENT_MACHINERY and name not in exclude and not is_personal(name)
            }
        names = tuple(
            field.name
            for field in dataclasses.fields(domain_event)
            if field.name not in EVENT_MACHINERY
            and field.name not in exclude
            and not is_personal(field.name)
        )
        _PUBLIC_FIELDS[(cls, exclude)] = names  # a dataclass's fields are its class's
    return {name: getattr(domain_event, name) for name in names}


# (Event class, names left out) -> the names of its public fields, read once per class.
_PUBLIC_FIELDS: dict[tuple[type, frozenset[str]], tuple[str, ...]] = {}


def is_personal(field_name: str) -> bool:
    return field_name in PERSONAL_FIELDS or field_name.startswith("reporter")


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    return str(value)


def jsonb(value: Any) -> Jsonb:
    """A ``jsonb`` parameter or copied value, encoded by orjson: the feed and the
    timelines encode an event's facts each (``json.dumps`` was ~4 % of a replay's
    CPU). orjson writes dates, datetimes, UUIDs and enums as :func:`jsonable` does;
    sets and anything else it cannot encode go through :func:`jsonable`. It writes
    keys that are not strings its own way (an enum key as its value, ``None`` as
    ``null``), writes dataclasses as objects, and refuses integers beyond 64 bits,
    tuple keys and times with a zone: the published events' fields hold none of
    these (a test reads every field type they use)."""
    return Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=jsonable, option=orjson.OPT_NON_STR_KEYS)


def enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value
