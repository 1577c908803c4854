"""One process at a time makes the event store's tables.

Processes that start together (``tequio serve --workers N``, a ``tequio worker``
beside the API, a rebuild's processes) each construct the application, and the
library then runs its ``CREATE ... IF NOT EXISTS`` statements and a ``CREATE OR
REPLACE FUNCTION``. Run at the same moment, PostgreSQL fails one of them ("tuple
concurrently updated", or a duplicate key in its catalogue) and that process does not
start. A session advisory lock makes them take turns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore

# pg_advisory_lock's key: Tequio's schema, distinct from the projections' locks.
SCHEMA_LOCK_KEY = 0x7E910_5C4E
# A process stuck holding it makes the others fail to start after this long, with
# PostgreSQL's "lock timeout" error, rather than wait for ever.
WAIT = "60s"


@contextmanager
def schema_lock(datastore: Any) -> Iterator[None]:
    """Holds the lock while the block makes tables; nothing to hold if the store is not
    PostgreSQL. The lock's connection is the datastore's own settings (password
    function included), outside its pool: the block needs the pool's connections."""
    if not isinstance(datastore, PostgresDatastore):
        yield
        return
    pool = datastore.pool
    kwargs = pool.kwargs if isinstance(pool.kwargs, dict) else {}
    settings = {k: v for k, v in kwargs.items() if k != "row_factory"}
    if pool.get_password_func is not None:
        settings["password"] = pool.get_password_func()
    with psycopg.connect(**settings, connect_timeout=max(1, int(pool.timeout))) as conn:
        conn.autocommit = True
        conn.execute(f"SET lock_timeout = '{WAIT}'")
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            # Closing the connection releases it too.
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
