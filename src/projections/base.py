"""What every read model shares.

A view (:class:`TequioView`) is a ``PostgresTrackingRecorder`` that also owns its
read-model tables: each handler writes its rows and the tracking position in one
transaction (``with self.view.tracked(tracking) as curs: ...``), so every event
is applied exactly once and a crash leaves nothing half done.

A projection (:class:`TequioProjection`) receives every event of the application
(no topic filter) and records tracking even for the events it ignores, so a
reader can wait for any notification id on every view.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import date, datetime
from enum import Enum
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import Cursor
from psycopg.rows import DictRow
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


class TequioView(PostgresTrackingRecorder):
    """Read-model tables plus the tracking table, created together, written together."""

    # Names of the read-model tables this view owns (the tracking table is added by
    # the library: ``<projection name>_tracking``).
    TABLES: ClassVar[tuple[str, ...]] = ()
    # DDL for those tables (idempotent: ``if not exists``).
    CREATE: ClassVar[tuple[str, ...]] = ()

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(Composed([SQL(statement)]) for statement in self.CREATE)
        self._batch: Cursor[DictRow] | None = None
        self._batch_tracking: Tracking | None = None
        # In a pipelined batch: statements that must change one row, checked at its end.
        self._deferred: list[tuple[Cursor[DictRow], str]] | None = None

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

    @contextmanager
    def tracked(self, tracking: Tracking) -> Iterator[Cursor[DictRow]]:
        """A cursor in a transaction that records ``tracking`` when the block succeeds.

        Inside :meth:`batch` (used by rebuilds) the batch's transaction is reused and
        tracking is written once, at the end of the batch.
        """
        if self._batch is not None:
            yield self._batch
            self._batch_tracking = tracking
            return
        with self.datastore.transaction(commit=True) as curs:
            yield curs
            self._insert_tracking(curs, tracking)

    def skip(self, tracking: Tracking) -> None:
        """Records only the position: the event means nothing to this read model."""
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
        deferred: list[tuple[Cursor[DictRow], str]] | None = [] if pipelined else None
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
        deferred: list[tuple[Cursor[DictRow], str]] | None,
    ) -> Iterator[Cursor[DictRow]]:
        """Applies events in a transaction opened by the caller (``batch``, or one
        shared by several views), and writes this view's position at the end.

        With ``deferred`` (a pipelined transaction), row counts that
        :meth:`execute_one` must check are added to it, for :func:`check_deferred`
        once the pipeline has its answers.
        """
        self._batch = curs
        self._batch_tracking = None
        self._deferred = deferred
        try:
            yield curs
            tracking = last or self._batch_tracking
            if tracking is not None:
                self._insert_tracking(curs, tracking)
        finally:
            self._batch = None
            self._batch_tracking = None
            self._deferred = None

    def execute_one(self, curs: Cursor[DictRow], query: str, params: Any, missing: str) -> None:
        """Runs a statement that must change exactly one row (``LookupError(missing)``
        if not). In a pipelined batch the count is checked when the batch ends, so the
        statement does not wait for its answer."""
        if self._deferred is None:
            curs.execute(query, params)
            if curs.rowcount != 1:
                raise LookupError(missing)
            return
        checked = curs.connection.cursor()
        checked.execute(query, params)
        self._deferred.append((checked, missing))


def check_deferred(deferred: Sequence[tuple[Cursor[DictRow], str]] | None) -> None:
    """``LookupError`` for the first statement that did not change exactly one row."""
    for checked, missing in deferred or ():
        if checked.rowcount != 1:
            raise LookupError(missing)


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
