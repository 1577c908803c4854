"""HTTP fixtures: the real app (lifespan, projections, asyncpg) on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from graphql_client import GraphQLClient

from api.app import create_app
from cases.clock import FixedClock
from tequio.settings import Settings


@pytest.fixture
async def api(settings: Settings, clock: FixedClock) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, clock=clock)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tequio.test") as http:
            yield GraphQLClient(http, settings)
