"""How the Open311 routes are described in the OpenAPI schema (``/openapi.json``).

The routes read their query strings and forms by hand, so that refusals are the spec's
error documents rather than FastAPI's 422; this module only documents what they take
and answer: every parameter, the POST form, both formats (``.json`` and ``.xml``) and
every status the router can send. The schemathesis fuzz tests (``tests/fuzz``) check
the answers against it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from api.open311.catalogue import SERVICES, TERRITORY_ATTRIBUTE
from api.open311.serialize import FORMATS

XML = "text/xml"
NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}

# The path's format, documented as the two the spec names; the router answers any other
# with the spec's 404 (not FastAPI's 422), so it is not validated here.
Format = Annotated[
    str,
    Path(
        description="The answer's format: json or xml. Another format is a 404.",
        json_schema_extra={"enum": list(FORMATS)},
    ),
]


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema or {"type": "string"},
        "description": description,
    }


JURISDICTION = _query(
    "jurisdiction_id", "This server's municipality, or absent; another one is a 404."
)
LOCALE = _query("locale", "es or en (else Accept-Language; Spanish by default).")


ERRORS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}

SERVICES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service_code", "service_name", "metadata", "type"],
        "properties": {
            "service_code": {"type": "string", "enum": list(SERVICES)},
            "service_name": {"type": "string"},
            "description": {"type": "string"},
            "metadata": {"type": "boolean"},
            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
            "keywords": {"type": "string"},
            "group": {"type": "string"},
        },
    },
}

DEFINITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["service_code", "attributes"],
    "properties": {
        "service_code": {"type": "string"},
        "attributes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "datatype", "required", "values"],
                "properties": {
                    "variable": {"type": "boolean"},
                    "code": {"type": "string"},
                    "datatype": {"type": "string"},
                    "required": {"type": "boolean"},
                    "datatype_description": {"type": "string"},
                    "order": {"type": "integer"},
                    "description": {"type": "string"},
                    "values": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["key", "name"],
                            "properties": {"key": {"type": "string"}, "name": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
}

DISCOVERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["changeset", "endpoints"],
    "properties": {
        "changeset": {"type": "string"},
        "contact": {"type": "string"},
        "key_service": {"type": "string"},
        "endpoints": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["specification", "url", "type", "formats"],
                "properties": {
                    "specification": {"type": "string"},
                    "url": {"type": "string"},
                    "changeset": {"type": "string"},
                    "type": {"type": "string", "enum": ["production", "test"]},
                    "formats": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}

# A request record (GET), a creation receipt (POST) or a token's answer: each names the
# request, and says nothing it does not know (null).
REQUESTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service_request_id"],
        "properties": {
            "service_request_id": {"type": "string"},
            "token": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "status_notes": NULLABLE_STRING,
            "service_name": NULLABLE_STRING,
            "service_code": {"type": "string"},
            "description": {"type": "string"},
            "agency_responsible": NULLABLE_STRING,
            "service_notice": NULLABLE_STRING,
            "requested_datetime": {"type": "string"},
            "updated_datetime": {"type": "string"},
            "expected_datetime": NULLABLE_STRING,
            "address": NULLABLE_STRING,
            "address_id": NULLABLE_STRING,
            "zipcode": NULLABLE_STRING,
            "lat": {"type": ["number", "null"]},
            "long": {"type": ["number", "null"]},
            "media_url": NULLABLE_STRING,
            "account_id": NULLABLE_STRING,
        },
    },
}

REFUSALS = {
    400: "The request cannot be done (a bad date, status, number or field).",
    403: "The api_key is missing, not valid, or may not create requests.",
    404: "No such resource, service_code, request, token, jurisdiction or format.",
    405: "The method is not one this resource takes.",
    429: "Over the rate limit; see Retry-After.",
    503: "The identity provider's keys cannot be fetched; see Retry-After.",
}


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}, XML: {"schema": {"type": "string"}}}


def responses(document: dict[str, Any], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: its document at 200, and the spec's error document
    (JSON, or XML when the format is ``.xml``) at each of ``statuses`` and 429."""
    answers: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "The document, in the format asked for.",
            "content": _content(document),
        }
    }
    for status in sorted({*statuses, 429}):
        answers[status] = {"description": REFUSALS[status], "content": _content(ERRORS_SCHEMA)}
    return answers


def parameters(*extra: dict[str, Any], jurisdiction: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route: its query parameters (the routes read the query
    string by hand), then the jurisdiction and the locale."""
    common = [JURISDICTION, LOCALE] if jurisdiction else [LOCALE]
    return {"parameters": [*extra, *common]}


ServiceCode = Annotated[str, Path(description="A service_code, as services.json lists them.")]
RequestId = Annotated[str, Path(description="A service_request_id.")]
Token = Annotated[str, Path(description="A token a POST answered with (the request's id).")]

# An ISO 8601 date and time (without an offset: the municipality's time), or a date; as
# every optional argument of the spec, empty is the same as absent.
INSTANT: dict[str, Any] = {
    "type": "string",
    "anyOf": [{"format": "date-time"}, {"format": "date"}, {"maxLength": 0}],
}


def _list(name: str, description: str, items: dict[str, Any]) -> dict[str, Any]:
    """A comma-separated list (``style: form, explode: false``)."""
    return {
        **_query(name, description, type="array", items=items),
        "style": "form",
        "explode": False,
    }


SEARCH = [
    _list(
        "service_request_id",
        "Request ids; when given, every other argument is ignored.",
        {"type": "string"},
    ),
    _list("service_code", "Service codes.", {"type": "string", "enum": list(SERVICES)}),
    _query(
        "start_date",
        "ISO 8601 date and time; not after end_date, and at most 90 days before it.",
        **INSTANT,
    ),
    _query(
        "end_date",
        "ISO 8601 date and time; the most recent 90 days when both dates are absent.",
        **INSTANT,
    ),
    _list("status", "open, closed.", {"type": "string", "enum": ["open", "closed"]}),
]

POST_FORM: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["service_code", "description"],
                    "properties": {
                        "api_key": {
                            "type": "string",
                            "description": "A bearer token (integration, coordinator or "
                            "admin); or send Authorization: Bearer.",
                        },
                        "jurisdiction_id": {"type": "string"},
                        "service_code": {"type": "string", "enum": list(SERVICES)},
                        "lat": {"type": "number"},
                        "long": {"type": "number"},
                        "address_string": {"type": "string"},
                        "address_id": {"type": "string"},
                        f"attribute[{TERRITORY_ATTRIBUTE}]": {"type": "string"},
                        "email": {"type": "string"},
                        "device_id": {"type": "string"},
                        "account_id": {"type": "string"},
                        "first_name": {"type": "string"},
                        "last_name": {"type": "string"},
                        "phone": {"type": "string"},
                        "description": {"type": "string"},
                        "media_url": {"type": "string"},
                    },
                }
            }
        },
    }
}
