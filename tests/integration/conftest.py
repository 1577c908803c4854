"""Fixtures the integration tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from projections.runtime import ProjectionService
from tequio.database import ConnectionInfo


@pytest.fixture
async def pool(db: ConnectionInfo) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on the test database, as the API reads it."""
    created = await asyncpg.create_pool(db.url(), min_size=1, max_size=4)
    yield created
    await created.close()


@pytest.fixture
def services() -> Iterator[list[ProjectionService]]:
    """Services a test starts; all stopped at the end, whatever happens."""
    started: list[ProjectionService] = []
    yield started
    for service in started:
        service.stop()
