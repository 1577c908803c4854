"""Writes as clients retry them and read them back: the ``Idempotency-Key`` header, and
reading your own writes in the mutation's result and in the very next request."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from world import FULFIL, MAKE, PROGRESS, RAISE, RESCHEDULE, World, module_world

world = module_world()

CASE_COUNT = "{ cases { totalCount } }"
BOARD = """
query($case: ID!) { commitments(filter: {caseId: $case}) {
  totalCount edges { node { id version status progress dueOn reschedules } } } }
"""


async def position(world: World) -> int:
    """How many events the event store holds (the app's own view of it)."""
    assert world.app is not None
    application = world.app.state.runtime.application
    return await to_thread.run_sync(application.current_position)


async def case_count(world: World) -> int:
    return (await world.api.run(CASE_COUNT))["cases"]["totalCount"]


def raise_input(title: str) -> dict[str, Any]:
    return {
        "input": {
            "territoryId": "smt-mercado",
            "theme": "ENVIRONMENT",
            "title": title,
            "description": "Basura acumulada junto al mercado.",
        }
    }


# -- Idempotency-Key ------------------------------------------------------------------------


async def test_retried_raise_case_with_the_same_key_returns_the_first_case_and_records_nothing(
    world: World,
) -> None:
    api = world.api
    cases_before = await case_count(world)
    first = await api.post(
        RAISE,
        raise_input("Tiradero junto al mercado"),
        token=world.coordinator,
        idempotency_key="asamblea-16-nov-punto-3",
    )
    assert first.status_code == 200 and not first.json().get("errors"), first.json()
    created = first.json()["data"]["raiseCase"]
    events_after_first = await position(world)

    retry = await api.post(
        RAISE,
        raise_input("Tiradero junto al mercado"),
        token=world.coordinator,
        idempotency_key="asamblea-16-nov-punto-3",
    )
    body = retry.json()
    assert not body.get("errors"), body
    assert body["data"]["raiseCase"]["id"] == created["id"]
    assert body["extensions"]["idempotentReplays"] == ["raiseCase"]
    assert await position(world) == events_after_first
    assert await case_count(world) == cases_before + 1

    # Without a key, the same request is a new case: the key is what made the retry safe.
    await api.run(RAISE, raise_input("Tiradero junto al mercado"), token=world.coordinator)
    assert await case_count(world) == cases_before + 2


async def test_reusing_a_key_for_a_different_request_is_conflict(world: World) -> None:
    api = world.api
    await api.run(
        RAISE,
        raise_input("Perros sin dueño en el parque"),
        token=world.coordinator,
        idempotency_key="clave-reutilizada",
    )
    cases_before = await case_count(world)
    events_before = await position(world)
    response = await api.post(
        RAISE,
        raise_input("Otro problema distinto"),
        token=world.coordinator,
        idempotency_key="clave-reutilizada",
        language="es-MX",
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "CONFLICT"
    assert "La clave de idempotencia 'clave-reutilizada" in error["message"]
    assert response.json()["data"] is None
    assert await case_count(world) == cases_before
    assert await position(world) == events_before


async def test_a_key_used_for_one_mutation_is_refused_for_another(world: World) -> None:
    api = world.api
    await api.run(
        'mutation { addAgency(name: "Dirección de Mercados", level: MUNICIPAL) { id } }',
        token=world.coordinator,
        idempotency_key="minuta-mercados",
    )
    cases_before = await case_count(world)
    events_before = await position(world)
    response = await api.post(
        RAISE,
        raise_input("Puestos sobre la banqueta"),
        token=world.coordinator,
        idempotency_key="minuta-mercados",
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "CONFLICT"
    assert "minuta-mercados" in error["message"]
    assert await case_count(world) == cases_before
    assert await position(world) == events_before


TWO_CASES = """
mutation($a: RaiseCaseInput!, $b: RaiseCaseInput!) {
  first: raiseCase(input: $a) { id } second: raiseCase(input: $b) { id } }
"""


async def test_a_retried_request_of_two_mutations_replays_both(world: World) -> None:
    variables = {
        "a": raise_input("Fuga en Calle Allende")["input"],
        "b": raise_input("Fuga en Calle Morelos")["input"],
    }
    cases_before = await case_count(world)
    first = await world.api.run(
        TWO_CASES, variables, token=world.coordinator, idempotency_key="asamblea-fugas"
    )
    assert first["first"]["id"] != first["second"]["id"]
    retry = await world.api.post(
        TWO_CASES, variables, token=world.coordinator, idempotency_key="asamblea-fugas"
    )
    body = retry.json()
    assert body["data"] == first
    assert body["extensions"]["idempotentReplays"] == ["first", "second"]
    assert await case_count(world) == cases_before + 2


async def test_retried_commitment_is_made_once(world: World) -> None:
    case = await world.raise_case("Pintar el puente peatonal")
    first = await world.commit(case["id"], "Pintar el puente", idempotency_key="minuta-42")
    events_after_first = await position(world)
    again = await world.commit(case["id"], "Pintar el puente", idempotency_key="minuta-42")
    assert again["id"] == first["id"]
    assert await position(world) == events_after_first
    board = (await world.api.run(BOARD, {"case": case["id"]}))["commitments"]
    assert board["totalCount"] == 1
    # Raised, triaged and routed to the table, then in attention once.
    assert (await world.case(case["id"]))["version"] == 4


async def test_retried_progress_report_is_not_refused_as_stale(world: World) -> None:
    """A client that lost the response retries with the same key and the same (now old)
    expectedVersion: it gets the first result, not a conflict, and no second report."""
    case = await world.raise_case("Reparar luminarias de la cancha")
    commitment = await world.commit(case["id"], "Reparar 6 luminarias")
    variables = {"id": commitment["id"], "v": 1, "p": 40, "note": "3 de 6"}
    first = (
        await world.api.run(PROGRESS, variables, token=world.urbanos, idempotency_key="avance-1")
    )["reportProgress"]
    assert (first["version"], first["progress"]) == (2, 40)
    events_after_first = await position(world)
    retry = (
        await world.api.run(PROGRESS, variables, token=world.urbanos, idempotency_key="avance-1")
    )["reportProgress"]
    assert (retry["id"], retry["version"], retry["progress"]) == (commitment["id"], 2, 40)
    assert await position(world) == events_after_first


# -- read your own writes ---------------------------------------------------------------------


async def test_new_commitment_is_on_the_board_in_the_very_next_request(world: World) -> None:
    api = world.api
    case = await world.raise_case("Reja caída en el deportivo")
    await world.route_to(case["id"], "mesa-alumbrado")
    response = await api.post(
        MAKE,
        {
            "input": {
                "caseId": case["id"],
                "responsibleAgencyId": "obras",
                "postId": "direccion-obras",
                "description": "Reponer la reja",
                "dueOn": "2026-11-27",
                "tableId": "mesa-alumbrado",
            }
        },
        token=world.secretary,
    )
    body = response.json()
    assert not body.get("errors"), body
    assert "readYourWrites" not in (body.get("extensions") or {})
    made = body["data"]["makeCommitment"]
    assert (made["version"], made["status"], made["accountable"]) == (
        1,
        "OPEN",
        {"name": "Elena Cruz"},
    )

    board = (await api.run(BOARD, {"case": case["id"]}))["commitments"]
    assert board["totalCount"] == 1
    assert board["edges"][0]["node"]["id"] == made["id"]
    assert (await world.case(case["id"]))["status"] == "IN_ATTENTION"


async def test_each_mutation_result_shows_the_new_version_and_values(world: World) -> None:
    api = world.api
    case = await world.raise_case("Poste inclinado")
    commitment = await world.commit(case["id"], "Enderezar el poste", due="2026-11-20")

    progressed = (
        await api.run(
            PROGRESS,
            {"id": commitment["id"], "v": 1, "p": 60, "note": "Grúa solicitada"},
            token=world.urbanos,
        )
    )["reportProgress"]
    assert (progressed["version"], progressed["progress"], progressed["status"]) == (
        2,
        60,
        "IN_PROGRESS",
    )
    rescheduled = (
        await api.run(
            RESCHEDULE,
            {"id": commitment["id"], "v": 2, "due": "2026-11-25", "reason": "Sin grúa"},
            token=world.urbanos,
        )
    )["rescheduleCommitment"]
    assert (rescheduled["version"], rescheduled["dueOn"], rescheduled["reschedules"]) == (
        3,
        "2026-11-25",
        1,
    )
    # The next reads agree with what the mutation said, everywhere.
    node = (await api.run(BOARD, {"case": case["id"]}))["commitments"]["edges"][0]["node"]
    assert (node["version"], node["dueOn"], node["progress"]) == (3, "2026-11-25", 60)
    cards = (await api.run("{ agencyScorecards { agency { id } reschedules } }"))[
        "agencyScorecards"
    ]
    assert next(c for c in cards if c["agency"]["id"] == "servicios-urbanos")["reschedules"] >= 1
    timeline = await api.run(
        "query($id: ID!) { commitment(id: $id) { timeline { type } } }", {"id": commitment["id"]}
    )
    assert [e["type"] for e in timeline["commitment"]["timeline"]] == [
        "Made",
        "ProgressReported",
        "Rescheduled",
    ]


REASSIGN = """
mutation($id: ID!, $v: Int!) {
  reassignCommitment(commitmentId: $id, expectedVersion: $v, responsibleAgencyId: "obras",
    postId: "direccion-obras", reason: "Es obra civil, no alumbrado") {
    responsible { id } accountable { name } accountableWhenMade { name } version } }
"""


async def test_reassigning_keeps_who_was_accountable_when_the_commitment_was_made(
    world: World,
) -> None:
    case = await world.raise_case("Poste caído en Calle Xóchitl")
    made = await world.commit(case["id"], "Retirar el poste", post="jefatura-alumbrado")
    assert made["accountableWhenMade"]["name"] == "Jorge Sánchez"
    reassigned = (
        await world.api.run(
            REASSIGN, {"id": made["id"], "v": made["version"]}, token=world.secretary
        )
    )["reassignCommitment"]
    assert reassigned["responsible"] == {"id": "obras"}
    assert reassigned["accountable"] == {"name": "Elena Cruz"}
    assert reassigned["accountableWhenMade"] == {"name": "Jorge Sánchez"}
    again = await world.commitment(made["id"])
    assert again["accountableWhenMade"] == {"name": "Jorge Sánchez"}
    timeline = await world.api.run(
        "query($id: ID!) { commitment(id: $id) { timeline { type summary } } }",
        {"id": made["id"]},
        token=world.secretary,
        language="es-MX",
    )
    assert timeline["commitment"]["timeline"][-1] == {
        "type": "Reassigned",
        "summary": "Reasignado a Dirección General de Obras — Es obra civil, no alumbrado",
    }
    english = await world.api.run(
        "query($id: ID!) { commitment(id: $id) { timeline { summary } } }",
        {"id": made["id"]},
        token=world.secretary,
    )
    assert english["commitment"]["timeline"][-1] == {
        "summary": "Reassigned to Dirección General de Obras — Es obra civil, no alumbrado"
    }


async def test_a_merged_case_names_the_case_it_was_merged_into(world: World) -> None:
    original = await world.raise_case("Bache en la calle 5")
    duplicate = await world.raise_case("Bache en calle cinco")
    merged = (
        await world.api.run(
            "mutation($id: ID!, $into: ID!) { mergeCase(caseId: $id, expectedVersion: 1,"
            " intoCaseId: $into) { status mergedInto { id title } } }",
            {"id": duplicate["id"], "into": original["id"]},
            token=world.coordinator,
        )
    )["mergeCase"]
    assert merged == {
        "status": "MERGED",
        "mergedInto": {"id": original["id"], "title": "Bache en la calle 5"},
    }
    still_open = await world.api.run(
        "query($id: ID!) { case(id: $id) { mergedInto { id } } }", {"id": original["id"]}
    )
    assert still_open["case"]["mergedInto"] is None


async def test_the_board_finds_the_commitments_the_community_disputed(world: World) -> None:
    case = await world.raise_case("Coladera sin tapa")
    disputed = await world.commit(case["id"], "Poner tapa a la coladera")
    untouched = await world.commit(case["id"], "Señalizar la coladera")
    await world.api.run(
        FULFIL, {"id": disputed["id"], "v": 1, "evidence": "Foto"}, token=world.urbanos
    )
    await world.api.run(
        "mutation($id: ID!, $a: ID!) { disputeFulfilment(commitmentId: $id, expectedVersion: 2,"
        ' assemblyId: $a, reason: "La tapa es de cartón") { id } }',
        {"id": disputed["id"], "a": world.assembly_id},
        token=world.coordinator,
    )
    board = (
        "query($c: ID!, $d: Boolean) { commitments(filter: {caseId: $c, disputed: $d})"
        " { totalCount edges { node { id status disputes } } } }"
    )
    for flag, expected in ((True, disputed), (False, untouched)):
        found = (await world.api.run(board, {"c": case["id"], "d": flag}))["commitments"]
        assert found["totalCount"] == 1
        (node,) = [e["node"] for e in found["edges"]]
        assert node["id"] == expected["id"]
        assert (node["status"], node["disputes"] > 0) == ("IN_PROGRESS" if flag else "OPEN", flag)
    # Asked by the contract's DISPUTED status, the board says where to look instead of
    # answering that nothing is disputed.
    by_status = "{ commitments(filter: {status: DISPUTED}) { totalCount } }"
    for language, words in (("en", "filter with disputed: true"), ("es-MX", "filtre con disputed")):
        refusal = await world.api.error(by_status, language=language)
        assert refusal["extensions"]["code"] == "BAD_USER_INPUT"
        assert words in refusal["message"]
