"""Abuse limits: a cap on request bodies and a per-caller rate limit.

Both live on the application made by ``create_app`` (no module-level state). The
rate limit answers from this process's buckets, without waiting on the database;
the processes of a deployment share what their callers spent through PostgreSQL
every second (``api.shared_allowances``, ADR 0030).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Caller
from api.errors import ApiError
from api.language import preferred_language
from tequio.settings import Settings

# Beyond this many remembered callers, full buckets (callers idle long enough to have
# earned back their whole allowance) are forgotten, so memory stays bounded.
MAX_TRACKED_CALLERS = 10_000


def error_response(
    error: ApiError,
    language: str,
    status_code: int,
    *,
    path: str = "/graphql",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A refusal shaped for its caller: a GraphQL response on /graphql, RFC 9457
    problem details on the REST paths."""
    message = error.message(language)
    if path.startswith("/graphql"):
        body: dict[str, Any] = {
            "data": None,
            "errors": [{"message": message, "extensions": {"code": error.code}}],
        }
        return JSONResponse(body, status_code=status_code, headers=headers)
    problem = {"type": "about:blank", "title": message, "status": status_code, "code": error.code}
    return JSONResponse(
        problem, status_code=status_code, headers=headers, media_type="application/problem+json"
    )


class BodySizeLimit:
    """Refuses request bodies over ``max_bytes`` with HTTP 413, before the application
    sees any of it: a declared Content-Length is checked first, and a chunked body is
    counted as it arrives (the body is then handed on whole)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; there is nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # e.g. http.disconnect, for streaming responses
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        language = preferred_language(Headers(scope=scope).get("accept-language"))
        response = error_response(
            ApiError("BAD_USER_INPUT", "body_too_large", max=self.max_bytes),
            language,
            413,
            path=scope.get("path", ""),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _refused_key(connection: HTTPConnection) -> str:
    return f"refused:{connection.client.host if connection.client else 'unknown'}"


class RateLimited(Exception):
    def __init__(self, retry_after: float, language: str, path: str) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        self.language = language
        self.path = path


@dataclass
class _Bucket:
    tokens: float
    updated: float
    # Requests taken since the deployment was last told (``api.shared_allowances``).
    spent: int = 0


class RateLimiter:
    """A token bucket per caller: up to ``per_minute`` requests at once, earned back at
    ``per_minute / 60`` per second. ``per_minute = 0`` turns the limit off."""

    def __init__(self, per_minute: int, *, monotonic: Callable[[], float]) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        # Set by ``api.shared_allowances`` when it shares this process's spending: only
        # then is it counted (a count nobody takes would keep every bucket remembered).
        self.counts_spending = False

    def take(self, key: str) -> float | None:
        """Spends one request of ``key``; returns None if allowed, else the seconds to
        wait until the next one would be."""
        if self.capacity <= 0:
            return None
        now = self.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            if self.counts_spending:
                bucket.spent += 1
            return None
        return (1 - bucket.tokens) / self.rate

    def unshared(self) -> dict[str, int]:
        """What each caller has taken from this process since the last call: the
        count to share with the deployment's other processes (``api.shared_allowances``).
        Counted from zero again from now on."""
        spent: dict[str, int] = {}
        for key, bucket in self._buckets.items():
            if bucket.spent:
                spent[key] = bucket.spent
                bucket.spent = 0
        return spent

    def unspend(self, spent: dict[str, int]) -> None:
        """Counts ``spent`` (from :meth:`unshared`) as not shared yet: it could not be.
        What is carried is at most what the bucket is short of full now, so requests
        made long ago in an outage have been earned back when it ends."""
        now = self.monotonic()
        for key, count in spent.items():
            bucket = self._buckets.get(key)
            if bucket is None:
                continue
            level = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            short = max(0, math.ceil(self.capacity - level))
            bucket.spent = min(bucket.spent + count, short)

    def settle(self, levels: dict[str, float]) -> None:
        """Takes the deployment's level of callers' buckets, as every process has left
        them, less what this process has taken since it shared its own. A caller this
        process has not seen yet starts from that level, not from a full bucket."""
        now = self.monotonic()
        for key, level in levels.items():
            bucket = self._buckets.get(key)
            if bucket is None:
                if level >= self.capacity:
                    continue  # a full bucket is what an unknown caller gets anyway
                self._forget_idle(now)
                self._buckets[key] = _Bucket(level, now)
            else:
                bucket.tokens = min(self.capacity, level) - bucket.spent
                bucket.updated = now

    def refusals_wait(self, connection: HTTPConnection) -> float | None:
        """None while this address may still present tokens, else the seconds until it
        may: after ``per_minute`` refused tokens a minute, its next tokens are not even
        checked, so that guessing learns nothing more (a valid token is refused too)."""
        if self.capacity <= 0:
            return None
        bucket = self._buckets.get(_refused_key(connection))
        if bucket is None:
            return None
        tokens = min(self.capacity, bucket.tokens + (self.monotonic() - bucket.updated) * self.rate)
        return None if tokens >= 1 else (1 - tokens) / self.rate

    def refused(self, connection: HTTPConnection) -> None:
        """Counts a token refused for a request from this address."""
        self.take(_refused_key(connection))

    def charge(self, connection: HTTPConnection, caller: Caller, language: str) -> None:
        """Counts one request of this caller (its token's subject, or its address when
        it is the public); raises :class:`RateLimited` when it is over the limit.
        Behind a proxy, run uvicorn with ``--proxy-headers`` so the address is the
        client's, not the proxy's."""
        if connection.scope["type"] != "http":
            # A WebSocket's upgrade is not counted: each operation sent over it is
            # (``operation_wait``).
            return
        wait = self.operation_wait(connection, caller)
        if wait is not None:
            raise RateLimited(wait, language, connection.url.path)

    def operation_wait(self, connection: HTTPConnection, caller: Caller) -> float | None:
        """Counts one operation of this caller, by request or sent over a WebSocket (the
        same allowance); None if allowed, else the seconds until one would be."""
        client = connection.client.host if connection.client else "unknown"
        return self.take(f"subject:{caller.subject}" if caller.subject else f"address:{client}")

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < MAX_TRACKED_CALLERS:
            return
        full = [
            k
            for k, b in self._buckets.items()
            if not b.spent and b.tokens + (now - b.updated) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]


async def _rate_limited(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return error_response(
        ApiError("RATE_LIMITED", "rate_limited", seconds=exc.retry_after),
        exc.language,
        429,
        path=exc.path,
        headers={"Retry-After": str(exc.retry_after)},
    )


def install_limits(
    app: FastAPI, settings: Settings, *, monotonic: Callable[[], float]
) -> RateLimiter:
    """Adds the body cap and the rate limit's answer to ``app``; returns the limiter,
    which the GraphQL context charges once it knows who is calling."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(RateLimited, _rate_limited)
    limiter = RateLimiter(settings.rate_limit_per_minute, monotonic=monotonic)
    app.state.rate_limiter = limiter
    return limiter
