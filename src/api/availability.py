"""PostgreSQL out of reach: the API says so quickly, with a type, and recovers by itself.

While the database is down (stopped, restarting, unreachable), a request must get a
typed ``SERVICE_UNAVAILABLE`` error, not an ``INTERNAL_SERVER_ERROR`` and not a wait
of minutes: the write side's library retries each query ten times, each waiting for
its pool's timeout, so one command could otherwise block for minutes. Both pools
reconnect on their own once the server is back. See docs/faults.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import asyncpg
import psycopg
from eventsourcing.persistence import InterfaceError as LibraryInterfaceError
from eventsourcing.persistence import OperationalError as LibraryOperationalError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.errors import ApiError
from api.http_errors import install_http_error_handlers
from api.language import preferred_language

log = logging.getLogger("tequio.api")

# A quick look at the server before a command is handed to a worker thread.
CHECK_TIMEOUT = 2.0
# How long a successful look is trusted (DatabaseCheck).
CHECK_FRESH_FOR = 0.1
# A command's worker thread gets this much more than the table lock's timeout.
COMMAND_GRACE = 10.0
# Seconds a client is asked to wait before it tries again.
RETRY_AFTER = 5

_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, no socket file (asyncpg connects)
    TimeoutError,
    asyncpg.PostgresConnectionError,  # e.g. the connection was closed mid-query
    asyncpg.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    psycopg.OperationalError,  # includes the pool's timeout and lock timeouts
    LibraryOperationalError,
    LibraryInterfaceError,
)


def is_unavailable(error: BaseException | None) -> bool:
    """True when ``error`` (or what caused it) says the database cannot be used now."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, _UNAVAILABLE):
            return True
        seen.add(id(error))
        error = error.__cause__
    return False


def unavailable() -> ApiError:
    return ApiError("SERVICE_UNAVAILABLE", "database_unavailable")


async def ping(pool: asyncpg.Pool) -> None:
    """Raises the connection's own error when PostgreSQL does not answer at once."""
    async with pool.acquire(timeout=CHECK_TIMEOUT) as conn:
        await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT)


class DatabaseCheck:
    """Before a command: ``SERVICE_UNAVAILABLE`` at once when PostgreSQL does not answer.

    A successful look is trusted for ``fresh_for`` seconds, so a busy server pings
    a few times a second instead of once per write. A command that starts within
    that window of the server going down waits for its timeout instead (as does one
    that was already running when it went down): a failed look forgets the last
    success at once."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        fresh_for: float = CHECK_FRESH_FOR,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._fresh_for = fresh_for
        self._monotonic = monotonic
        self._good_until = float("-inf")

    async def require(self) -> None:
        if self._monotonic() < self._good_until:
            return
        try:
            await ping(self._pool)
        except Exception as error:
            self._good_until = float("-inf")
            if is_unavailable(error):
                raise unavailable() from error
            raise
        self._good_until = self._monotonic() + self._fresh_for


def install_unavailable_handlers(app: FastAPI) -> None:
    """Outside GraphQL (the event feed, Open311, /metrics): HTTP 503 with ``Retry-After``
    and the contract's error body, instead of a 500 or a dropped connection; and typed
    errors for the routing layer's refusals (:mod:`api.http_errors`)."""

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable in %s: %r", request.url.path, exc)
        error = unavailable()
        language = preferred_language(request.headers.get("accept-language"))
        return JSONResponse(
            {
                "data": None,
                "errors": [
                    {
                        "message": error.message(language),
                        "extensions": {"code": error.code, "reason": error.key},
                    }
                ],
            },
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER)},
        )

    for error_class in _UNAVAILABLE:
        app.add_exception_handler(error_class, database_unavailable)
    # The routing layer's refusals (404, 405) are typed too; installed here because
    # create_app calls this for every error answer outside GraphQL.
    install_http_error_handlers(app)
