"""Fixtures of the fault tests: a PostgreSQL of their own and a finaliser for every process.

These tests stop, restart and kill PostgreSQL, so they never use the suite's shared
server (``tests/conftest.py``'s ``server_info``, in ``.tequio/test``) nor one named by
``DATABASE_URL`` (CI may set it: a server we must not stop). They always start their
own embedded server in a temporary directory, and every ``tequio`` process they start
is pointed at it explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_harness import OwnPostgres, Processes

from tequio.database import ConnectionInfo


@pytest.fixture(scope="session")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPostgres]:
    server = OwnPostgres(tmp_path_factory.mktemp("faults-pg"))
    try:
        yield server
    finally:
        server.shut_down()
        assert server.processes() == [], "our PostgreSQL is still running"


@pytest.fixture
def fault_db(own_postgres: OwnPostgres) -> Iterator[ConnectionInfo]:
    """A fresh database on our own server (started again if a test left it stopped)."""
    if not own_postgres.accepts_connections():
        own_postgres.start()
    db = own_postgres.new_database()
    yield db
    if not own_postgres.accepts_connections():
        own_postgres.start()
    own_postgres.drop(db)


@pytest.fixture
def procs(tmp_path: Path, fault_db: ConnectionInfo) -> Iterator[Processes]:
    """Starts ``tequio serve`` / ``tequio worker`` processes; none outlives the test."""
    processes = Processes(tmp_path, fault_db)
    try:
        yield processes
    finally:
        processes.stop_all()
        assert processes.leftovers() == [], "a tequio process outlived its test"
