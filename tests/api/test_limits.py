"""Abuse limits as a client meets them over HTTP: a cap on the request body, a rate
limit per caller, and introspection / GraphiQL switched by the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from graphql_client import GraphQLClient

from api.app import create_app
from cases.clock import FixedClock
from tequio.settings import Settings

ADD_TERRITORY = """mutation($id: ID, $n: String!) {
  addTerritory(id: $id, name: $n, kind: "colonia") { id name } }"""
TERRITORIES = "{ territories { id } }"
CASE_COUNT = "{ cases { totalCount } }"


class FakeTime:
    """A monotonic clock that moves only when told: rate limits without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@asynccontextmanager
async def serve(
    settings: Settings,
    clock: FixedClock,
    monotonic: FakeTime | None = None,
    client_address: tuple[str, int] = ("127.0.0.1", 123),
) -> AsyncIterator[GraphQLClient]:
    # One process's buckets, on a clock moved by hand: the deployment's shared levels
    # refill with the database's time, and are tested in test_rate_limit_shared.py.
    alone = settings.model_copy(update={"rate_limit_share_seconds": 0})
    app = create_app(alone, clock=clock, monotonic=monotonic or FakeTime())
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=client_address)
        async with httpx.AsyncClient(transport=transport, base_url="http://tequio.test") as http:
            yield GraphQLClient(http, settings)


def graphql_refusal(response: httpx.Response, status: int, code: str) -> str:
    """Asserts a GraphQL-shaped refusal; returns its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == code, body
    return str(error["message"])


# -- request body ---------------------------------------------------------------------------


async def test_a_body_over_the_cap_is_413_in_the_callers_language_and_changes_nothing(
    settings: Settings, clock: FixedClock
) -> None:
    async with serve(settings.model_copy(update={"max_body_bytes": 4096}), clock) as api:
        admin = api.token("admin.sistema", "admin")
        huge = {"id": "huge", "n": "Colonia " + "x" * 5000}
        response = await api.post(ADD_TERRITORY, huge, token=admin)
        message = graphql_refusal(response, 413, "BAD_USER_INPUT")
        assert message == "The request body is larger than the 4096 bytes this server accepts."
        response = await api.post(ADD_TERRITORY, huge, token=admin, language="es-MX")
        message = graphql_refusal(response, 413, "BAD_USER_INPUT")
        assert (
            message == "El cuerpo de la solicitud excede los 4096 bytes que acepta este servidor."
        )
        assert (await api.run(TERRITORIES))["territories"] == []
        # The same mutation with a body under the cap goes through.
        small = {"id": "small", "n": "Colonia Avisadero"}
        assert (await api.run(ADD_TERRITORY, small, token=admin))["addTerritory"]["id"]
        assert len((await api.run(TERRITORIES))["territories"]) == 1


async def test_a_chunked_body_is_counted_as_it_streams(
    settings: Settings, clock: FixedClock
) -> None:
    sent: list[int] = []

    async def chunks(payload: bytes, size: int = 1024) -> AsyncIterator[bytes]:
        for start in range(0, len(payload), size):
            sent.append(start)
            yield payload[start : start + size]

    def body(padding: int) -> bytes:
        # Whitespace pads the document without making the mutation invalid.
        query = ADD_TERRITORY + " " * padding
        variables = {"id": "t", "n": "Colonia Avisadero"}
        return httpx.Request("POST", "/", json={"query": query, "variables": variables}).content

    async with serve(settings.model_copy(update={"max_body_bytes": 4096}), clock) as api:
        headers = {
            "Authorization": f"Bearer {api.token('admin.sistema', 'admin')}",
            "Content-Type": "application/json",
        }
        big = body(100_000)
        response = await api.http.post("/graphql", content=chunks(big), headers=headers)
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        graphql_refusal(response, 413, "BAD_USER_INPUT")
        # Refused after about the cap, not after reading the whole 100 kB.
        assert len(sent) <= 6, len(sent)
        assert (await api.run(TERRITORIES))["territories"] == []

        sent.clear()
        small = body(3000)
        response = await api.http.post("/graphql", content=chunks(small), headers=headers)
        assert response.status_code == 200, response.text
        assert len(sent) > 1  # it really arrived in pieces
        assert response.json()["data"]["addTerritory"]["id"] == "t", response.json()


async def test_over_the_cap_on_a_rest_path_is_a_problem_document(
    settings: Settings, clock: FixedClock
) -> None:
    """Off /graphql the refusal is an RFC 9457 problem, as REST clients expect."""
    async with serve(settings.model_copy(update={"max_body_bytes": 2048}), clock) as api:
        response = await api.http.post(
            "/open311/v2/requests.json",
            content=b"x" * 3000,
            headers={"Accept-Language": "es-MX"},
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 413
        assert problem["title"].startswith("El cuerpo de la solicitud excede los 2048 bytes")


# -- rate limit ------------------------------------------------------------------------------


async def test_over_the_rate_limit_is_429_with_retry_after_until_the_bucket_refills(
    settings: Settings, clock: FixedClock
) -> None:
    time = FakeTime()
    async with serve(settings.model_copy(update={"rate_limit_per_minute": 3}), clock, time) as api:
        admin = api.token("admin.sistema", "admin")
        for _ in range(3):
            await api.run(CASE_COUNT, token=admin)
        response = await api.post(ADD_TERRITORY, {"n": "Colonia Avisadero"}, token=admin)
        message = graphql_refusal(response, 429, "RATE_LIMITED")
        # Three a minute: the next one is earned back in 20 seconds.
        assert response.headers["retry-after"] == "20"
        assert message == "Too many requests; try again in 20 s."
        assert (await api.run(TERRITORIES))["territories"] == []  # nothing was recorded
        time.advance(15)
        response = await api.post(CASE_COUNT, token=admin, language="es-MX")
        message = graphql_refusal(response, 429, "RATE_LIMITED")
        assert response.headers["retry-after"] == "5"
        assert message == "Demasiadas solicitudes; intente de nuevo en 5 s."
        time.advance(5)
        await api.run(ADD_TERRITORY, {"n": "Colonia Avisadero"}, token=admin)
        graphql_refusal(await api.post(CASE_COUNT, token=admin), 429, "RATE_LIMITED")


async def test_each_subject_has_its_own_allowance_whatever_token_it_presents(
    settings: Settings, clock: FixedClock
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 2})
    async with serve(limited, clock) as api:
        rosa = api.token("rosa.martinez", "coordinator")
        for _ in range(2):
            await api.run(CASE_COUNT, token=rosa)
        graphql_refusal(await api.post(CASE_COUNT, token=rosa), 429, "RATE_LIMITED")
        # A fresh token for the same person does not reset the count...
        again = api.token("rosa.martinez", ["coordinator", "secretary"])
        graphql_refusal(await api.post(CASE_COUNT, token=again), 429, "RATE_LIMITED")
        # ...while another person, and the public, are not affected.
        marta = api.token("marta.lopez", "secretary")
        await api.run(CASE_COUNT, token=marta)
        await api.run(CASE_COUNT, token=marta)
        await api.run(CASE_COUNT)
        graphql_refusal(await api.post(CASE_COUNT, token=marta), 429, "RATE_LIMITED")


async def test_the_public_is_limited_by_address(settings: Settings, clock: FixedClock) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 1})
    async with (
        serve(limited, clock, client_address=("203.0.113.7", 5000)) as first,
        serve(limited, clock, client_address=("198.51.100.9", 5000)) as second,
    ):
        await first.run(CASE_COUNT)
        graphql_refusal(await first.post(CASE_COUNT), 429, "RATE_LIMITED")
        await second.run(CASE_COUNT)
        # A signed-in caller from the exhausted address is counted as itself.
        await first.run(CASE_COUNT, token=first.token("rosa.martinez", "coordinator"))


async def test_guessing_tokens_is_held_to_the_rate_limit_of_the_address(
    settings: Settings, clock: FixedClock
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 2})
    monotonic = FakeTime()
    async with serve(limited, clock, monotonic, client_address=("203.0.113.9", 5000)) as api:
        good = api.token("rosa.martinez", "coordinator")
        for _ in range(2):
            graphql_refusal(await api.post(CASE_COUNT, token="adivinado"), 401, "UNAUTHENTICATED")
        # Past the allowance, tokens from that address are not even checked: a guess
        # that happens to be right learns nothing either.
        graphql_refusal(await api.post(CASE_COUNT, token="otro-intento"), 429, "RATE_LIMITED")
        graphql_refusal(await api.post(CASE_COUNT, token=good), 429, "RATE_LIMITED")
        # The public's own allowance is apart, and the address gets its turn back.
        await api.run(CASE_COUNT)
        monotonic.advance(31)
        await api.run(CASE_COUNT, token=good)


async def test_a_rate_limit_of_zero_turns_the_limit_off(
    settings: Settings, clock: FixedClock
) -> None:
    async with serve(settings.model_copy(update={"rate_limit_per_minute": 0}), clock) as api:
        rosa = api.token("rosa.martinez", "coordinator")
        for _ in range(25):
            await api.run(CASE_COUNT, token=rosa)


# -- introspection and GraphiQL --------------------------------------------------------------

INTROSPECTION = [
    "{ __schema { queryType { name } } }",
    '{ __type(name: "Case") { name } }',
    "query { cases { totalCount } __schema { types { name } } }",
]


# -- cost ------------------------------------------------------------------------------------

# Within the depth, alias and token limits, and yet millions of fields: 500 cases, each
# with its assembly's cases, their commitments and two timelines.
NESTED = (
    "cases(first: 500) { edges { node { assembly { cases { commitments {"
    " timeline { summary } case { timeline { summary } } } } } } } }"
)
HEAVY = "{ " + " ".join(f"a{n}: {NESTED}" for n in range(30)) + " }"
# The board's biggest page, every field and each commitment's timeline (~40,000 fields).
BIG_BOARD = """query($n: Int) { commitments(first: $n) { totalCount edges { node {
  id description dueOn status progress responsible { name level } accountable { name }
  table { name kind } case { id title status } timeline { at summary actor } } } } }"""


async def test_a_query_asking_for_too_much_at_once_is_refused_before_it_runs(
    settings: Settings, clock: FixedClock
) -> None:
    async with serve(settings, clock) as api:
        for query in (HEAVY, "{ " + NESTED + " }"):
            message = graphql_refusal(await api.post(query), 200, "BAD_USER_INPUT")
            assert message.startswith("This query asks for too much at once"), message
            assert "at most 100000" in message
        spanish = await api.post(HEAVY, language="es-MX")
        assert spanish.json()["errors"][0]["message"].startswith(
            "Esta consulta pide demasiado a la vez"
        )
        # A variable counts as what it is: the same page asked for with $n.
        nested_paged = "query($n: Int) { " + NESTED.replace("first: 500", "first: $n") + " }"
        refused = await api.post(nested_paged, {"n": 500})
        graphql_refusal(refused, 200, "BAD_USER_INPUT")
        assert (await api.run(nested_paged, {"n": 5})) == {"cases": {"edges": []}}
        # The board's biggest page with every field passes.
        board = await api.run(BIG_BOARD, {"n": 500})
        assert board == {"commitments": {"totalCount": 0, "edges": []}}


async def test_with_introspection_off_schema_queries_are_forbidden(
    settings: Settings, clock: FixedClock
) -> None:
    async with serve(settings.model_copy(update={"introspection": False}), clock) as api:
        for query in INTROSPECTION:
            response = await api.post(query, token=api.token("admin.sistema", "admin"))
            body = response.json()
            assert response.status_code == 200  # like every other invalid document
            assert body.get("data") is None, body
            error = body["errors"][0]
            assert error["extensions"]["code"] == "FORBIDDEN", (query, body)
            assert error["message"].startswith("Schema introspection is turned off"), body
        spanish = await api.post(INTROSPECTION[0], language="es-MX")
        assert spanish.json()["errors"][0]["message"].startswith(
            "La introspección del esquema está desactivada"
        )
        # Ordinary queries, __typename included, still work.
        data = await api.run("{ __typename cases { totalCount } }")
        assert data == {"__typename": "Query", "cases": {"totalCount": 0}}


async def test_with_introspection_off_no_error_suggests_the_schemas_names(
    settings: Settings, clock: FixedClock
) -> None:
    typo = "{ cases { totalCont } }"
    async with serve(settings.model_copy(update={"introspection": True}), clock) as api:
        open_message = graphql_refusal(await api.post(typo), 200, "BAD_USER_INPUT")
        assert "Did you mean 'totalCount'?" in open_message
    async with serve(settings.model_copy(update={"introspection": False}), clock) as api:
        for language in ("en", "es-MX"):
            message = (await api.post(typo, language=language)).json()["errors"][0]["message"]
            assert "totalCount" not in message and "totalCont" in message, message


async def test_with_introspection_on_the_schema_can_be_read(
    settings: Settings, clock: FixedClock
) -> None:
    async with serve(settings.model_copy(update={"introspection": True}), clock) as api:
        data = await api.run(INTROSPECTION[0])
        assert data == {"__schema": {"queryType": {"name": "Query"}}}
        assert (await api.run(INTROSPECTION[1]))["__type"] == {"name": "Case"}


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize("on", [True, False])
async def test_graphiql_is_served_to_browsers_only_when_turned_on(
    settings: Settings, clock: FixedClock, on: bool
) -> None:
    async with serve(settings.model_copy(update={"graphiql": on}), clock) as api:
        page = await api.http.get("/graphql", headers=BROWSER)
        if on:
            assert page.status_code == 200
            assert "graphiql" in page.text.lower()
        else:
            assert page.status_code == 404
            assert "graphiql" not in page.text.lower()
        # Either way the API answers queries sent by GET.
        answer: dict[str, Any] = (
            await api.http.get("/graphql", params={"query": CASE_COUNT})
        ).json()
        assert answer["data"] == {"cases": {"totalCount": 0}}
