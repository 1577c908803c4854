"""The FastAPI application factory. Nothing connects at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cases.application import TequioApplication
from cases.clock import Clock, SystemClock
from tequio.application import build_application
from tequio.database import Database
from tequio.settings import Settings

log = logging.getLogger("tequio.api")


@dataclass
class Runtime:
    """What the lifespan builds and the request handlers share."""

    settings: Settings
    database: Database
    application: TequioApplication
    pool: asyncpg.Pool
    clock: Clock


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = await to_thread.run_sync(Database.open, settings)
        application = await to_thread.run_sync(
            lambda: build_application(settings, database.info, clock=clock)
        )
        pool = await asyncpg.create_pool(
            database.info.url(), min_size=1, max_size=settings.pool_size * 2
        )
        app.state.runtime = Runtime(settings, database, application, pool, clock or SystemClock())
        log.info("Tequio ready on %s", database.info.describe())
        try:
            yield
        finally:
            await pool.close()
            await to_thread.run_sync(application.close)
            await to_thread.run_sync(database.close)

    app = FastAPI(
        title="Tequio",
        summary="Commitments made to communities, and who is accountable for them.",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> Any:
        runtime: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            async with runtime.pool.acquire(timeout=2) as conn:
                await conn.fetchval("select 1", timeout=2)
            checks["database"] = "ok"
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            checks["database"] = f"unreachable: {type(error).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    return app
