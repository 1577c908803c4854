"""Fuzzing the REST side: every operation of ``/openapi.json`` but ``/graphql`` (fuzzed by
its own schema in ``test_fuzz_graphql``), as the public and with an integration token.

schemathesis' default checks run on every answer: no 5xx, documented status codes,
content types and headers, bodies that match their documented schema, schema-valid
requests accepted and schema-invalid ones refused, an ``Allow`` header that names the
methods, and so on. On top of them, ``typed_refusal``: a refusal is always a typed error
document (RFC 9457 problem details with the contract's ``code`` on ``/events``, the
spec's ``[{code, description}]`` on Open311).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from fuzz_support import CONTRACT_CODES, LiveServer, fuzz

# Every operation of the OpenAPI schema, and how many cases each gets per caller (beyond
# the schema's examples and schemathesis' coverage phase, which always run whole).
OPERATIONS = {
    "GET /events": 25,
    "GET /healthz": 2,
    "GET /readyz": 2,
    "GET /metrics": 2,
    "GET /open311/v2/discovery.{fmt}": 5,
    "GET /open311/v2/services.{fmt}": 10,
    "GET /open311/v2/services/{code}.{fmt}": 10,
    "GET /open311/v2/requests.{fmt}": 25,
    "POST /open311/v2/requests.{fmt}": 25,
    "GET /open311/v2/requests/{request_id}.{fmt}": 10,
    "GET /open311/v2/tokens/{token}.{fmt}": 10,
}
NOT_FUZZED_HERE = {"GET /graphql", "POST /graphql"}

# Schema-valid requests these operations may refuse with 400, because their rules span
# fields or need the server's data: an opaque cursor (/events ``after``), a 90-day window
# (start_date before end_date), a location or a known territory (an Open311 POST). Each
# refusal is still checked to be a typed error.
SEMANTIC_RULES = [
    "/events",
    "/open311/v2/requests.{fmt}",
]


# The Open311 search is lenient by the spec's design: an empty argument is the same as an
# absent one, and an id is any string, so a "schema-violating" ``service_code=`` or
# ``service_request_id=false`` (a boolean, on the wire the string "false") is rightly
# answered. Its negative cases are still sent, and checked by every other check.
LENIENT = ["/open311/v2/requests.{fmt}"]


@pytest.fixture(scope="module")
def rest(live: LiveServer) -> Any:
    accept_400 = {"expected-statuses": ["2xx", "3xx", "400", "401", "403", "404"]}
    operations: list[dict[str, Any]] = [
        {"include-path": path, "checks": {"positive_data_acceptance": accept_400}}
        for path in SEMANTIC_RULES
    ]
    operations += [
        {
            "include-path": path,
            "include-method": "GET",
            "checks": {"negative_data_rejection": {"enabled": False}},
        }
        for path in LENIENT
    ]
    config = schemathesis.Config.from_dict({"operations": operations})
    return schemathesis.openapi.from_url(f"{live.base_url}/openapi.json", config=config)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def typed_refusal(ctx: Any, response: Any, case: Any) -> bool | None:
    """A refusal (4xx) carries a type: the contract's code, or Open311's error document."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if case.path.startswith("/open311/"):
        if "xml" in content_type:
            text = response.content.decode("utf-8", "replace")
            assert f"<errors><error><code>{response.status_code}</code>" in text, text[:300]
        else:
            body = json.loads(response.content)
            assert body[0]["code"] == response.status_code, body
        return None
    body = json.loads(response.content)
    assert isinstance(body, dict) and body.get("code") in CONTRACT_CODES, body
    return None


def test_every_rest_operation_is_fuzzed(rest: Any) -> None:
    labels = {result.ok().label for result in rest.get_all_operations()}
    assert labels == set(OPERATIONS) | NOT_FUZZED_HERE


@pytest.mark.parametrize("label", OPERATIONS)
@pytest.mark.parametrize("profile", ["public", "integration"])
def test_rest_operation(
    rest: Any, live: LiveServer, session: requests.Session, profile: str, label: str
) -> None:
    method, path = label.split(" ", 1)
    operation = rest[path][method]
    fuzz(
        operation,
        headers=live.headers(profile),
        max_examples=OPERATIONS[label],
        session=session,
        additional_checks=[typed_refusal],
    )
