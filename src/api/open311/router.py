"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), mounted at /open311/v2.

Services are the themes; service requests are the public face of cases. Reads go
through the read models' query methods and always show the public view; the one
write (POST requests) goes through the application service, as the GraphQL
``raiseCase`` does, with the ``api_key`` checked like a GraphQL bearer token.

HTTP statuses, as the spec's error section says: 404 for a resource (or a
jurisdiction, service_code, format) that does not exist, 403 for a missing or
refused api_key, 400 for any other request that cannot be done; and, outside the
spec, 429 when the caller is over the rate limit and 503 when the identity
provider's keys cannot be fetched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import policy
from api.auth import PUBLIC, Caller
from api.callers import AuthenticationFailed, gatekeeper
from api.errors import ApiError
from api.language import preferred_language
from api.limits import RateLimited
from api.open311 import openapi as doc
from api.open311.catalogue import (
    SERVICES,
    TERRITORY_ATTRIBUTE,
    created_notice,
    discovery,
    service_definition,
)
from api.open311.reads import Open311Reads
from api.open311.serialize import FORMATS, document, errors
from api.runtime import Runtime
from cases.application import CONTROL_CHARACTERS, CommandContext
from cases.errors import BadInputError, ForbiddenError, TequioError
from cases.values import Theme
from projections.cases.queries import OPEN_STATUSES

PREFIX = "/open311/v2"
MAX_REQUESTS = 1000  # the spec's default cap on one answer
WINDOW = timedelta(days=90)  # the spec's default (and widest) span of a search
# Dates a search may name: far enough apart for any real query, and clear of the ends
# of Python's and PostgreSQL's calendars (a window of 90 days must fit around them).
EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(9000, 1, 1)
TITLE_LENGTH = 120
MAX_FORM_FIELDS = 100
CLOSED_STATUSES = ("RESOLVED", "CLOSED", "DECLINED", "MERGED")
STATUS_FILTERS = {"open": OPEN_STATUSES, "closed": CLOSED_STATUSES}


class Refusal(Exception):
    """An answer in the spec's error format, with this HTTP status."""

    def __init__(
        self,
        status_code: int,
        error: ApiError | TequioError,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error.key)
        self.status_code = status_code
        self.error = error
        self.headers = headers


def _refuse(status_code: int, key: str, **params: Any) -> Refusal:
    code = {400: "BAD_USER_INPUT", 403: "FORBIDDEN", 404: "NOT_FOUND"}.get(status_code, "ERROR")
    return Refusal(status_code, ApiError(code, key, **params))


def open311_language(request: Request) -> str:
    """'es' or 'en': a ``locale`` parameter, else Accept-Language, else Spanish (the
    language of the jurisdiction's residents), also when neither names es or en."""
    for chosen in (request.query_params.get("locale"), request.headers.get("accept-language")):
        picked = preferred_language(chosen, default="")
        if picked:
            return picked
    return "es"


@dataclass
class Call:
    request: Request
    fmt: str
    language: str
    runtime: Runtime
    reads: Open311Reads


Produce = Callable[[Call], Awaitable[tuple[str, Any]]]


# Mounted by create_app with ``prefix=PREFIX``; it authenticates and rate-limits through
# the app's gatekeeper, as GraphQL does.
router = APIRouter(tags=["open311"])


async def answer(request: Request, fmt: str, produce: Produce) -> Response:
    language = open311_language(request)
    if fmt not in FORMATS:
        message = ApiError("NOT_FOUND", "open311_format", format=fmt[:20]).message(language)
        return errors("json", 404, message)
    runtime: Runtime = request.app.state.runtime
    reads = Open311Reads(
        runtime.queries, runtime.settings.municipality, runtime.settings.zone, language
    )
    call = Call(request, fmt, language, runtime, reads)
    try:
        root, value = await produce(call)
    except Refusal as refusal:
        return errors(
            fmt, refusal.status_code, refusal.error.message(language), headers=refusal.headers
        )
    except RateLimited as limited:
        limit = ApiError("RATE_LIMITED", "rate_limited", seconds=limited.retry_after)
        return errors(
            fmt,
            429,
            limit.message(language),
            headers={"Retry-After": str(limited.retry_after)},
        )
    return document(fmt, root, value)


def public_read(call: Call, jurisdiction: str | None) -> None:
    """Every read is the public's: counted per client address, no credentials asked."""
    gatekeeper(call.request).limiter.charge(call.request, PUBLIC, call.language)
    check_jurisdiction(call, jurisdiction)


@router.get(
    "/discovery.{fmt}",
    response_class=Response,
    responses=doc.responses(doc.DISCOVERY_SCHEMA, 404),
    openapi_extra=doc.parameters(jurisdiction=False),
)
async def get_discovery(request: Request, fmt: doc.Format) -> Response:
    async def produce(call: Call) -> tuple[str, Any]:
        public_read(call, None)
        base = call.request.url.replace(path=call.request.url.path.rsplit("/", 1)[0], query="")
        environment = call.runtime.settings.environment
        return "discovery", discovery(str(base), environment, call.language)

    return await answer(request, fmt, produce)


@router.get(
    "/services.{fmt}",
    response_class=Response,
    responses=doc.responses(doc.SERVICES_SCHEMA, 404),
    openapi_extra=doc.parameters(),
)
async def get_services(request: Request, fmt: doc.Format) -> Response:
    async def produce(call: Call) -> tuple[str, Any]:
        public_read(call, request.query_params.get("jurisdiction_id"))
        return "services", [s.localized(call.language) for s in SERVICES.values()]

    return await answer(request, fmt, produce)


@router.get(
    "/services/{code}.{fmt}",
    response_class=Response,
    responses=doc.responses(doc.DEFINITION_SCHEMA, 404),
    openapi_extra=doc.parameters(),
)
async def get_service_definition(
    request: Request, code: doc.ServiceCode, fmt: doc.Format
) -> Response:
    async def produce(call: Call) -> tuple[str, Any]:
        public_read(call, request.query_params.get("jurisdiction_id"))
        if code not in SERVICES:
            raise _refuse(404, "open311_service_unknown", service_code=code[:100])
        territories = await call.reads.territories()
        return "service_definition", service_definition(code, territories, call.language)

    return await answer(request, fmt, produce)


@router.get(
    "/requests.{fmt}",
    response_class=Response,
    responses=doc.responses(doc.REQUESTS_SCHEMA, 400, 404, 405),
    openapi_extra=doc.parameters(*doc.SEARCH),
)
async def get_requests(request: Request, fmt: doc.Format) -> Response:
    async def produce(call: Call) -> tuple[str, Any]:
        params = request.query_params
        public_read(call, params.get("jurisdiction_id"))
        municipality = call.runtime.settings.municipality
        cases = call.runtime.queries.cases
        ids = _split(_all(params, "service_request_id"))
        if ids:
            # The spec: service_request_id overrides every other argument.
            if len(ids) > MAX_REQUESTS:
                raise _refuse(400, "open311_too_many_ids", max=MAX_REQUESTS)
            found = {r["id"]: r for r in await cases.cases_by_ids(municipality, ids)}
            rows = [found[i] for i in ids if i in found]
        else:
            codes = _split(_all(params, "service_code"))
            for code in codes:
                if code not in SERVICES:
                    raise _refuse(400, "open311_service_unknown", service_code=code[:100])
            statuses = _status_filter(_split(_all(params, "status")))
            since, until = _window(call, params.get("start_date"), params.get("end_date"))
            rows = await cases.cases_raised_between(
                municipality,
                since=since,
                until=until,
                themes=codes or None,
                statuses=statuses,
                limit=MAX_REQUESTS,
            )
        return "service_requests", await call.reads.requests(rows)

    return await answer(request, fmt, produce)


@router.get(
    "/requests/{request_id}.{fmt}",
    response_class=Response,
    responses=doc.responses(doc.REQUESTS_SCHEMA, 404),
    openapi_extra=doc.parameters(),
)
async def get_request(request: Request, request_id: doc.RequestId, fmt: doc.Format) -> Response:
    async def produce(call: Call) -> tuple[str, Any]:
        public_read(call, request.query_params.get("jurisdiction_id"))
        rows = await call.runtime.queries.cases.cases_by_ids(
            call.runtime.settings.municipality, [request_id]
        )
        if not rows:
            raise _refuse(404, "open311_request_unknown", id=request_id[:100])
        return "service_requests", await call.reads.requests(rows)

    return await answer(request, fmt, produce)


@router.get(
    "/tokens/{token}.{fmt}",
    response_class=Response,
    responses=doc.responses(doc.REQUESTS_SCHEMA, 404),
    openapi_extra=doc.parameters(),
)
async def get_token(request: Request, token: doc.Token, fmt: doc.Format) -> Response:
    # Requests are created at once (type "realtime"), so a request's token is its id.
    async def produce(call: Call) -> tuple[str, Any]:
        public_read(call, request.query_params.get("jurisdiction_id"))
        rows = await call.runtime.queries.cases.cases_by_ids(
            call.runtime.settings.municipality, [token]
        )
        if not rows:
            raise _refuse(404, "open311_token_unknown", token=token[:100])
        return "service_requests", [{"service_request_id": token, "token": token}]

    return await answer(request, fmt, produce)


@router.post(
    "/requests.{fmt}",
    response_class=Response,
    responses=doc.responses(doc.REQUESTS_SCHEMA, 400, 403, 404, 405, 503),
    openapi_extra=doc.POST_FORM,
)
async def post_request(request: Request, fmt: doc.Format) -> Response:
    async def produce(call: Call) -> tuple[str, Any]:
        fields = await _form(request)
        caller = await authenticate(call, fields)
        check_jurisdiction(call, fields.get("jurisdiction_id"))
        return "service_requests", await create_request(call, caller, fields)

    return await answer(request, fmt, produce)


OTHER_METHODS = ["DELETE", "HEAD", "OPTIONS", "PATCH", "PUT"]


@router.api_route("/requests.{fmt}", methods=OTHER_METHODS, include_in_schema=False)
async def requests_other_method(request: Request, fmt: str) -> Response:
    """The one path with two methods: without this, Starlette would answer another method
    with the first route's ``Allow: GET`` alone."""
    language = open311_language(request)
    error = ApiError("BAD_USER_INPUT", "open311_method", method=request.method[:20])
    return errors(fmt, 405, error.message(language), headers={"Allow": "GET, POST"})


@router.api_route("/{path:path}", methods=["GET", "POST"], include_in_schema=False)
async def no_resource(request: Request, path: str) -> Response:
    language = open311_language(request)
    fmt = path.rsplit(".", 1)[-1] if "." in path else "json"
    message = ApiError("NOT_FOUND", "open311_no_resource", path=path[:100]).message(language)
    return errors(fmt, 404, message)


async def authenticate(call: Call, fields: dict[str, str]) -> Caller:
    """The api_key is a bearer token (an integration, coordinator or admin one), checked
    by the app's gatekeeper as GraphQL's tokens are; ``Authorization: Bearer`` works too."""
    gate = gatekeeper(call.request)
    api_key = fields.get("api_key")
    header = call.request.headers.get("authorization", "")
    if not api_key and header.lower().startswith("bearer "):
        api_key = header[7:].strip()
    try:
        if not api_key:
            raise _refuse(403, "open311_api_key_missing")
        try:
            caller = await gate.token_caller(api_key, call.language, call.request)
        except AuthenticationFailed as failed:
            if failed.status_code == 503:  # the identity provider is unreachable: retry
                raise Refusal(503, failed.error, headers={"Retry-After": "10"}) from None
            reason = failed.error.params.get("reason", "malformed")
            raise _refuse(403, "open311_api_key_invalid", reason=reason) from None
    except Refusal:
        # A refused key still counts against its sender's address.
        gate.limiter.charge(call.request, PUBLIC, call.language)
        raise
    gate.limiter.charge(call.request, caller, call.language)
    try:
        policy.require_mutation(caller, "raiseCase")
    except ApiError:
        raise _refuse(403, "open311_api_key_forbidden") from None
    return caller


async def create_request(
    call: Call, caller: Caller, fields: dict[str, str]
) -> list[dict[str, Any]]:
    code = fields.get("service_code")
    if not code:
        raise _refuse(400, "open311_missing", field="service_code")
    if code not in SERVICES:
        # The spec's POST errors: an unknown service_code is 404, like a missing resource.
        raise _refuse(404, "open311_service_unknown", service_code=code[:100])
    location = _location(fields)
    address_id = fields.get("address_id")
    territory_id = fields.get(f"attribute[{TERRITORY_ATTRIBUTE}]") or address_id
    if location is None and not address_id:
        raise _refuse(400, "open311_location_required")
    if not territory_id:
        raise _refuse(400, "open311_missing", field=f"attribute[{TERRITORY_ATTRIBUTE}]")
    known = {t["id"] for t in await call.reads.territories()}
    for given in (territory_id, address_id):
        if given and given not in known:
            raise _refuse(400, "open311_territory_unknown", value=given[:100])
    if address_id and address_id != territory_id:
        raise _refuse(
            400, "open311_territory_mismatch", address_id=address_id, territory=territory_id
        )
    description = (fields.get("description") or "").strip()
    if not description:
        raise _refuse(400, "open311_missing", field="description")
    name = " ".join(n for n in (fields.get("first_name"), fields.get("last_name")) if n)
    reporter = {"name": name, "phone": fields.get("phone"), "email": fields.get("email")}
    key = call.request.headers.get("idempotency-key")
    runtime = call.runtime
    context = CommandContext(
        actor=caller.actor,
        municipality=runtime.settings.municipality,
        idempotency_key=f"{key}#open311.requests" if key else None,
        agency_scope=policy.agency_scope(caller),
    )
    application = runtime.application
    if CONTROL_CHARACTERS.search(description):
        # Checked here too, so the refusal names the field the client sent (the title
        # is made from the description, and would be refused first).
        raise Refusal(400, BadInputError("control_characters", field="description"))
    try:
        result = await to_thread.run_sync(
            lambda: application.raise_case(
                context,
                territory_id=territory_id,
                theme=Theme(code),
                title=_title(description),
                description=description,
                reporter=reporter,
                location=location,
            )
        )
    except ForbiddenError as error:
        raise Refusal(403, error) from None
    except TequioError as error:
        raise Refusal(400, in_open311_terms(error)) from None
    # Read your own write: a GET right after this answer finds the request.
    await runtime.progress.wait_for(
        result.notification_id, timeout=runtime.settings.read_your_writes_timeout
    )
    return [
        {
            "service_request_id": result.id,
            "service_notice": created_notice(call.language),
            "account_id": None,
        }
    ]


# The application's names for what an Open311 client sent under the spec's names.
OPEN311_FIELDS = {
    "reporter.name": "first_name/last_name",
    "reporter.phone": "phone",
    "reporter.email": "email",
    "location": "lat/long",
    "location.lat": "lat",
    "location.long": "long",
    "location.address": "address_string",
    "title": "description",
    "territoryId": "attribute[territory]",
}


def in_open311_terms(error: TequioError) -> TequioError:
    """``error`` naming the field as the Open311 client knows it (``email``, not
    ``reporter.email``)."""
    field = error.params.get("field")
    if field not in OPEN311_FIELDS:
        return error
    renamed = TequioError.__new__(type(error))
    TequioError.__init__(renamed, error.key, **{**error.params, "field": OPEN311_FIELDS[field]})
    return renamed


def check_jurisdiction(call: Call, jurisdiction: str | None) -> None:
    municipality = call.runtime.settings.municipality
    if jurisdiction and jurisdiction != municipality:
        raise _refuse(
            404,
            "open311_jurisdiction",
            jurisdiction=jurisdiction[:100],
            municipality=municipality,
        )


def _all(params: Any, name: str) -> str:
    """A filter given several times (``status=open&status=closed``) as one list."""
    return ",".join(params.getlist(name))


def _split(value: str | None) -> list[str]:
    """A comma-separated argument; the spec's "optional": empty is the same as absent."""
    seen: list[str] = []
    for part in (value or "").split(","):
        item = part.strip()
        if item and item not in seen:
            seen.append(item)
    return seen


def _status_filter(values: list[str]) -> tuple[str, ...] | None:
    statuses: list[str] = []
    for value in values:
        if value.lower() not in STATUS_FILTERS:
            raise _refuse(400, "open311_bad_status", value=value[:40])
        statuses.extend(STATUS_FILTERS[value.lower()])
    return tuple(statuses) if values else None


def _window(call: Call, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The spec's search window: at most 90 days, the most recent 90 by default."""
    zone = call.runtime.settings.zone
    since = _instant("start_date", start, call)
    until = _instant("end_date", end, call, last=True)
    if since is None and until is None:
        # requested_datetime is when the case was recorded (ADR 0009), so "the most recent
        # 90 days" are the wall clock's, not the domain clock's.
        until = datetime.now(UTC).astimezone(zone)
    if since is None:
        assert until is not None
        return until - WINDOW, until
    if until is None:
        return since, since + WINDOW
    if since > until:
        raise _refuse(400, "open311_date_order")
    if until - since > WINDOW:
        raise _refuse(400, "open311_date_span", days=WINDOW.days)
    return since, until


def _instant(field: str, value: str | None, call: Call, *, last: bool = False) -> datetime | None:
    """The instant a bound names. ``last`` (an end bound, included): the last instant
    of what it names, a whole day for a date, a whole second for a time without
    fractions (answers show times to the second)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise _refuse(400, "open311_bad_date", field=field, value=value[:40]) from None
    if not EARLIEST <= at.replace(tzinfo=None) <= LATEST:
        raise _refuse(400, "open311_date_out_of_range", field=field, value=value[:40])
    # The spec asks for an offset; a date or time without one is read as local time.
    at = at if at.tzinfo else at.replace(tzinfo=call.runtime.settings.zone)
    if last and "T" not in text.upper() and " " not in text:
        return at + timedelta(days=1) - timedelta(microseconds=1)
    if last and at.microsecond == 0:
        return at + timedelta(seconds=1) - timedelta(microseconds=1)
    return at


async def _form(request: Request) -> dict[str, str]:
    """The POST's fields: the urlencoded body (the spec's format) over the query string.
    Blank values count as absent."""
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    pairs = list(request.query_params.multi_items())
    if body:
        if not content_type.lower().startswith("application/x-www-form-urlencoded"):
            raise _refuse(400, "open311_form")
        charset = _charset(content_type)
        try:
            # Strict: text that is not in the charset is refused, never stored garbled
            # (parse_qsl would put U+FFFD in place of each byte it cannot read).
            pairs += parse_qsl(
                body.decode(charset),
                keep_blank_values=True,
                max_num_fields=MAX_FORM_FIELDS,
                encoding=charset,
                errors="strict",
            )
        except (UnicodeDecodeError, ValueError):
            raise _refuse(400, "open311_form") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if value.strip():
            fields[name] = value.strip()
    return fields


# The charsets a form may come in, by the names clients send, as Python's codecs.
# A fixed list: Python remembers every codec name it is asked for, so looking up
# whatever a client sends would keep each new name in memory for ever.
CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
    "latin1": "latin-1",
    "latin-1": "latin-1",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
}


def _charset(content_type: str) -> str:
    """The codec of the ``charset`` the Content-Type names (a legacy client may send
    ISO-8859-1), else UTF-8; one not in ``CHARSETS`` is refused."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            codec = CHARSETS.get(value.strip().strip('"').lower())
            if codec is None:
                raise _refuse(400, "open311_form")
            return codec
    return "utf-8"


def _location(fields: dict[str, str]) -> dict[str, Any] | None:
    place: dict[str, Any] = {}
    for name in ("lat", "long"):
        if name in fields:
            try:
                place[name] = float(fields[name])
            except ValueError:
                raise _refuse(
                    400, "open311_bad_number", field=name, value=fields[name][:40]
                ) from None
    if "address_string" in fields:
        place["address"] = fields["address_string"]
    if not place or set(place) in ({"lat"}, {"long"}):
        # Half a point is no place; with an address, the application says what is missing.
        return None
    return place


def _title(description: str) -> str:
    """A case's title: the description's first line, cut at a word near 120 characters."""
    first = description.strip().splitlines()[0].strip()
    if len(first) <= TITLE_LENGTH:
        return first
    cut = first[: TITLE_LENGTH - 1]
    if " " in cut[TITLE_LENGTH // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"
