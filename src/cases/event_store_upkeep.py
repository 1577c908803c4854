"""PostgreSQL's upkeep of the event store, kept short so that it never holds up writes
(ADR 0024).

Every save takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` on the events table (inside
Tequio's insert function since ADR 0028, as the library's save did), which waits
for any ``VACUUM`` or ``ANALYZE`` of that table to finish (they hold ``SHARE UPDATE
EXCLUSIVE``). Left to PostgreSQL's defaults, an automatic
``ANALYZE`` samples 30,000 rows and an insert-driven ``VACUUM`` waits until a fifth
of the table is new: on 200,000 events the analyze took 0.65 s, and every write of
that moment waited for it (the bench's lag phase showed 0.3-0.9 s stalls). An
autovacuum that blocks a writer for longer than ``deadlock_timeout`` is cancelled,
and starts again later.

So the events table gets a small statistics sample (its queries are by primary key,
notification id range and originator, which need little of it) and upkeep after
every ``UPKEEP_EVERY`` new events, whatever the table's size: each run is then tens
of milliseconds.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql

log = logging.getLogger("tequio.event_store")

# 300 x this many rows per ANALYZE (PostgreSQL's default target is 100).
STATISTICS_TARGET = 10
UPKEEP_EVERY = 20_000
# Storage parameters of the events table. The insert-driven ones need PostgreSQL 13.
AUTOVACUUM = {
    "autovacuum_analyze_threshold": str(UPKEEP_EVERY),
    "autovacuum_analyze_scale_factor": "0",
}
AUTOVACUUM_ON_INSERT = {
    "autovacuum_vacuum_insert_threshold": str(UPKEEP_EVERY),
    "autovacuum_vacuum_insert_scale_factor": "0",
}


def keep_upkeep_short(datastore: Any, table: str) -> None:
    """Sets the events table's statistics sample and autovacuum parameters, if they are
    not set yet (each ``ALTER`` waits for the table's writers, so none is sent again)."""
    if not isinstance(datastore, PostgresDatastore):
        return
    try:
        _tune(datastore, table)
    except psycopg.Error as error:
        # Tuning, not a condition of running: a busy table (the lock timeout) or a
        # role that may not alter it leaves the defaults, and says so.
        log.warning("event store upkeep left as it was: %s", error)


def _tune(datastore: PostgresDatastore, table: str) -> None:
    with datastore.transaction(commit=True) as curs:
        # Each ALTER waits for the table's writers; other processes starting wait for
        # the schema lock meanwhile.
        curs.execute("SET LOCAL lock_timeout = '5s'")
        curs.execute(
            "SELECT c.reloptions, current_setting('server_version_num')::int AS version,"
            " array_agg(a.attname::text ORDER BY a.attnum)"
            "   FILTER (WHERE a.attstattarget IS DISTINCT FROM %s) AS columns"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped"
            " GROUP BY c.reloptions",
            (STATISTICS_TARGET, datastore.schema, table),
        )
        row = curs.fetchone()
        if row is None:
            return  # no such table (the library was told not to make it)
        wanted = dict(AUTOVACUUM)
        if row["version"] >= 130000:
            wanted |= AUTOVACUUM_ON_INSERT
        present = dict(option.split("=", 1) for option in row["reloptions"] or [])
        name = sql.Identifier(datastore.schema, table)
        if any(present.get(k) != v for k, v in wanted.items()):
            curs.execute(
                sql.SQL("ALTER TABLE {} SET ({})").format(
                    name,
                    sql.SQL(", ").join(
                        sql.SQL("{} = {}").format(sql.SQL(k), sql.Literal(v))
                        for k, v in wanted.items()
                    ),
                )
            )
        for column in row["columns"] or []:
            curs.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET STATISTICS {}").format(
                    name, sql.Identifier(column), sql.Literal(STATISTICS_TARGET)
                )
            )
