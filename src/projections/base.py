"""What every read model shares.

A view (:class:`TequioView`) is a ``PostgresTrackingRecorder`` that also owns its
read-model tables: each handler writes its rows and the tracking position in one
transaction (``with self.view.tracked(tracking) as curs: ...``), so every event
is applied exactly once and a crash leaves nothing half done.

In a pipelined batch, handlers' writes (:meth:`TequioView.write`) wait in a queue
per table and are sent together, consecutive identical statements as one
``executemany`` (ADR 0016): a statement costs a fraction of a separate ``execute``.

A projection (:class:`TequioProjection`) receives every event of the application
(no topic filter) and records tracking even for the events it ignores, so a
reader can wait for any notification id on every view.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime
from enum import Enum
from typing import Any, ClassVar, NamedTuple, TypeVar
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import Connection, Cursor
from psycopg.rows import DictRow, dict_row
from psycopg.sql import SQL, Composed, Identifier

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

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(Composed([SQL(statement)]) for statement in self.CREATE)
        order = self.WRITE_ORDER or self.TABLES
        if sorted(order) != sorted(self.TABLES):
            raise TypeError(f"{type(self).__name__}.WRITE_ORDER must list exactly its TABLES")
        self._write_order = order
        self._batch: Cursor[DictRow] | None = None
        self._batch_tracking: Tracking | None = None
        # In a pipelined batch: statements that must change a number of rows, checked
        # at its end, and the writes waiting to be sent, per table.
        self._deferred: list[Deferred] | None = None
        self._queued: dict[str, list[_Write]] = {}

    def create_table(self) -> None:
        self._mark_emptied_tracking_table()
        super().create_table()

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
        deferred: list[Deferred] | None = [] if pipelined else None
        with self.datastore.transaction(commit=True) as curs:
            with (
                curs.connection.pipeline() if pipelined else nullcontext(),
                self.joined(curs, last, deferred),
            ):
                yield curs
            check_deferred(deferred)

    @contextmanager
    def joined(
        self,
        curs: Cursor[DictRow],
        last: Tracking | None,
        deferred: list[Deferred] | None,
    ) -> Iterator[Cursor[DictRow]]:
        """Applies events in a transaction opened by the caller (``batch``, or one
        shared by several views), and writes this view's position at the end.

        With ``deferred`` (a pipelined transaction), writes are queued (:meth:`write`)
        and the row counts they must change are added to it, for
        :func:`check_deferred` once the pipeline has its answers.
        """
        self._batch = _FlushingCursor(curs.connection, self) if deferred is not None else curs
        self._batch_tracking = None
        self._deferred = deferred
        self._queued = {}
        try:
            yield self._batch
            self.flush()
            tracking = last or self._batch_tracking
            if tracking is not None:
                self._insert_tracking(curs, tracking)
        finally:
            self._batch = None
            self._batch_tracking = None
            self._deferred = None
            self._queued = {}

    def write(
        self,
        curs: Cursor[DictRow],
        table: str,
        query: str,
        params: Any,
        *,
        missing: str | None = None,
    ) -> None:
        """A statement on ``table`` whose answer the handler does not need. With
        ``missing``, it must change exactly one row (``LookupError(missing)`` if not).

        In a pipelined batch it waits in ``table``'s queue: the queues are sent before
        any other statement of this view runs (the batch's cursor sees to that) and at
        the batch's end, in ``WRITE_ORDER``, each table's writes in their order, runs of
        the same statement as one ``executemany``; row counts are checked once the
        pipeline has its answers. Elsewhere it runs at once.
        """
        if table not in self._write_order:
            raise ValueError(f"{type(self).__name__} does not own table {table!r}")
        if self._deferred is None or self._batch is None:
            curs.execute(query, params)
            if missing is not None and curs.rowcount != 1:
                raise LookupError(missing)
            return
        self._queued.setdefault(table, []).append(_Write(query, params, missing))

    def flush(self) -> None:
        """Sends the queued writes (see :meth:`write`)."""
        if not self._queued:
            return
        queued, self._queued = self._queued, {}
        assert self._batch is not None and self._deferred is not None
        connection = self._batch.connection
        for table in self._write_order:
            writes = queued.get(table)
            if not writes:
                continue
            runs = itertools.groupby(writes, key=lambda w: (w.query, w.missing is not None))
            for (query, checked), run in runs:
                batch = list(run)
                cursor = connection.cursor()
                cursor.executemany(query, [w.params for w in batch])
                if checked:
                    self._deferred.append(Deferred(cursor, batch[0].missing or "", len(batch)))


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


class _Write(NamedTuple):
    query: str
    params: Any
    missing: str | None


class Deferred(NamedTuple):
    """Statements sent in a pipeline that must change ``rows`` rows between them."""

    cursor: Cursor[Any]
    missing: str
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


def check_deferred(deferred: Sequence[Deferred] | None) -> None:
    """``LookupError`` for the first group of statements that did not change the rows
    they had to (a batch applied again unpipelined names the event)."""
    for checked in deferred or ():
        if checked.cursor.rowcount != checked.rows:
            raise LookupError(checked.missing)


TView = TypeVar("TView", bound=TequioView)


class TequioProjection(Projection[TView]):
    """A projection whose failures name the notification and the event that failed."""

    def __init__(self, view: TView) -> None:
        super().__init__(view)
        dispatch = self.process_event
        name = self.name

        def guarded(domain_event: Any, tracking: Tracking) -> None:
            try:
                dispatch(domain_event, tracking)
            except ProjectionEventError:
                raise
            except Exception as error:
                raise ProjectionEventError(
                    name, tracking.notification_id, event_type(domain_event), error
                ) from error

        # The class keeps its ``singledispatchmethod``; this instance wraps it.
        self.process_event = guarded


def index(table: str, name: str, columns: str, *, using: str = "btree") -> str:
    """DDL for an index named ``<table>_<name>_idx``."""
    return f"CREATE INDEX IF NOT EXISTS {table}_{name}_idx ON {table} USING {using} ({columns})"


def event_class(aggregate: type, name: str) -> type:
    """``Case.Raised`` and friends, made by the library's ``@event``: checked at import."""
    cls = getattr(aggregate, name, None)
    if not isinstance(cls, type):
        raise TypeError(f"{aggregate.__name__} has no event class {name!r}")
    return cls


def event_type(domain_event: Any) -> str:
    """``Case.Raised`` for a case's Raised event."""
    return type(domain_event).__qualname__


def event_fields(domain_event: Any) -> dict[str, Any]:
    """The event's own facts, JSON-ready, without machinery or personal data."""
    if dataclasses.is_dataclass(domain_event):
        names = [field.name for field in dataclasses.fields(domain_event)]
    else:
        names = list(vars(domain_event))
    return {
        name: jsonable(getattr(domain_event, name))
        for name in names
        if name not in EVENT_MACHINERY and not is_personal(name)
    }


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


def enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value
