"""A case may say where the problem is: a point, an address, or both (as Open311 requests do)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql_client import GraphQLClient

SETUP = 'mutation { addTerritory(id: "smt", name: "San Miguel Teotongo", kind: "colonia") { id } }'
RAISE = """
mutation($input: RaiseCaseInput!) {
  raiseCase(input: $input) { id location { lat long address } } }
"""


def case_at(location: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "input": {
            "territoryId": "smt",
            "theme": "URBAN_SERVICES",
            "title": "Bache en Av. Las Torres",
            "description": "Un bache profundo frente a la secundaria.",
            "location": location,
        }
    }


@pytest.fixture
async def coordinator(api: GraphQLClient) -> str:
    token = api.token("coordinator:rosa", "coordinator")
    await api.run(SETUP, token=token)
    return token


async def test_a_case_keeps_its_point_and_address(api: GraphQLClient, coordinator: str) -> None:
    place = {"lat": 19.3467, "long": -99.0195, "address": "Av. Las Torres 12, San Miguel Teotongo"}
    data = await api.run(RAISE, case_at(place), token=coordinator)
    assert data["raiseCase"]["location"] == place


async def test_an_address_alone_is_enough(api: GraphQLClient, coordinator: str) -> None:
    data = await api.run(
        RAISE, case_at({"address": "Calle 5 esquina Camino Real"}), token=coordinator
    )
    assert data["raiseCase"]["location"] == {
        "lat": None,
        "long": None,
        "address": "Calle 5 esquina Camino Real",
    }


async def test_a_case_without_location_shows_none(api: GraphQLClient, coordinator: str) -> None:
    data = await api.run(RAISE, case_at(None), token=coordinator)
    assert data["raiseCase"]["location"] is None


@pytest.mark.parametrize(
    ("place", "words"),
    [
        ({"lat": 19.3}, "latitud y longitud"),
        ({"lat": 91.0, "long": -99.0}, "location.lat"),
        ({"lat": 19.3, "long": -180.5}, "location.long"),
    ],
)
async def test_a_half_or_impossible_point_is_bad_input_and_records_nothing(
    api: GraphQLClient, coordinator: str, place: dict[str, float], words: str
) -> None:
    error = await api.error(RAISE, case_at(place), token=coordinator, language="es-MX")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert words in error["message"]
    cases = await api.run("{ cases { totalCount } }", token=coordinator)
    assert cases["cases"]["totalCount"] == 0
