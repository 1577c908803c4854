"""The fuzz tests' server: one per module, stopped when it is done, so it does not run
on in the background of the rest of the suite (see ``fuzz_support``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fuzz_support import LiveServer, start

from tequio.database import ConnectionInfo, drop_database, ensure_database


@pytest.fixture(scope="module")
def live(server_info: ConnectionInfo) -> Iterator[LiveServer]:
    """The app as ``tequio serve`` runs it (in-process projections, webhook dispatcher) on
    a fresh database, with a small world and one token per kind of caller."""
    name = f"{server_info.dbname}_fuzz_{uuid.uuid4().hex[:6]}"
    ensure_database(server_info, name)
    try:
        with start(server_info.with_database(name)) as server:
            yield server
    finally:
        drop_database(server_info, name)
