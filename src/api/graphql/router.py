"""The GraphQL HTTP endpoint: strawberry's router, with its transport refusals typed.

strawberry answers a request it cannot run (a body that is not JSON, no query,
``variables`` that are not an object, an unknown ``operationName``, a mutation over GET)
with ``text/plain`` and a bare reason. Here each is a GraphQL response with the
contract's ``BAD_USER_INPUT`` and a message in the caller's language.

A subscription sent as a plain HTTP request (not the multipart protocol) is refused the
same way: strawberry would run it as a query and fail with an internal error, since its
field only yields over a stream. Subscriptions go over WebSocket
(``graphql-transport-ws``). Both were found by the fuzz tests (``tests/fuzz``).

A POST whose document is a cacheable read goes through the response cache
(``api.query_cache``, ADR 0016) once the context is made, that is after the body cap,
authentication and the rate limit. Every such answer says what the cache did in the
``Tequio-Query-Cache`` header: ``HIT`` (served from it, or from the same request being
answered at that moment), ``MISS`` (executed, and kept when the answer is plain data)
or ``BYPASS`` (executed, never kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from typing import Any

from cross_web import HTTPException
from fastapi.responses import Response
from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.requests import Request
from starlette.websockets import WebSocket, WebSocketState
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from api.callers import AuthenticationFailed
from api.errors import ApiError
from api.graphql.context import TequioContext
from api.graphql.request_messages import transport_reason
from api.limits import RateLimited, error_response
from api.query_cache import BYPASS, HEADER, HIT, MISS, Positions, QueryCache, cacheable_answer

SUBSCRIPTION_OVER_HTTP = "subscriptions are not allowed"


def connection_authorization(params: object) -> str | None:
    """The ``Authorization`` value of a ``connection_init`` payload, if it has one."""
    if not isinstance(params, dict):
        return None
    for where in (params, params.get("headers")):
        if isinstance(where, dict):
            for key, value in where.items():
                if isinstance(key, str) and key.lower() == "authorization":
                    return str(value)
    return None


# A closed connection's watcher stops within this many seconds, rather than at expiry.
EXPIRY_WATCH_SECONDS = 30.0
EXPIRY_WATCH = "tequio-websocket-expiry-watch"


def close_when_expired(context: TequioContext) -> None:
    """A WebSocket lives as long as its token, not longer: at the token's ``exp`` it is
    closed (4403, "token expired"), and the client connects again with a fresh one. The
    token is checked once, when the connection starts; without this, a socket kept
    open would go on reading and writing as its caller after the token expired."""
    expires_at = context.caller.expires_at
    websocket = context.request
    if expires_at is None or not isinstance(websocket, WebSocket):
        return

    async def watch() -> None:
        while (left := expires_at - time.time()) > 0:
            await asyncio.sleep(min(left, EXPIRY_WATCH_SECONDS))
            if WebSocketState.DISCONNECTED in (websocket.client_state, websocket.application_state):
                return
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code=4403, reason="token expired")

    # Kept by the context, which lives as long as the connection.
    context.expiry_watch = asyncio.get_running_loop().create_task(watch(), name=EXPIRY_WATCH)


class TequioTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws, with each operation sent over the socket counted against the
    caller's rate limit, as a request over HTTP is (one socket could otherwise run
    queries and mutations without end). Over the limit, the operation gets the
    protocol's ``error`` message with ``RATE_LIMITED`` and the socket stays open."""

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            # However the connection ended (the client left, or the server closed it for
            # a bad message), its expiry watch ends with it.
            watch = getattr(self.context, "expiry_watch", None)
            if watch is not None:
                watch.cancel()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        context = self.context
        if (
            self.connection_acknowledged
            and isinstance(context, TequioContext)
            and context.gatekeeper is not None
            and isinstance(context.request, WebSocket)
        ):
            wait = context.gatekeeper.limiter.operation_wait(context.request, context.caller)
            if wait is not None:
                seconds = max(1, math.ceil(wait))
                refused = ApiError("RATE_LIMITED", "rate_limited", seconds=seconds)
                error = GraphQLError(
                    refused.message(context.language),
                    extensions={"code": refused.code, "retryAfter": seconds},
                )
                await self.send_message(
                    {"id": message["id"], "type": "error", "payload": [error.formatted]}
                )
                return
        if isinstance(context, TequioContext):
            context.refresh()  # the connection's context outlives each operation
        await super().handle_subscribe(message)


class TequioGraphQLRouter(GraphQLRouter[Any, Any]):
    graphql_transport_ws_handler_class = TequioTransportWSHandler

    async def on_ws_connect(self, context: Any) -> Any:
        """graphql-transport-ws: a browser cannot set headers on a WebSocket, so the
        token may come in ``connection_init``'s payload (``{"Authorization": "Bearer
        ..."}``, also under ``headers``). It replaces the upgrade request's caller; a
        token that is refused closes the connection (4403), never runs as the public."""
        if not isinstance(context, TequioContext):
            return UNSET
        params = getattr(context, "connection_params", None)
        header = connection_authorization(params)
        if header is None:
            close_when_expired(context)
            return UNSET
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip() or context.gatekeeper is None:
                raise AuthenticationFailed(
                    ApiError("UNAUTHENTICATED", "invalid_token", reason="scheme"),
                    context.language,
                )
            caller = await context.gatekeeper.token_caller(
                token.strip(), context.language, context.request
            )
        except AuthenticationFailed as failed:
            raise ConnectionRejectionError(
                {"code": failed.error.code, "message": failed.error.message(failed.language)}
            ) from None
        except RateLimited as limited:
            refused = ApiError("RATE_LIMITED", "rate_limited", seconds=limited.retry_after)
            raise ConnectionRejectionError(
                {"code": refused.code, "message": refused.message(context.language)}
            ) from None
        context.act_as(caller)
        close_when_expired(context)
        return UNSET

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        cache = getattr(getattr(context, "runtime", None), "query_cache", None)
        if cache is not None and isinstance(request, Request) and request.method == "POST":
            return await self._run_cached(cache, request, context, root_value)
        return await self._run(request, context, root_value)

    async def _run(self, request: Any, context: Any, root_value: Any) -> Any:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as refused:
            language = getattr(context, "language", "en")
            return transport_refusal(refused.status_code, refused.reason, language)

    async def _run_cached(
        self, cache: QueryCache, request: Request, context: Any, root_value: Any
    ) -> Any:
        key, positions, reason = await _cache_key(cache, request, context)
        if key is None or positions is None:
            cache.stats.bypass(reason)
            response = await self._run(request, context, root_value)
            response.headers[HEADER] = BYPASS
            return response
        body = cache.get(key)
        if body is not None:
            return Response(body, media_type="application/json", headers={HEADER: HIT})
        running = cache.running(key)
        if running is not None:
            # The same request (same caller, variables and positions) is being answered:
            # its answer is this one's. Shielded: this request's end is not that one's.
            body = await asyncio.shield(running)
            if body is not None:
                cache.stats.shared += 1
                return Response(body, media_type="application/json", headers={HEADER: HIT})
        making = cache.begin(key)
        kept = None
        try:
            response = await self._run(request, context, root_value)
            kept = _keepable(response, cache.max_entry_bytes)
        finally:
            cache.end(key, making, kept)
        if kept is None:
            cache.stats.skip("not_plain_data")
        else:
            cache.put(key, kept, positions)
        response.headers[HEADER] = MISS
        return response

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        """One operation of a plain (not streamed) HTTP request: never a subscription."""
        request_data = kwargs.get("request_data")
        if request_data is not None and _is_subscription(request_data):
            raise HTTPException(400, SUBSCRIPTION_OVER_HTTP)
        return await super().execute_single(*args, **kwargs)


async def _cache_key(
    cache: QueryCache, request: Request, context: Any
) -> tuple[bytes | None, Positions | None, str]:
    """The cache key of this request and the positions it holds, or None and why it is
    not looked up."""
    headers = request.headers
    if headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
        return None, None, "request"
    accept = headers.get("accept", "").lower()
    if "multipart/" in accept or "text/event-stream" in accept:
        return None, None, "request"  # the client takes a streamed answer
    directives = f"{headers.get('cache-control', '')},{headers.get('pragma', '')}".lower()
    if "no-cache" in directives or "no-store" in directives:
        return None, None, "no_cache"  # the client wants a fresh read
    try:
        data = json.loads(await request.body())
    except ValueError:
        return None, None, "request"
    if not isinstance(data, dict):
        return None, None, "request"  # a batch
    document = data.get("query")
    variables = data.get("variables")
    operation_name = data.get("operationName")
    if (
        not isinstance(document, str)
        or not isinstance(variables, (dict, type(None)))
        or not isinstance(operation_name, (str, type(None)))
        or data.get("extensions") is not None
    ):
        return None, None, "request"
    if not cache.verdict(document).cacheable:
        return None, None, "document"
    positions = cache.positions.snapshot()
    if positions is None:
        return None, None, "positions"
    cache.observe(positions)
    key = cache.key(
        document=document,
        operation_name=operation_name,
        variables=variables,
        context=context,
        positions=positions,
    )
    return (key, positions, "") if key is not None else (None, None, "request")


def _keepable(response: Any, max_bytes: int) -> bytes | None:
    """The body of a plain 200 JSON answer with data and nothing per request, else None
    (a body too big to keep is not parsed to find out)."""
    if type(response) is not Response or response.status_code != 200:
        return None
    if {name.lower() for name in response.headers} - {"content-type", "content-length"}:
        return None
    body = response.body
    if not isinstance(body, bytes):
        return None
    if len(body) > max_bytes:
        return body  # ``put`` counts it as too large
    return body if cacheable_answer(body) else None


def _is_subscription(request_data: Any) -> bool:
    query = getattr(request_data, "query", None)
    # Keywords are case-sensitive: most documents are not parsed a second time here.
    if not isinstance(query, str) or "subscription" not in query:
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False  # the schema's parse error says what is wrong
    name = getattr(request_data, "operation_name", None)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if name is None or (o.name and o.name.value == name)]
    return len(chosen) == 1 and chosen[0].operation.value == OperationType.SUBSCRIPTION.value


def transport_refusal(status_code: int, reason: str, language: str) -> Response:
    """strawberry's HTTP refusal as a typed GraphQL error."""
    key = "subscription_over_http" if reason == SUBSCRIPTION_OVER_HTTP else "graphql_request"
    detail = transport_reason(reason, language)[:200].rstrip(".")  # the message ends it
    error = ApiError("BAD_USER_INPUT", key, detail=detail)
    return error_response(error, language, status_code if status_code < 500 else 400)
