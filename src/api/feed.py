"""``GET /events``: the event feed, for the ``integration`` role (and ``admin``).

The notification log as CloudEvents 1.0 in structured JSON, in log order, one page
after a cursor. It is read from the ``feed`` read model only (``projections.feed``);
what is published, and why a consumer polling from its last cursor gets every event
exactly once, is in docs/decisions/0012-event-feed-as-a-read-model.md.

The body is ``{"events": [...], "cursor": "...", "hasMore": bool}`` as
``application/json``. A caller that sends ``Accept: application/cloudevents-batch+json``
gets the bare array of events (the CloudEvents HTTP batched mode) instead, with the
cursor in the ``Tequio-Cursor`` header. Either way ``Link: <...>; rel="next"`` is the
URL of the next poll. Refusals are RFC 9457 problem details with the GraphQL ``code``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import asyncpg
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from fastapi import APIRouter, Request, Response
from starlette.datastructures import QueryParams

from api import policy
from api.callers import AuthenticationFailed, gatekeeper
from api.errors import ApiError
from api.language import preferred_language
from api.limits import error_response
from api.runtime import Runtime
from cases.ids import PUBLIC_ID
from projections.feed.queries import CursorBeyondEnd, decode_position
from projections.feed.types import EVENT_TYPES, SUBJECT_KINDS

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PARAMETERS = ("after", "limit", "type", "subject")
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "BAD_USER_INPUT": 400}
SUBJECT = re.compile(rf"^({'|'.join(map(re.escape, SUBJECT_KINDS))})/(.+)$")
SUBJECT_PATTERN = rf"^({'|'.join(SUBJECT_KINDS)})/{PUBLIC_ID.pattern[1:]}"
KNOWN_TYPES = frozenset(EVENT_TYPES)
FORMAT = JSONFormat()

router = APIRouter(tags=["integrations"])

# The query string is checked by hand (``FeedQuery``) so that refusals are problem
# details with the contract's codes; this only documents it in the OpenAPI schema.
OPENAPI_PARAMETERS = [
    {
        "name": "after",
        "in": "query",
        "schema": {"type": "string", "minLength": 1},
        "description": "The opaque cursor of an earlier page; the start when absent"
        " (an empty one is refused).",
    },
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100},
    },
    {
        "name": "type",
        "in": "query",
        "schema": {"type": "array", "items": {"type": "string", "enum": list(EVENT_TYPES)}},
        "description": "Only these CloudEvents types (repeat it, or separate with commas).",
    },
    {
        "name": "subject",
        "in": "query",
        "schema": {"type": "array", "items": {"type": "string", "pattern": SUBJECT_PATTERN}},
        "description": "Only these aggregates, as '<kind>/<id>' (repeat it, or use commas).",
    },
]


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
    },
}
EVENT_SCHEMA = {
    "type": "object",
    "required": ["specversion", "id", "source", "type"],
    "properties": {"type": {"type": "string", "enum": list(EVENT_TYPES)}},
}


def _refusal(description: str) -> dict[str, object]:
    return {
        "description": f"{description} (RFC 9457 problem details, with the GraphQL code)",
        "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
    }


OPENAPI_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "One page of events; the cursor of its last one; whether more follow.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["events", "cursor", "hasMore"],
                    "properties": {
                        "events": {"type": "array", "items": EVENT_SCHEMA},
                        "cursor": {"type": "string"},
                        "hasMore": {"type": "boolean"},
                    },
                }
            },
            BATCH_MEDIA_TYPE: {"schema": {"type": "array", "items": EVENT_SCHEMA}},
        },
    },
    400: _refusal("BAD_USER_INPUT: a bad cursor, limit, type, subject or parameter"),
    401: _refusal("UNAUTHENTICATED: no bearer token, or one that is not valid"),
    403: _refusal("FORBIDDEN: the token's role may not read the feed"),
    429: _refusal("RATE_LIMITED: over the rate limit; see Retry-After"),
    503: _refusal("SERVICE_UNAVAILABLE: the feed is being rebuilt; see Retry-After"),
}


class FeedQuery:
    """The checked query string of one request."""

    def __init__(self, params: QueryParams) -> None:
        for name in params:
            if name not in PARAMETERS:
                raise _bad("feed_unknown_parameter", name=name[:60], known=", ".join(PARAMETERS))
        self.after = self._after(params.getlist("after"))
        self.limit = self._limit(params.getlist("limit"))
        self.types = self._types(_values(params.getlist("type")))
        self.subjects = self._subjects(_values(params.getlist("subject")))

    @staticmethod
    def _after(values: list[str]) -> int:
        # An empty cursor is refused, as GraphQL's ``after: ""`` is: a consumer that
        # lost its cursor must not silently read the whole log again.
        if not values:
            return 0
        if len(values) > 1:
            raise _bad("bad_cursor", cursor=",".join(values)[:60])
        try:
            return decode_position(values[0])
        except ValueError:
            raise _bad("bad_cursor", cursor=values[0][:60]) from None

    @staticmethod
    def _limit(values: list[str]) -> int:
        if not values:
            return DEFAULT_LIMIT
        text = ",".join(values)
        digits = text.isascii() and text.isdecimal() and len(text) <= len(str(MAX_LIMIT))
        if len(values) > 1 or not digits or not 1 <= int(text) <= MAX_LIMIT:
            raise _bad("feed_bad_limit", limit=text[:20], max=MAX_LIMIT)
        return int(text)

    @staticmethod
    def _types(values: list[str]) -> list[str]:
        for value in values:
            if value not in KNOWN_TYPES:
                raise _bad("feed_unknown_type", type=value[:100])
        return sorted(set(values))

    @staticmethod
    def _subjects(values: list[str]) -> list[str]:
        for value in values:
            match = SUBJECT.match(value)
            if match is None or not PUBLIC_ID.match(match.group(2)):
                raise _bad("feed_bad_subject", subject=value[:120], kinds=", ".join(SUBJECT_KINDS))
        return sorted(set(values))


def _values(raw: list[str]) -> list[str]:
    """``type=a&type=b`` and ``type=a,b`` alike."""
    return [piece.strip() for value in raw for piece in value.split(",") if piece.strip()]


def _bad(key: str, **params: object) -> ApiError:
    return ApiError("BAD_USER_INPUT", key, **params)


def _problem(
    error: ApiError, language: str, status_code: int, request: Request, **headers: str
) -> Response:
    if status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return error_response(error, language, status_code, path=request.url.path, headers=headers)


def _next_link(request: Request, cursor: str) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
    return f"{request.url.path}?{urlencode([('after', cursor), *kept])}"


@router.get(
    "/events",
    summary="The event feed: CloudEvents 1.0 in log order, after a cursor",
    response_class=Response,
    responses=OPENAPI_RESPONSES,
    openapi_extra={"parameters": OPENAPI_PARAMETERS},
)
async def events(request: Request) -> Response:
    language = preferred_language(request.headers.get("accept-language"))
    try:
        caller = await gatekeeper(request).caller(request, language)
    except AuthenticationFailed as failed:
        extra = {} if failed.status_code == 401 else {"Retry-After": "10"}
        return _problem(failed.error, failed.language, failed.status_code, request, **extra)
    try:
        policy.require_feed_reader(caller)
        query = FeedQuery(request.query_params)
    except ApiError as error:
        return _problem(error, language, STATUS[error.code], request)

    runtime: Runtime = request.app.state.runtime
    try:
        page = await runtime.queries.feed.page(
            runtime.settings.municipality,
            after=query.after,
            limit=query.limit,
            types=query.types,
            subjects=query.subjects,
        )
    except CursorBeyondEnd:
        beyond = _bad("feed_cursor_beyond_end", cursor=request.query_params["after"][:60])
        return _problem(beyond, language, 400, request)
    except asyncpg.UndefinedTableError:
        # The feed's tables are being dropped and rebuilt (``tequio projections rebuild``).
        unavailable = ApiError("SERVICE_UNAVAILABLE", "feed_unavailable")
        return _problem(unavailable, language, 503, request, **{"Retry-After": "5"})

    events = b",".join(to_structured(event, FORMAT).body for event in page.events)
    headers = {
        "Link": f'<{_next_link(request, page.cursor)}>; rel="next"',
        "Cache-Control": "no-store",
    }
    if BATCH_MEDIA_TYPE in request.headers.get("accept", "").lower():
        headers["Tequio-Cursor"] = page.cursor
        headers["Tequio-Has-More"] = "true" if page.has_more else "false"
        return Response(b"[" + events + b"]", media_type=BATCH_MEDIA_TYPE, headers=headers)
    tail = f'],"cursor":{json.dumps(page.cursor)},"hasMore":{json.dumps(page.has_more)}}}'
    body = b'{"events":[' + events + tail.encode()
    return Response(body, media_type="application/json", headers=headers)
