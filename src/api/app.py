"""The FastAPI application factory. Nothing connects at import time."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import asyncpg
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api import open311
from api.auth import Authenticator
from api.availability import DatabaseCheck, install_unavailable_handlers, ping
from api.callers import AuthenticationFailed, Gatekeeper
from api.errors import ApiError
from api.feed import router as feed_router
from api.graphql.context import TequioContext
from api.graphql.router import TequioGraphQLRouter
from api.graphql.schema import build_schema
from api.language import preferred_language
from api.limits import error_response, install_limits
from api.metrics import render as render_metrics
from api.metrics import render_interpreter, render_query_cache
from api.metrics import render_webhooks as render_webhook_metrics
from api.query_cache import QueryCache, ReadModelPositions, judge
from api.runtime import ReadModels, Runtime
from api.shared_allowances import SharedAllowances
from cases.clock import Clock, SystemClock
from integrations.webhooks.config import WebhookConfig
from integrations.webhooks.host import Webhooks
from projections.positions import ProgressWatch, kept_now
from projections.registry import PROJECTIONS
from projections.runtime import ProjectionService
from projections.runtime import status as projection_status
from tequio.application import build_application, library_env
from tequio.database import Database
from tequio.settings import Settings, freeze_startup_heap
from tequio.worker_process import WorkerProcess

log = logging.getLogger("tequio.api")


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """The pool's own reset runs ``RESET ALL; UNLISTEN *; ...`` on every release: a
    round trip per read. These connections never change their session (no ``SET``,
    ``LISTEN`` or session-level advisory lock; the listener has its own connection),
    and asyncpg still rolls back a transaction left open before calling this."""


def _projection_status(runtime: Runtime, settings: Settings) -> Callable[[], list[dict[str, Any]]]:
    """This process's runners' status, or (kept elsewhere) the one stored by the process
    that runs each read model (its heartbeat)."""
    if runtime.projections is not None:
        return runtime.projections.status
    env = library_env(settings, runtime.database.info, pool_size=1)
    return lambda: projection_status(env)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    run_projections: bool = True,
    monotonic: Callable[[], float] = time.monotonic,
    webhook_config: WebhookConfig | None = None,
    projections_worker: WorkerProcess | None = None,
    freeze_heap_when_ready: bool = False,
) -> FastAPI:
    """Builds the API. With ``run_projections`` the read models are kept in this process;
    ``tequio serve`` keeps them in a ``tequio worker`` child it watches
    (``projections_worker``, part of its readiness), and production runs them as
    ``tequio worker`` processes of their own.
    ``monotonic`` paces the rate limit and the OIDC key cache (tests move it by hand).
    ``webhook_config`` (default: from settings) sets the webhook dispatcher's pace and
    clock; the dispatcher runs here when the projections do.
    ``freeze_heap_when_ready`` (the server commands; not tests, which share their
    process) freezes what start-up made once it is ready (ADR 0022)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = await to_thread.run_sync(Database.open, settings)
        env = library_env(settings, database.info)
        application = await to_thread.run_sync(
            lambda: build_application(settings, database.info, clock=clock)
        )
        projections = None
        if run_projections:
            projections = ProjectionService(env)
            await to_thread.run_sync(projections.start)
        pool = await asyncpg.create_pool(
            database.info.url(),
            min_size=1,
            max_size=settings.pool_size * 2,
            reset=_keep_session,
        )
        progress = ProgressWatch(pool, database.info.url())
        await progress.start()
        query_cache = None
        if settings.query_cache_size > 0:
            query_cache = QueryCache(
                size=settings.query_cache_size,
                max_entry_bytes=settings.query_cache_max_entry_bytes,
                max_bytes=settings.query_cache_max_bytes,
                positions=ReadModelPositions(progress, pool),
                judge=lambda document: judge(
                    schema._schema,
                    document,
                    rules=schema.limit_rules,
                    max_tokens=schema.max_tokens,
                ),
            )
            await query_cache.start()
        app.state.runtime = Runtime(
            settings=settings,
            database=database,
            application=application,
            pool=pool,
            clock=clock or SystemClock(),
            queries=ReadModels.on(pool),
            projections=projections,
            progress=progress,
            database_check=DatabaseCheck(pool),
            query_cache=query_cache,
        )
        allowances = None
        if settings.rate_limit_per_minute > 0 and settings.rate_limit_share_seconds > 0:
            allowances = SharedAllowances(
                limiter, pool, settings.municipality, settings.rate_limit_share_seconds
            )
            await allowances.start()
        app.state.shared_allowances = allowances
        webhooks = await Webhooks.open(
            settings, pool, database.info.url(), config=webhook_config, dispatch=run_projections
        )
        app.state.webhooks = webhooks.store
        if freeze_heap_when_ready:
            freeze_startup_heap()
        log.info("Tequio ready on %s", database.info.describe())
        try:
            yield
        finally:
            await webhooks.close()
            if allowances is not None:
                await allowances.close()
            if query_cache is not None:
                await query_cache.close()
            await progress.close()
            await pool.close()
            if projections is not None:
                await to_thread.run_sync(projections.stop)
            await to_thread.run_sync(application.close)
            await to_thread.run_sync(database.close)

    schema = build_schema(introspection=settings.introspection)

    app = FastAPI(
        title="Tequio",
        summary="Commitments made to communities, and who is accountable for them.",
        version="0.1.0",
        lifespan=lifespan,
    )
    limiter = install_limits(app, settings, monotonic=monotonic)
    install_unavailable_handlers(app)
    gate = Gatekeeper(Authenticator(settings, monotonic=monotonic), limiter)
    app.state.gatekeeper = gate

    async def graphql_context(request: HTTPConnection) -> TequioContext:
        language = preferred_language(request.headers.get("accept-language"))
        caller = await gate.caller(request, language)
        return TequioContext(
            runtime=request.app.state.runtime,
            caller=caller,
            language=language,
            idempotency_key=request.headers.get("idempotency-key"),
            gatekeeper=gate,
        )

    @app.exception_handler(AuthenticationFailed)
    async def authentication_failed(_: Request, exc: AuthenticationFailed) -> JSONResponse:
        error = exc.error
        return JSONResponse(
            {
                "data": None,
                "errors": [
                    {"message": error.message(exc.language), "extensions": {"code": error.code}}
                ],
            },
            status_code=exc.status_code,
            headers={"WWW-Authenticate": "Bearer"}
            if exc.status_code == 401
            else {"Retry-After": "10"},
        )

    app.include_router(
        TequioGraphQLRouter(
            schema,
            context_getter=graphql_context,
            # The protocol the README documents; the legacy `graphql-ws` is not served.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            graphql_ide="graphiql" if settings.graphiql else None,
        ),
        prefix="/graphql",
    )

    @app.api_route(
        "/graphql", methods=["DELETE", "OPTIONS", "PATCH", "PUT"], include_in_schema=False
    )
    async def graphql_other_method() -> None:
        # Without it, Starlette answers with the first route's `Allow: GET` alone.
        raise StarletteHTTPException(405, headers={"Allow": "GET, POST"})

    app.include_router(feed_router)
    app.include_router(open311.router, prefix=open311.PREFIX)

    @app.get("/healthz", tags=["operations"])
    async def healthz(request: Request) -> Any:
        runtime: Runtime = request.app.state.runtime
        if runtime.database.embedded_stopped():
            return JSONResponse(
                {"status": "the embedded PostgreSQL has stopped: restart Tequio to start it"},
                status_code=503,
            )
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> Any:
        runtime: Runtime = request.app.state.runtime
        checks: dict[str, Any] = {}
        try:
            async with runtime.pool.acquire(timeout=2) as conn:
                await conn.fetchval("select 1", timeout=2)
            checks["database"] = "ok"
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            checks["database"] = f"unreachable: {_unreachable(error)}"
        if checks["database"] != "ok":
            # Asking for their status would wait on the library's retries (minutes).
            checks["projections"] = "unknown: the database is unreachable"
        elif projections_worker is not None and not projections_worker.alive:
            checks["projections"] = "not running: the worker is starting again"
        elif runtime.projections is None:
            # Kept by another process: this server's worker child (ADR 0021), or `tequio
            # worker` processes (with --no-projections, as docker-compose runs it). Their
            # heartbeats say whether they keep them; one that hangs stops beating.
            try:
                kept = await kept_now(runtime.pool)
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                checks["projections"] = f"unknown: {_unreachable(error)}"
            else:
                missing = [name for name in PROJECTIONS if name not in kept]
                checks["projections"] = (
                    "ok" if not missing else f"not running: {', '.join(missing)}"
                )
        else:
            status = None
            with anyio.move_on_after(5):
                status = await to_thread.run_sync(
                    runtime.projections.status, abandon_on_cancel=True
                )
            if status is None:
                checks["projections"] = "unknown: no answer"
            else:
                # A standby waits while another process keeps that read model: healthy.
                stopped = [s["name"] for s in status if not (s["running"] or s.get("standby"))]
                checks["projections"] = (
                    "ok" if not stopped else f"not running: {', '.join(stopped)}"
                )
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        if metrics_token is not None and not _bearer_is(request, metrics_token):
            refused = ApiError("UNAUTHENTICATED", "metrics_token_required")
            language = preferred_language(request.headers.get("accept-language"))
            headers = {"WWW-Authenticate": 'Bearer realm="metrics"'}
            return error_response(refused, language, 401, path="/metrics", headers=headers)
        runtime: Runtime = request.app.state.runtime
        await ping(runtime.pool)  # down: 503 now, not after the library's retries
        statuses = await to_thread.run_sync(_projection_status(runtime, settings))
        counts = await request.app.state.webhooks.counts()
        text = render_metrics(statuses) + render_webhook_metrics(counts)
        if runtime.query_cache is not None:
            text += render_query_cache(runtime.query_cache)
        return PlainTextResponse(text + render_interpreter())

    return app


def _bearer_is(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Compared in constant time: how long a wrong guess took says nothing of the token.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _unreachable(error: BaseException) -> str:
    """What an operator can act on: a missing socket file means the server is down."""
    if isinstance(error, FileNotFoundError):
        return "PostgreSQL is not running (its socket is gone)"
    if isinstance(error, ConnectionRefusedError):
        return "PostgreSQL refuses connections (not running, or not listening there)"
    return type(error).__name__
