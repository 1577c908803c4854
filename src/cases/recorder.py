"""The event store's recorder: the library's, saving in one statement (ADR 0028).

The library's PostgreSQL recorder saves in a pipelined transaction: ``SET LOCAL
lock_timeout``, ``LOCK TABLE ... IN EXCLUSIVE MODE``, ``NOTIFY``, the ``INSERT``, a
sync to fetch the notification ids, then ``COMMIT``. The table lock, which makes
insert order equal commit order, is held from the ``LOCK`` to the end of the
``COMMIT``: across a round trip to the client, and while the client's thread waits
for the interpreter lock to read the answer and send the commit. Under concurrent
writes every other save waits behind that.

This recorder does the same in one function, called as one statement in autocommit:
the lock is taken, the events inserted and the transaction committed without the
client in between. It still takes the lock (the library's own database function
does not, which is why ``POSTGRES_ENABLE_DB_FUNCTIONS`` stays off).

The function is made with the event store's tables. A process that saves without
making them (``CREATE_TABLE=n``) on a database older than the function saves as the
library does until a process that makes tables has run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier, Literal

log = logging.getLogger("tequio.event_store")


class OrderedInsertRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        function = Identifier(f"{self.events_table_name}_insert")
        event_type = Identifier(self.stored_event_type_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}("
                "events {schema}.{event_type}[], wait_for_lock text)"
                " RETURNS SETOF bigint LANGUAGE plpgsql AS $body$"
                " BEGIN"
                "  PERFORM set_config('lock_timeout', wait_for_lock, true);"
                "  LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;"
                "  NOTIFY {channel};"
                "  RETURN QUERY"
                "   INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
                "   SELECT originator_id, originator_version, topic, state FROM unnest(events)"
                "   RETURNING notification_id;"
                " END"
                " $body$"
            ).format(
                schema=schema,
                function=function,
                event_type=event_type,
                table=Identifier(self.events_table_name),
                channel=Identifier(self.channel_name),
            )
        )
        self._insert_call = SQL(
            "SELECT notification_id FROM {schema}.{function}(%s, {timeout}) AS notification_id"
        ).format(
            schema=schema,
            function=function,
            timeout=Literal(f"{self.datastore.lock_timeout}s"),
        )
        self._said_missing = False

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return None
        rows = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        try:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self._insert_call, (rows,), prepare=True)
                return [row["notification_id"] for row in curs.fetchall()]
        except ProgrammingError as error:
            if not isinstance(error.__cause__, psycopg.errors.UndefinedFunction):
                raise
        # The statement failed before doing anything: nothing was stored.
        if not self._said_missing:
            self._said_missing = True
            log.warning(
                "the event store's insert function is missing (tables made by an older"
                " version, and this process does not make them): saving as the library"
                " does until it is made"
            )
        library_save = PostgresApplicationRecorder.insert_events.__wrapped__
        return library_save(self, stored_events, **kwargs)
