"""What the fuzz tests (tests/fuzz) found, each as the typed error a user now gets.

- The routing layer's refusals (a path that does not exist, a method a path does not
  take) were FastAPI's bare ``{"detail": ...}``; they are typed errors now, shaped for
  their path, and a 405 names every method the path takes.
- The OpenAPI schema documented neither the refusals nor the formats of /events and
  Open311, nor the query strings and form they read by hand.
- strawberry's transport refusals (not JSON, no query, ...) were ``text/plain``, and a
  subscription sent as a plain HTTP POST was an ``INTERNAL_SERVER_ERROR``: see
  ``api.graphql.router``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql_client import GraphQLClient
from strawberry.fastapi import BaseContext

from api.app import create_app
from tequio.settings import Settings


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status, body
    return body


async def test_unknown_path_is_a_typed_not_found(api: GraphQLClient) -> None:
    body = _problem(await api.http.get("/no/such/thing"), 404, "NOT_FOUND")
    assert "/no/such/thing" in body["title"]


async def test_unknown_method_is_a_typed_refusal_naming_the_allowed_ones(
    api: GraphQLClient,
) -> None:
    response = await api.http.request("TRACE", "/events", headers={"Accept-Language": "es-MX"})
    body = _problem(response, 405, "BAD_USER_INPUT")
    assert response.headers["allow"] == "GET"
    assert body["title"] == "TRACE no se admite en '/events'; admite GET."


async def test_unknown_method_on_graphql_is_a_graphql_error_naming_get_and_post(
    api: GraphQLClient,
) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await api.http.request(method, "/graphql")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST"
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"].endswith("it takes GET, POST."), error


async def test_open311_unknown_method_is_its_error_document_with_both_methods(
    api: GraphQLClient,
) -> None:
    response = await api.http.request("OPTIONS", "/open311/v2/requests.xml")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<errors>')
    assert "<code>405</code>" in response.text

    response = await api.http.delete("/open311/v2/services.json")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()[0]["code"] == 405


async def test_an_open311_request_id_with_a_nul_byte_names_no_request(
    api: GraphQLClient,
) -> None:
    """PostgreSQL text cannot hold NUL; the server refused such an id with an
    encoding error, which surfaced as a 500."""
    response = await api.http.get(
        "/open311/v2/requests.json", params={"service_request_id": "a\x00b,c"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == []
    response = await api.http.get("/open311/v2/requests/a%00b.json")
    assert response.status_code == 404, response.text
    assert response.json()[0]["code"] == 404


def test_openapi_documents_refusals_formats_and_parameters(settings: Settings) -> None:
    paths = create_app(settings).openapi()["paths"]
    feed = paths["/events"]["get"]["responses"]
    assert {"200", "400", "401", "403", "429", "503"} <= set(feed)
    assert set(feed["200"]["content"]) == {"application/json", "application/cloudevents-batch+json"}
    assert set(feed["401"]["content"]) == {"application/problem+json"}

    search = paths["/open311/v2/requests.{fmt}"]
    assert {"200", "400", "404", "429"} <= set(search["get"]["responses"])
    assert set(search["get"]["responses"]["404"]["content"]) == {"application/json", "text/xml"}
    names = {p["name"] for p in search["get"]["parameters"]}
    assert {"fmt", "service_code", "start_date", "end_date", "status", "jurisdiction_id"} <= names
    form = search["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert {"service_code", "description"} <= set(form["schema"]["required"])
    fmt = next(p for p in search["get"]["parameters"] if p["name"] == "fmt")
    assert fmt["schema"]["enum"] == ["json", "xml"]


class _Context(BaseContext):
    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language


@pytest.fixture
def graphql_router(api: GraphQLClient) -> httpx.AsyncClient:
    """The whole app (create_app): these refusals come before any resolver runs."""
    return api.http


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "Unable to parse request body as JSON"),
        (b"[1, 2]", "Batching is not enabled"),
        (b'{"query": 5}', "must be a string or null"),
        (b'{"query": "{ territories { id } }", "variables": 5}', "must be an object or null"),
        (b"{}", "No GraphQL query found"),
        (b'{"query": "query A { territories { id } }", "operationName": "B"}', "Unknown operation"),
    ],
)
async def test_unreadable_graphql_request_is_a_typed_error(
    graphql_router: httpx.AsyncClient, body: bytes, reason: str
) -> None:
    response = await graphql_router.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert reason in error["message"]


async def test_subscription_over_plain_http_is_a_typed_error(
    graphql_router: httpx.AsyncClient,
) -> None:
    response = await graphql_router.post(
        "/graphql",
        json={"query": "subscription { commitmentChanged { id } }"},
        headers={"Accept-Language": "es-MX"},
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("Las suscripciones van por WebSocket")


@pytest.mark.parametrize(
    ("document", "variables", "spanish"),
    [
        ("{ casez { id } }", None, "No se puede consultar el campo 'casez' en el tipo 'Query'."),
        (
            "{ cases(filter: {theme: FOO}) { totalCount } }",
            None,
            "El valor 'FOO' no existe en la enumeración 'Theme'.",
        ),
        (
            "query($d: Date!) { commitments(filter: {dueBefore: $d}) { totalCount } }",
            {"d": "2026-13-01"},
            "La variable '$d' tiene un valor no válido: el valor no puede representar un Date",
        ),
        (
            "query($f: CommitmentFilter) { commitments(filter: $f) { totalCount } }",
            {"f": {"dueBefore": "2026-13-45"}},
            "La variable '$f' tiene un valor no válido en .dueBefore: el valor no puede"
            ' representar un Date: "2026-13-45". el mes debe estar entre 1 y 12',
        ),
        (
            "{ cases { totalCount ",
            None,
            "Error de sintaxis: se esperaba un nombre y se encontró el fin del documento.",
        ),
        (
            'query($v: Int!) { commitment(id: "x") { id } cases(first: $v) { totalCount } }',
            {"v": 2**40},
            "no puede representar un valor fuera de los enteros de 32 bits: 1099511627776",
        ),
        (
            "{ cases { edges { node { " + "commitments { case { " * 5 + "id" + " }" * 13 + " }",
            None,
            "excede la profundidad máxima de 10 niveles.",
        ),
    ],
)
async def test_a_malformed_request_is_refused_in_spanish_when_asked(
    api: GraphQLClient, document: str, variables: dict[str, str] | None, spanish: str
) -> None:
    response = await api.post(document, variables, language="es-MX")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert spanish in error["message"], error["message"]


async def test_several_operations_without_operation_name_are_refused_not_the_first_run(
    api: GraphQLClient,
) -> None:
    document = "query A { agencies { id } } query B { territories { id } }"
    response = await api.post(document, None, language="es-MX")

    body = response.json()
    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        "El documento tiene 2 operaciones: indique cuál ejecutar ('operationName')."
    )


async def test_several_operations_with_an_operation_name_run_the_one_named(
    graphql_router: httpx.AsyncClient,
) -> None:
    response = await graphql_router.post(
        "/graphql",
        json={
            "query": "query A { agencies { id } } query B { __typename }",
            "operationName": "B",
        },
    )
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_an_operation_name_not_in_the_document_is_named_once_in_spanish(
    graphql_router: httpx.AsyncClient,
) -> None:
    response = await graphql_router.post(
        "/graphql",
        json={"query": "query A { agencies { id } }", "operationName": "Z"},
        headers={"Accept-Language": "es-MX"},
    )
    assert response.json()["errors"][0]["message"] == (
        "La solicitud GraphQL no puede ejecutarse: el documento no tiene ninguna operación"
        ' llamada "Z".'
    )


async def test_a_refused_http_request_gives_its_reason_in_spanish(
    graphql_router: httpx.AsyncClient,
) -> None:
    response = await graphql_router.post(
        "/graphql",
        content=b"[1, 2]",
        headers={"content-type": "application/json", "Accept-Language": "es-MX"},
    )
    assert response.json()["errors"][0]["message"] == (
        "La solicitud GraphQL no puede ejecutarse: no se aceptan varias operaciones en una"
        " solicitud (lotes)."
    )


@pytest.mark.parametrize(
    ("since", "reason"),
    [
        ("garbage", "se esperaban 4 dígitos y llegó 'garb'"),
        ("20", "la fecha está incompleta"),
        ("2026-1", "el día del año no es válido"),
        ("2026-11-01X", "la hora está incompleta"),
        ("2026-11-01T10:00:00+25:00", "las horas del desfase horario no son válidas"),
    ],
)
async def test_a_date_and_time_that_cannot_be_read_is_explained_in_spanish(
    api: GraphQLClient, since: str, reason: str
) -> None:
    response = await api.post(
        'query($s: DateTime!) { cabinetBriefing(cabinetId: "gab", since: $s) { newCasesCount } }',
        {"s": since},
        language="es-MX",
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].endswith(reason), error["message"]
