"""Fixtures: one real PostgreSQL per test run, a clean database for every test.

With ``DATABASE_URL`` set, tests use that server; otherwise they start the
embedded server (the same code path as ``tequio serve``) in
``TEQUIO_TEST_DATA_DIR`` (default ``.tequio/test``). Each run creates its own
database and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cases.application import CommandContext, TequioApplication
from cases.clock import FixedClock
from tequio.application import build_application
from tequio.database import (
    ConnectionInfo,
    check_reachable,
    drop_database,
    ensure_database,
    start_embedded,
)
from tequio.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
MUNICIPALITY = "iztapalapa"


@pytest.fixture(scope="session")
def server_info() -> Iterator[ConnectionInfo]:
    url = os.environ.get("DATABASE_URL")
    server = None
    if url:
        info = ConnectionInfo.from_url(url)
        check_reachable(info)
    else:
        data_dir = Path(os.environ.get("TEQUIO_TEST_DATA_DIR", ROOT / ".tequio" / "test"))
        server, info = start_embedded(data_dir)
    dbname = f"tequio_test_{uuid.uuid4().hex[:10]}"
    ensure_database(info, dbname)
    yield info.with_database(dbname)
    drop_database(info, dbname)
    if server is not None:
        server.cleanup()


def truncate_all(info: ConnectionInfo) -> None:
    """Empties every table Tequio made, so each test starts from nothing."""
    with psycopg.connect(info.url(), autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "select tablename from pg_tables where schemaname = 'public'"
            ).fetchall()
        ]
        if tables:
            conn.execute(
                sql.SQL("truncate {} restart identity cascade").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in tables)
                )
            )


@pytest.fixture
def db(server_info: ConnectionInfo) -> ConnectionInfo:
    truncate_all(server_info)
    return server_info


@pytest.fixture
def settings(db: ConnectionInfo) -> Settings:
    return Settings(
        DATABASE_URL=db.url(),
        TEQUIO_MUNICIPALITY=MUNICIPALITY,
        TEQUIO_POOL_SIZE=2,
    )


@pytest.fixture
def clock() -> FixedClock:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    # Monday 2026-11-16, 10:00 in Mexico City: the start of the scenario's week.
    return FixedClock(datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("America/Mexico_City")))


@pytest.fixture
def app(settings: Settings, db: ConnectionInfo, clock: FixedClock) -> Iterator[TequioApplication]:
    application = build_application(settings, db, clock=clock)
    yield application
    application.close()


@pytest.fixture
def ctx() -> CommandContext:
    return CommandContext(actor="coordinator:rosa", municipality=MUNICIPALITY)
