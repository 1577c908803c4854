"""Text PostgreSQL cannot store (a NUL character) must be refused at the door.

A title with NUL once reached the event store, after which every read model that copies
it (cases, timelines) failed on that event forever: each later write waited out its
read-your-writes budget and answered PENDING, and /readyz reported 503, even after a
rebuild. Now such text is refused before anything is recorded.
"""

from __future__ import annotations

import pytest
from graphql_client import GraphQLClient
from world import MUNICIPALITY, RAISE

from tequio.database import ConnectionInfo
from tequio.settings import Settings


@pytest.fixture
def settings(db: ConnectionInfo) -> Settings:
    # A short read-your-writes budget, so that the bug (a write never becoming visible)
    # costs half a second rather than three.
    return Settings(
        DATABASE_URL=db.url(),
        TEQUIO_MUNICIPALITY=MUNICIPALITY,
        TEQUIO_POOL_SIZE=2,
        TEQUIO_READ_YOUR_WRITES_TIMEOUT=0.5,
    )


def raise_input(title: str) -> dict[str, object]:
    return {
        "input": {
            "territoryId": "smt",
            "theme": "WATER",
            "title": title,
            "description": "Sin agua desde el lunes.",
        }
    }


async def test_title_with_a_nul_character_is_refused_and_the_api_keeps_working(
    api: GraphQLClient,
) -> None:
    admin = api.token("admin.sistema", "admin")
    await api.run(
        'mutation { addTerritory(id: "smt", name: "San Miguel", kind: "colonia") { id } }',
        token=admin,
    )
    response = await api.post(RAISE, raise_input("Sin agua\x00"), token=admin)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error

    # Whatever happened to that request, the next ones are served as usual.
    body = (await api.post(RAISE, raise_input("Sin agua en tres calles"), token=admin)).json()
    assert "errors" not in body and "extensions" not in body, body
    assert (await api.http.get("/readyz")).status_code == 200


async def test_search_with_a_nul_character_is_bad_user_input(api: GraphQLClient) -> None:
    response = await api.post(
        "query($s: String) { cases(filter: {search: $s}) { totalCount } }", {"s": "agua\x00"}
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
