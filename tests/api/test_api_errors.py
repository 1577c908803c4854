"""Refusals as an integrator sees them over HTTP: the contract's ``extensions.code``, a
message in the caller's language, and nothing changed; never a stack trace or SQL."""

from __future__ import annotations

import json
from typing import Any

from graphql_client import GraphQLClient
from world import (
    CABINET,
    FULFIL,
    HOLD_ASSEMBLY,
    LIGHTING_TABLE,
    MAKE,
    RAISE,
    RESCHEDULE,
    World,
    module_world,
)

from api.auth import mint_token
from projections.pages import encode_cursor

world = module_world()

LEAKS = (
    "Traceback",
    'File "',
    ".py",
    "SELECT ",
    "INSERT ",
    " WHERE ",
    "asyncpg",
    "psycopg",
    "eventsourcing",
    "Internal error",
)

CASE_COUNT = "{ cases { totalCount } }"
BOARD = """
query($case: ID, $first: Int, $after: String) {
  commitments(filter: {caseId: $case}, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }
"""
CASES_PAGE = """
query($first: Int, $after: String) {
  cases(first: $first, after: $after) { totalCount pageInfo { endCursor } edges { node { id } } } }
"""
TRIAGE_ONLY = """
mutation($id: ID!, $v: Int!, $priority: Priority!) {
  triageCase(caseId: $id, expectedVersion: $v, theme: SAFETY, priority: $priority) {
    id version priority } }
"""


def assert_no_leak(body: dict[str, Any]) -> None:
    for error in body.get("errors") or []:
        for leak in LEAKS:
            assert leak not in error["message"], (leak, error)
        assert "stacktrace" not in json.dumps(error.get("extensions", {})).lower(), error


async def refusal(
    api: GraphQLClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    code: str,
    status: int = 200,
    **kw: Any,
) -> dict[str, Any]:
    """Sends a request that must be refused with ``code``; returns its first error."""
    response = await api.post(query, variables, **kw)
    body = response.json()
    assert response.status_code == status, body
    assert body.get("errors"), body
    assert_no_leak(body)
    error = body["errors"][0]
    assert error["extensions"]["code"] == code, error
    return error


def raise_input(title: str = "Bache en Calle Reforma") -> dict[str, Any]:
    return {
        "input": {
            "territoryId": "smt-avisadero",
            "theme": "URBAN_SERVICES",
            "title": title,
            "description": "Un bache de un metro frente a la escuela.",
        }
    }


async def case_count(api: GraphQLClient) -> int:
    return (await api.run(CASE_COUNT))["cases"]["totalCount"]


# -- who is calling ---------------------------------------------------------------------


async def test_mutation_without_a_token_is_unauthenticated_and_records_nothing(
    world: World,
) -> None:
    before = await case_count(world.api)
    error = await refusal(world.api, RAISE, raise_input(), code="UNAUTHENTICATED")
    assert error["message"] == "Sign in first: this operation needs a bearer token."
    assert await case_count(world.api) == before


async def test_malformed_expired_or_foreign_tokens_get_http_401(world: World) -> None:
    api = world.api
    secret = api.settings.secret.get_secret_value()
    claims: dict[str, Any] = {
        "subject": "rosa.martinez",
        "roles": ["coordinator"],
        "municipality": api.settings.municipality,
    }
    bad_tokens = {
        "malformed": "not-a-jwt",
        "expired": mint_token(secret, lifetime_seconds=-60, **claims),
        "wrongly signed": mint_token("a-different-secret-of-enough-length-123", **claims),
        "another municipality": mint_token(secret, **{**claims, "municipality": "tlalpan"}),
        # Whoever acts with it would be recorded as nobody ("public").
        "no subject": mint_token(secret, **{**claims, "subject": ""}),
        "a blank subject": mint_token(secret, **{**claims, "subject": "   "}),
    }
    before = await case_count(api)
    for name, token in bad_tokens.items():
        for query, variables in [(RAISE, raise_input()), (CASE_COUNT, None)]:
            response = await api.post(query, variables, token=token)
            body = response.json()
            assert response.status_code == 401, (name, body)
            assert response.headers["www-authenticate"] == "Bearer", name
            assert body["data"] is None, name
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", (name, body)
            assert body["errors"][0]["message"].startswith("The bearer token is not valid"), name
            assert_no_leak(body)
    # Not a bearer token at all.
    response = await api.http.post(
        "/graphql", json={"query": CASE_COUNT}, headers={"Authorization": "Basic cm9zYTox"}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await case_count(api) == before


async def test_roles_not_allowed_a_mutation_are_forbidden(world: World) -> None:
    api = world.api
    case = await world.raise_case("Luminarias fundidas en el parque")
    before = await case_count(api)
    error = await refusal(api, RAISE, raise_input(), code="FORBIDDEN", token=world.urbanos)
    assert error["message"] == "Your role does not allow raiseCase."
    assert await case_count(api) == before
    await refusal(
        api,
        TRIAGE_ONLY,
        {"id": case["id"], "v": case["version"], "priority": "HIGH"},
        code="FORBIDDEN",
        token=world.cabinet_member,
    )
    assert (await world.case(case["id"]))["status"] == "RAISED"


async def test_agency_staff_cannot_change_another_agencys_commitment(world: World) -> None:
    case = await world.raise_case("Banqueta rota en Calle Pino")
    lamps = await world.commit(case["id"], "Reparar la banqueta", agency="servicios-urbanos")
    obras = world.api.token("staff.obras", "agency_staff", agency="obras")
    await refusal(
        world.api,
        """mutation($id: ID!, $v: Int!) { reportProgress(commitmentId: $id, expectedVersion: $v,
          progress: 50, note: "No es nuestra") { id } }""",
        {"id": lamps["id"], "v": lamps["version"]},
        code="FORBIDDEN",
        token=obras,
    )
    after = await world.commitment(lamps["id"])
    assert (after["progress"], after["version"]) == (0, lamps["version"])


# -- what is asked for ------------------------------------------------------------------


async def test_triaging_an_unknown_case_is_not_found(world: World) -> None:
    error = await refusal(
        world.api,
        TRIAGE_ONLY,
        {"id": "no-such-case", "v": 1, "priority": "LOW"},
        code="NOT_FOUND",
        token=world.coordinator,
    )
    assert error["message"] == "No case with id 'no-such-case' exists."
    assert error["path"] == ["triageCase"]


async def test_stale_expected_version_is_conflict_and_changes_nothing(world: World) -> None:
    api = world.api
    case = await world.raise_case("Fuga de agua en Calle Olivo")
    triaged = (
        await api.run(
            TRIAGE_ONLY,
            {"id": case["id"], "v": 1, "priority": "HIGH"},
            token=world.coordinator,
        )
    )["triageCase"]
    assert triaged["version"] == 2
    error = await refusal(
        api,
        TRIAGE_ONLY,
        {"id": case["id"], "v": 1, "priority": "LOW"},
        code="CONFLICT",
        token=world.coordinator,
    )
    assert "you sent version 1, it is now at version 2" in error["message"]
    again = await world.case(case["id"])
    assert (again["version"], again["priority"], again["status"]) == (2, "HIGH", "TRIAGED")


async def test_stale_progress_report_is_refused_with_conflict(world: World) -> None:
    case = await world.raise_case("Poda de árboles en la escuela")
    commitment = await world.commit(case["id"], "Podar 8 árboles")
    progress = """mutation($id: ID!, $v: Int!, $p: Int!) { reportProgress(commitmentId: $id,
      expectedVersion: $v, progress: $p, note: "Avance") { version progress } }"""
    first = (
        await world.api.run(
            progress, {"id": commitment["id"], "v": 1, "p": 40}, token=world.urbanos
        )
    )["reportProgress"]
    assert first == {"version": 2, "progress": 40}
    await refusal(
        world.api,
        progress,
        {"id": commitment["id"], "v": 1, "p": 10},
        code="CONFLICT",
        token=world.urbanos,
    )
    after = await world.commitment(commitment["id"])
    assert (after["version"], after["progress"], after["status"]) == (2, 40, "IN_PROGRESS")


async def test_validating_before_fulfilment_is_refused_with_conflict(world: World) -> None:
    case = await world.raise_case("Juegos infantiles rotos")
    commitment = await world.commit(case["id"], "Reparar columpios")
    error = await refusal(
        world.api,
        """mutation($id: ID!, $v: Int!, $a: ID!) { validateFulfilment(commitmentId: $id,
          expectedVersion: $v, assemblyId: $a) { id } }""",
        {"id": commitment["id"], "v": commitment["version"], "a": world.assembly_id},
        code="CONFLICT",
        token=world.coordinator,
        language="es-MX",
    )
    assert error["message"] == (
        "Solo un acuerdo reportado como cumplido puede ser validado; este está en estado abierto."
    )
    after = await world.commitment(commitment["id"])
    assert (after["status"], after["version"]) == ("OPEN", commitment["version"])


async def test_an_assembly_of_another_community_cannot_validate_a_fulfilment(
    world: World,
) -> None:
    case = await world.raise_case("Luminaria fundida frente al mercado")
    commitment = await world.commit(case["id"], "Cambiar la luminaria")
    done = (
        await world.api.run(
            FULFIL,
            {"id": commitment["id"], "v": commitment["version"], "evidence": "Foto"},
            token=world.urbanos,
        )
    )["reportFulfilment"]
    # Cabeza de Juárez is not San Miguel Teotongo, nor above or below it.
    elsewhere = {
        "territoryId": "dt-cabeza",
        "kind": "COMMUNITY_ASSEMBLY",
        "heldOn": "2026-11-16",
        "attendance": 30,
    }
    assembly = (await world.api.run(HOLD_ASSEMBLY, {"input": elsewhere}, token=world.coordinator))[
        "holdAssembly"
    ]["id"]
    error = await refusal(
        world.api,
        """mutation($id: ID!, $v: Int!, $a: ID!) { validateFulfilment(commitmentId: $id,
          expectedVersion: $v, assemblyId: $a) { id } }""",
        {"id": done["id"], "v": done["version"], "a": assembly},
        code="CONFLICT",
        token=world.coordinator,
        language="es-MX",
    )
    assert "otra comunidad no puede juzgar este acuerdo" in error["message"]
    after = await world.commitment(commitment["id"])
    assert (after["status"], after["version"]) == ("FULFILLED", done["version"])
    # The neighbourhood's own assembly can (the world's, in San Miguel Teotongo).
    validated = await world.api.run(
        """mutation($id: ID!, $v: Int!, $a: ID!) { validateFulfilment(commitmentId: $id,
          expectedVersion: $v, assemblyId: $a) { status } }""",
        {"id": done["id"], "v": done["version"], "a": world.assembly_id},
        token=world.coordinator,
    )
    assert validated == {"validateFulfilment": {"status": "VALIDATED"}}


async def test_commitment_due_before_it_was_agreed_is_refused_and_not_recorded(
    world: World,
) -> None:
    case = await world.raise_case("Coladera tapada")
    await refusal(
        world.api,
        "mutation($input: MakeCommitmentInput!) { makeCommitment(input: $input) { id } }",
        {
            "input": {
                "caseId": case["id"],
                "responsibleAgencyId": "obras",
                "description": "Destapar la coladera",
                "agreedOn": "2026-11-16",
                "dueOn": "2026-11-10",
                "assemblyId": world.assembly_id,
            }
        },
        code="CONFLICT",
        token=world.secretary,
    )
    board = await world.api.run(BOARD, {"case": case["id"]})
    assert board["commitments"]["totalCount"] == 0
    assert (await world.case(case["id"]))["status"] == "RAISED"


async def test_blank_title_is_bad_user_input(world: World) -> None:
    before = await case_count(world.api)
    error = await refusal(
        world.api, RAISE, raise_input("   "), code="BAD_USER_INPUT", token=world.coordinator
    )
    assert error["message"] == "'title' must not be blank."
    assert await case_count(world.api) == before


async def test_progress_outside_0_to_100_is_bad_user_input(world: World) -> None:
    # The contract's range for the argument: bad input, not a rule of the commitment.
    case = await world.raise_case("Alumbrado en el deportivo")
    commitment = await world.commit(case["id"], "Cambiar 20 lámparas")
    for progress in (150, -1):
        error = await refusal(
            world.api,
            """mutation($id: ID!, $p: Int!) { reportProgress(commitmentId: $id,
              expectedVersion: 1, progress: $p, note: "Demasiado") { id } }""",
            {"id": commitment["id"], "p": progress},
            code="BAD_USER_INPUT",
            token=world.urbanos,
        )
        assert f"got {progress}" in error["message"]
    after = await world.commitment(commitment["id"])
    assert (after["progress"], after["version"], after["status"]) == (0, 1, "OPEN")


def commitment_input(case_id: str, description: str, **more: str) -> dict[str, Any]:
    """``makeCommitment``'s variables for Servicios Urbanos, due at the month's end."""
    return {
        "input": {
            "caseId": case_id,
            "responsibleAgencyId": "servicios-urbanos",
            "description": description,
            "dueOn": "2026-11-30",
            **more,
        }
    }


async def test_a_commitment_at_a_table_the_case_was_not_routed_to_is_a_conflict(
    world: World,
) -> None:
    case = await world.raise_case("Perros en situación de calle")
    error = await refusal(
        world.api,
        MAKE,
        commitment_input(case["id"], "Jornada de vacunación", tableId=LIGHTING_TABLE),
        code="CONFLICT",
        token=world.secretary,
        language="es-MX",
    )
    assert error["message"] == (
        f"El caso no está turnado a la mesa '{LIGHTING_TABLE}': túrnelo primero."
    )
    after = await world.case(case["id"])
    assert (after["status"], after["version"]) == ("RAISED", 1)
    board = await world.api.run(BOARD, {"case": case["id"]})
    assert board["commitments"]["totalCount"] == 0


async def test_a_commitment_agreed_at_neither_a_table_nor_an_assembly_is_bad_input(
    world: World,
) -> None:
    case = await world.raise_case("Banqueta rota")
    error = await refusal(
        world.api,
        MAKE,
        commitment_input(case["id"], "Reparar la banqueta"),
        code="BAD_USER_INPUT",
        token=world.secretary,
    )
    assert "'tableId' or 'assemblyId'" in error["message"]
    assert (await world.case(case["id"]))["version"] == 1


async def test_a_due_date_outside_the_business_years_is_refused_and_nothing_is_made(
    world: World,
) -> None:
    case = await world.raise_case("Bache en la calzada")
    before = (await world.case(case["id"]))["version"]
    for due in ("0001-01-02", "1900-01-02", "9999-12-31"):
        error = await refusal(
            world.api,
            MAKE,
            commitment_input(case["id"], "Tapar el bache", dueOn=due, tableId=LIGHTING_TABLE),
            code="BAD_USER_INPUT",
            token=world.secretary,
            language="es-MX",
        )
        assert error["message"] == (
            f"'dueOn' debe ser una fecha del 2000-01-01 al 2099-12-31; se recibió {due}."
        )
    assert (await world.case(case["id"]))["version"] == before


async def test_a_reschedule_to_a_far_year_is_refused_and_the_due_date_stays(world: World) -> None:
    case = await world.raise_case("Coladera tapada")
    commitment = await world.commit(case["id"], "Desazolvar la coladera")
    await refusal(
        world.api,
        RESCHEDULE,
        {"id": commitment["id"], "v": 1, "due": "9999-12-31", "reason": "Sin fecha"},
        code="BAD_USER_INPUT",
        token=world.urbanos,
    )
    after = await world.commitment(commitment["id"])
    assert (after["dueOn"], after["version"]) == (commitment["dueOn"], 1)


async def test_an_assembly_held_before_the_business_years_is_refused(world: World) -> None:
    error = await refusal(
        world.api,
        HOLD_ASSEMBLY,
        {
            "input": {
                "territoryId": "smt-mercado",
                "kind": "COMMUNITY_ASSEMBLY",
                "heldOn": "1900-01-01",
                "attendance": 30,
            }
        },
        code="BAD_USER_INPUT",
        token=world.coordinator,
    )
    assert "'heldOn' must be a date from 2000-01-01 to 2099-12-31" in error["message"]


async def test_an_expected_version_below_1_is_bad_input_not_a_conflict(world: World) -> None:
    case = await world.raise_case("Semáforo descompuesto")
    commitment = await world.commit(case["id"], "Reparar el semáforo")
    for version in (0, -5):
        error = await refusal(
            world.api,
            """mutation($id: ID!, $v: Int!) { reportProgress(commitmentId: $id,
              expectedVersion: $v, progress: 10, note: "Revisión") { id } }""",
            {"id": commitment["id"], "v": version},
            code="BAD_USER_INPUT",
            token=world.urbanos,
        )
        assert error["message"] == (
            f"'expectedVersion' counts from 1 (the version you last read); got {version}."
        )
    assert (await world.commitment(commitment["id"]))["version"] == commitment["version"]


# -- pages ------------------------------------------------------------------------------


async def test_page_of_more_than_500_is_bad_user_input(world: World) -> None:
    error = await refusal(world.api, BOARD, {"first": 501}, code="BAD_USER_INPUT")
    assert error["message"] == "'first' must be between 0 and 500; got 501."
    await refusal(world.api, CASES_PAGE, {"first": 501}, code="BAD_USER_INPUT")
    await refusal(world.api, BOARD, {"first": -1}, code="BAD_USER_INPUT")
    # The largest page the contract allows is served.
    assert "totalCount" in (await world.api.run(BOARD, {"first": 500}))["commitments"]


async def test_garbage_or_foreign_cursor_is_bad_user_input(world: World) -> None:
    case = await world.raise_case("Tres luminarias")
    for n in range(3):
        await world.commit(case["id"], f"Luminaria {n + 1}", due=f"2026-11-2{n + 1}")
    first = (await world.api.run(BOARD, {"case": case["id"], "first": 2}))["commitments"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await world.api.run(
            BOARD, {"case": case["id"], "first": 2, "after": first["pageInfo"]["endCursor"]}
        )
    )["commitments"]
    first_ids = {e["node"]["id"] for e in first["edges"]}
    assert len(rest["edges"]) == 1 and rest["edges"][0]["node"]["id"] not in first_ids
    assert rest["pageInfo"]["hasNextPage"] is False

    cases_cursor = (await world.api.run(CASES_PAGE, {"first": 1}))["cases"]["pageInfo"]["endCursor"]
    for after in [
        "!!!garbage",
        "bm90IGpzb24",  # base64 of "not json"
        cases_cursor,  # a cursor of another list
        encode_cursor("commitment", "2026-13-45", "x"),  # not a date
    ]:
        error = await refusal(
            world.api, BOARD, {"case": case["id"], "after": after}, code="BAD_USER_INPUT"
        )
        assert "cursor" in error["message"]
    await refusal(world.api, CASES_PAGE, {"after": "!!!garbage"}, code="BAD_USER_INPUT")


# -- malformed requests -------------------------------------------------------------------


async def test_malformed_graphql_is_bad_user_input(world: World) -> None:
    for query in [
        "{ cases(first: 2 { totalCount } }",  # syntax error
        "{ cases { totalCount bogus } }",  # unknown field
        "{ cases(color: RED) { totalCount } }",  # unknown argument
        '{ cases(first: "ten") { totalCount } }',  # wrong literal type
        "{ cases(filter: {theme: NOT_A_THEME}) { totalCount } }",
    ]:
        await refusal(world.api, query, code="BAD_USER_INPUT")


async def test_invalid_variable_values_are_bad_user_input(world: World) -> None:
    """Most clients send variables: a bad value there is the caller's mistake, not a
    server fault."""
    case = await world.raise_case("Variables inválidas")
    make = "mutation($input: MakeCommitmentInput!) { makeCommitment(input: $input) { id } }"
    base = {
        "caseId": case["id"],
        "responsibleAgencyId": "obras",
        "description": "Algo",
        "dueOn": "2026-11-30",
    }
    await refusal(
        world.api,
        make,
        {"input": {**base, "dueOn": "2026-02-30"}},
        code="BAD_USER_INPUT",
        token=world.secretary,
    )
    await refusal(
        world.api,
        "query($t: Theme) { cases(filter: {theme: $t}) { totalCount } }",
        {"t": "NOT_A_THEME"},
        code="BAD_USER_INPUT",
    )
    await refusal(
        world.api,
        'query($s: DateTime!) { cabinetBriefing(cabinetId: "x", since: $s) { since } }',
        {"s": "yesterday"},
        code="BAD_USER_INPUT",
        token=world.admin,
    )
    await refusal(world.api, "query($id: ID!) { case(id: $id) { id } }", {}, code="BAD_USER_INPUT")
    await refusal(world.api, CASES_PAGE, {"first": 2**40}, code="BAD_USER_INPUT")
    board = await world.api.run(BOARD, {"case": case["id"]})
    assert board["commitments"]["totalCount"] == 0


# -- language -------------------------------------------------------------------------------


async def test_messages_are_in_spanish_for_es_mx_and_english_by_default(world: World) -> None:
    api = world.api
    case = await world.raise_case("Mensajes en dos idiomas")
    missing = {"id": "no-such-case", "v": 1, "priority": "LOW"}
    stale = {"id": case["id"], "v": 7, "priority": "LOW"}
    expectations = [
        (TRIAGE_ONLY, missing, world.coordinator, "No case with id", "No existe un caso"),
        (TRIAGE_ONLY, stale, world.coordinator, "you sent version 7", "usted envió la versión 7"),
        (RAISE, raise_input(), None, "Sign in first", "Primero inicie sesión"),
        (RAISE, raise_input(), world.urbanos, "Your role does not allow", "Su rol no permite"),
        (BOARD, {"first": 501}, None, "must be between 0 and 500", "debe estar entre 0 y 500"),
    ]
    for query, variables, token, english, spanish in expectations:
        for language, expected in [
            (None, english),
            ("en-US", english),
            ("es-MX", spanish),
            ("es-MX,es;q=0.9,en;q=0.8", spanish),
            ("fr-FR, en;q=0.5", english),
        ]:
            response = await api.post(query, variables, token=token, language=language)
            message = response.json()["errors"][0]["message"]
            assert expected in message, (language, message)

    response = await api.post(CASE_COUNT, token="not-a-jwt", language="es-MX")
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"].startswith("El token de acceso no es válido")


async def test_odd_input_never_shows_stack_traces_or_sql(world: World) -> None:
    """Whatever is sent, refusals read as sentences: no stack, no SQL, no library names."""
    api = world.api
    odd = [
        ("query($id: ID!) { case(id: $id) { id } }", {"id": "' OR 1=1 --"}, None),
        ("query($s: String) { cases(filter: {search: $s}) { totalCount } }", {"s": "'; --"}, None),
        (CASES_PAGE, {"after": encode_cursor("case", "2026-11-16T10:00:00+00:00", "' OR 1")}, None),
        (TRIAGE_ONLY, {"id": "x" * 3000, "v": 1, "priority": "LOW"}, world.coordinator),
        (TRIAGE_ONLY, {"id": "../../etc/passwd", "v": -5, "priority": "LOW"}, world.coordinator),
        (BOARD, {"first": 501}, None),
        ("{ cases { edges { node { nope } } } }", None, None),
    ]
    for query, variables, token in odd:
        response = await api.post(query, variables, token=token)
        assert response.status_code == 200
        body = response.json()
        assert_no_leak(body)
        codes = {e["extensions"]["code"] for e in body.get("errors") or []}
        assert "INTERNAL_SERVER_ERROR" not in codes, body


# -- references ---------------------------------------------------------------------------

HOLD_SESSION = """
mutation($table: ID!) { holdSession(input: {tableId: $table, heldOn: "2026-11-16",
  attendingAgencyIds: ["servicios-urbanos"]}) { id } }
"""


async def test_a_commitment_names_only_a_session_its_table_held(world: World) -> None:
    api = world.api
    case = await world.raise_case("Luminarias apagadas en Calle Reforma")
    await world.route_to(case["id"], LIGHTING_TABLE)
    lighting = (await api.run(HOLD_SESSION, {"table": LIGHTING_TABLE}, token=world.secretary))[
        "holdSession"
    ]["id"]
    cabinet = (await api.run(HOLD_SESSION, {"table": CABINET}, token=world.secretary))[
        "holdSession"
    ]["id"]

    def made(session: str, table: str | None = LIGHTING_TABLE) -> dict[str, Any]:
        payload = {
            "caseId": case["id"],
            "responsibleAgencyId": "servicios-urbanos",
            "description": "Reponer luminarias",
            "dueOn": "2026-11-30",
            "sessionId": session,
        }
        return {"input": payload | ({"tableId": table} if table else {})}

    for session in ("nope", cabinet):  # unknown, or another table's (a cabinet's)
        error = await refusal(
            api, MAKE, made(session), code="BAD_USER_INPUT", token=world.secretary
        )
        assert error["message"] == f"Table '{LIGHTING_TABLE}' held no session with id '{session}'."
    error = await refusal(
        api,
        MAKE,
        made(lighting, table=None),
        code="BAD_USER_INPUT",
        token=world.secretary,
        language="es-MX",
    )
    assert error["message"].startswith(f"Una sesión ('{lighting}') se indica solo junto con")
    # Nothing was made by the refusals; the table's own session is taken.
    commitments = await api.run(
        "query($id: ID!) { case(id: $id) { commitments { id } } }",
        {"id": case["id"]},
        token=world.secretary,
    )
    assert commitments["case"]["commitments"] == []
    ok = (await api.run(MAKE, made(lighting), token=world.secretary))["makeCommitment"]
    assert ok["table"] == {"id": LIGHTING_TABLE, "kind": "WORKING_TABLE"}


# -- dates --------------------------------------------------------------------------------


async def test_what_already_happened_cannot_be_dated_after_today(world: World) -> None:
    # The world's today is Monday 2026-11-16.
    api = world.api
    case = await world.raise_case("Coladera sin tapa en Calle Reforma")
    made = await world.commit(case["id"], "Poner tapa")
    attempts = [
        (
            HOLD_SESSION.replace('"2026-11-16"', '"2026-11-17"'),
            {"table": LIGHTING_TABLE},
            world.secretary,
            "heldOn",
        ),
        (
            MAKE,
            {
                "input": {
                    "caseId": case["id"],
                    "responsibleAgencyId": "servicios-urbanos",
                    "description": "Otra tapa",
                    "dueOn": "2027-02-01",
                    "agreedOn": "2027-01-01",
                }
            },
            world.secretary,
            "agreedOn",
        ),
        (
            "mutation($id: ID!, $v: Int!) { reportFulfilment(commitmentId: $id,"
            ' expectedVersion: $v, evidence: "Foto", reportedOn: "2027-06-01") { id } }',
            {"id": made["id"], "v": made["version"]},
            world.urbanos,
            "reportedOn",
        ),
    ]
    for document, variables, token, field in attempts:
        error = await refusal(
            api, document, variables, code="BAD_USER_INPUT", token=token, language="es-MX"
        )
        assert error["message"].startswith(f"'{field}' no puede ser posterior a hoy (2026-11-16)")
    assert (await world.commitment(made["id"]))["status"] == "OPEN"
    # Today itself is fine.
    today = HOLD_SESSION
    assert (await api.run(today, {"table": LIGHTING_TABLE}, token=world.secretary))["holdSession"]
