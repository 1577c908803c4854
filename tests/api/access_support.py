"""Shared by the authorisation proofs: a database of their own, and one caller per profile.

The access matrix and the tenant-isolation tests each run one app for a whole module on
a database made for that module, so they neither truncate nor see another module's data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from graphql_client import GraphQLClient
from world import CABINET, OTHER_CABINET

from api.app import create_app
from cases.clock import FixedClock
from tequio.database import ConnectionInfo, drop_database, ensure_database
from tequio.settings import Settings

OWN_AGENCY = "servicios-urbanos"
OTHER_AGENCY = "obras"

# Every kind of caller the contract names, as the ids of the matrix's cells.
PROFILES = (
    "public",
    "admin",
    "coordinator",
    "secretary",
    "agency_staff_own_agency",
    "agency_staff_other_agency",
    "agency_staff_no_agency",
    "cabinet_member_this_cabinet",
    "cabinet_member_other_cabinet",
    "integration",
)


@contextmanager
def fresh_database(server_info: ConnectionInfo, label: str) -> Iterator[ConnectionInfo]:
    """A new, empty database on the test server, dropped afterwards."""
    name = f"{server_info.dbname}_{label}_{uuid.uuid4().hex[:6]}"
    ensure_database(server_info, name)
    try:
        yield server_info.with_database(name)
    finally:
        drop_database(server_info, name)


@asynccontextmanager
async def serve_app(
    settings: Settings, clock: FixedClock, *, run_projections: bool = True
) -> AsyncIterator[tuple[FastAPI, GraphQLClient]]:
    """Like ``world.serve``; a second server on a database may leave the read models to
    the first (``run_projections=False``), as API-only replicas do."""
    app = create_app(settings, clock=clock, run_projections=run_projections)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tequio.test") as http:
            yield app, GraphQLClient(http, settings)


def settings_for(info: ConnectionInfo, municipality: str) -> Settings:
    """One server's settings; no rate limit, as these modules send hundreds of requests."""
    return Settings(
        DATABASE_URL=info.url(),
        TEQUIO_MUNICIPALITY=municipality,
        TEQUIO_POOL_SIZE=2,
        TEQUIO_RATE_LIMIT_PER_MINUTE=0,
    )


def profile_tokens(api: GraphQLClient) -> dict[str, str | None]:
    """A bearer token for each profile (``None``: no token, the public)."""
    return {
        "public": None,
        "admin": api.token("ana.admin", "admin"),
        "coordinator": api.token("rosa.coordinadora", "coordinator"),
        "secretary": api.token("sara.secretaria", "secretary"),
        "agency_staff_own_agency": api.token("uriel.urbanos", "agency_staff", agency=OWN_AGENCY),
        "agency_staff_other_agency": api.token("olga.obras", "agency_staff", agency=OTHER_AGENCY),
        "agency_staff_no_agency": api.token("nadia.sin.area", "agency_staff"),
        "cabinet_member_this_cabinet": api.token("jefe.sector", "cabinet_member", tables=[CABINET]),
        "cabinet_member_other_cabinet": api.token(
            "jefa.cabeza", "cabinet_member", tables=[OTHER_CABINET]
        ),
        "integration": api.token("sistema.311", "integration"),
    }
