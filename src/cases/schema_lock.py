"""One process at a time makes the event store's tables.

Processes that start together (``tequio serve --workers N``, a ``tequio worker``
beside the API, a rebuild's processes) each construct the application, and the
library then runs its ``CREATE ... IF NOT EXISTS`` statements and a ``CREATE OR
REPLACE FUNCTION``. Run at the same moment, PostgreSQL fails one of them ("tuple
concurrently updated", or a duplicate key in its catalogue) and that process does not
start. A session advisory lock makes them take turns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from eventsourcing.utils import strtobool

# pg_advisory_lock's key: Tequio's schema, distinct from the projections' locks.
SCHEMA_LOCK_KEY = 0x7E910_5C4E


@contextmanager
def schema_lock(env: Mapping[str, str], create_table: bool = True) -> Iterator[None]:
    """Holds the lock while the block makes tables (not when nothing is made, or the
    store is not PostgreSQL)."""
    if not create_table or env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        yield
        return
    with psycopg.connect(
        host=env.get("POSTGRES_HOST"),
        port=env.get("POSTGRES_PORT"),
        dbname=env.get("POSTGRES_DBNAME"),
        user=env.get("POSTGRES_USER"),
        password=env.get("POSTGRES_PASSWORD"),
        connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT") or 5),
        autocommit=True,
    ) as conn:
        # Bounded: a process stuck holding it must not stop every other from starting.
        conn.execute("SET lock_timeout = '60s'")
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def creates_tables(env: Mapping[str, str], app_name: str) -> bool:
    """The library's ``CREATE_TABLE`` setting (``<APP>_CREATE_TABLE`` first; default on)."""
    value = env.get(f"{app_name.upper()}_CREATE_TABLE", env.get("CREATE_TABLE", "y"))
    return bool(strtobool(value or "y"))
