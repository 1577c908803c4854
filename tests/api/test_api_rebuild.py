"""Read models are disposable: dropped and rebuilt from the event store, every answer the
API gives is byte for byte what it gave before."""

from __future__ import annotations

import json
from datetime import datetime

from anyio import to_thread
from world import (
    CABINET,
    CANCEL,
    FULFIL,
    HOLD_ASSEMBLY,
    LIGHTING_TABLE,
    MX,
    PROGRESS,
    RESCHEDULE,
    ROUTE,
    TRIAGE,
    VALIDATE,
    World,
    module_world,
)

from projections.runtime import ProjectionService, rebuild
from tequio.application import library_env

world = module_world()

TIMELINE = "timeline { at type summary actor }"
CASE_DETAIL = f"""
  id version title description theme priority status raisedAt
  territory {{ id name kind parent {{ id name }} }} assembly {{ id kind heldOn attendance }}
  tables {{ id name kind members {{ id }} }} commitments {{ id status }} {TIMELINE}
"""
COMMITMENT_DETAIL = f"""
  id version description status progress dueOn overdue daysOverdue reschedules madeAt
  responsible {{ id name level }} accountable {{ id name }} accountableWhenMade {{ id name }}
  post {{ id title holder {{ name }} agency {{ id }} }} table {{ id name kind }}
  case {{ id status }} {TIMELINE}
"""
QUERIES = {
    "cases": f"{{ cases(first: 100) {{ totalCount pageInfo {{ hasNextPage endCursor }}"
    f" edges {{ cursor node {{ {CASE_DETAIL} }} }} }} }}",
    "board": f"{{ commitments(first: 100) {{ totalCount pageInfo {{ hasNextPage endCursor }}"
    f" edges {{ cursor node {{ {COMMITMENT_DETAIL} }} }} }} }}",
    "overdue": "{ commitments(filter: {overdue: true}) { totalCount edges { node { id } } } }",
    "scorecards": "{ agencyScorecards { agency { id name } made fulfilled validated onTime"
    " overdue reschedules medianDaysToFulfil } }",
    "territoryScorecards": '{ agencyScorecards(territoryId: "dt-teotongo") { agency { id }'
    " made overdue } }",
    "tables": "{ tables { id name kind territory { id } members { id name level } } }",
    "directory": "{ territories { id name kind parent { id } } agencies { id name level } }",
    "search": '{ cases(filter: {search: "luminarias"}) { totalCount edges { node { id } } } }',
}


async def capture(world: World, case_id: str) -> dict[str, bytes]:
    """The raw HTTP bodies of the queries, for the public, staff, and a cabinet member."""
    api = world.api
    bodies: dict[str, bytes] = {}
    for who, token in [
        ("public", None),
        ("admin", world.admin),
        ("cabinet", world.cabinet_member),
    ]:
        for name, query in QUERIES.items():
            response = await api.post(query, token=token)
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            bodies[f"{who}:{name}"] = response.content
        response = await api.post(
            f"query($id: ID!) {{ case(id: $id) {{ {CASE_DETAIL} }} }}",
            {"id": case_id},
            token=token,
            language="es-MX",
        )
        bodies[f"{who}:case-es"] = response.content
    response = await api.post(
        'query($c: ID!) { cabinetBriefing(cabinetId: $c, since: "2026-11-01T00:00:00-06:00") {'
        f" since newCases {{ id }} dueSoon {{ {COMMITMENT_DETAIL} }} overdue {{ id }}"
        " hotSpots { territory { id } cases } } }",
        {"c": CABINET},
        token=world.cabinet_member,
    )
    assert "errors" not in response.json(), response.text
    bodies["cabinet:briefing"] = response.content
    return bodies


async def a_week_of_work(world: World) -> str:
    """Cases and commitments in every state; returns the main case's id."""
    api = world.api
    clock = world.clock
    assert clock is not None
    dark = await world.raise_case("Luminarias fundidas y tramo oscuro", theme="SAFETY")
    dark = (
        await api.run(
            TRIAGE,
            {"id": dark["id"], "v": 1, "theme": "SAFETY", "priority": "HIGH"},
            token=world.coordinator,
        )
    )["triageCase"]
    await api.run(
        ROUTE,
        {"id": dark["id"], "v": dark["version"], "tables": [CABINET, LIGHTING_TABLE]},
        token=world.coordinator,
    )
    dump = await world.raise_case(
        "Tiradero clandestino", theme="ENVIRONMENT", territory="smt-mercado"
    )
    await world.raise_case("Mural en la escuela", theme="CULTURE", territory="dt-cabeza")

    patrols = await world.commit(
        dark["id"],
        "Patrullajes",
        agency="ssc",
        post="jefatura-sector-ssc",
        table=CABINET,
        due="2026-11-18",
    )
    lamps = await world.commit(dark["id"], "Reparar luminarias", post="jefatura-alumbrado")
    removal = await world.commit(
        dump["id"], "Retirar el tiradero", agency="obras", due="2026-11-17"
    )
    signs = await world.commit(dump["id"], "Poner letreros", agency="obras", table=None)
    fence = await world.commit(dump["id"], "Cercar el predio", agency="obras")

    clock.set(datetime(2026, 11, 18, 9, 0, tzinfo=MX))
    # The neighbours meet that evening to judge the week's work.
    review = {
        "territoryId": "smt-avisadero",
        "kind": "COMMUNITY_ASSEMBLY",
        "heldOn": "2026-11-18",
        "attendance": 25,
    }
    evening = (await api.run(HOLD_ASSEMBLY, {"input": review}, token=world.coordinator))[
        "holdAssembly"
    ]["id"]
    await api.run(
        'mutation { appointToPost(postId: "jefatura-alumbrado", officialName: "Laura Gómez")'
        " { id } }",
        token=world.coordinator,
    )
    lamps = (
        await api.run(
            PROGRESS, {"id": lamps["id"], "v": 1, "p": 40, "note": "5 de 12"}, token=world.urbanos
        )
    )["reportProgress"]
    lamps = (
        await api.run(FULFIL, {"id": lamps["id"], "v": 2, "evidence": "Fotos"}, token=world.urbanos)
    )["reportFulfilment"]
    await api.run(VALIDATE, {"id": lamps["id"], "v": 3, "a": evening}, token=world.coordinator)
    await api.run(
        RESCHEDULE,
        {"id": signs["id"], "v": 1, "due": "2026-12-15", "reason": "Sin material"},
        token=world.secretary,
    )
    await api.run(
        CANCEL, {"id": fence["id"], "v": 1, "reason": "Ya no hace falta"}, token=world.secretary
    )
    await api.run(
        FULFIL, {"id": patrols["id"], "v": 1, "evidence": "Bitácora"}, token=world.secretary
    )
    await api.run(
        """mutation($id: ID!, $a: ID!) { disputeFulfilment(commitmentId: $id, expectedVersion: 2,
          assemblyId: $a, reason: "Solo dos noches") { id } }""",
        {"id": patrols["id"], "a": evening},
        token=world.coordinator,
    )
    assert removal["status"] == "OPEN"  # due the 17th: overdue by now
    clock.set(datetime(2026, 11, 20, 12, 0, tzinfo=MX))
    return dark["id"]


async def test_rebuilding_every_read_model_gives_byte_identical_answers(world: World) -> None:
    assert world.app is not None
    case_id = await a_week_of_work(world)
    before = await capture(world, case_id)
    # The removal (due the 17th) and the disputed patrols (due the 18th) are overdue.
    assert json.loads(before["admin:overdue"])["data"]["commitments"]["totalCount"] == 2
    assert json.loads(before["public:overdue"])["data"]["commitments"]["totalCount"] == 1
    assert b"VALIDATED" in before["admin:board"] and b"CANCELLED" in before["admin:board"]

    runtime = world.app.state.runtime
    settings = runtime.settings
    env = library_env(settings, runtime.database.info)
    running = runtime.projections
    head = await to_thread.run_sync(runtime.application.current_position)
    await to_thread.run_sync(running.stop)
    fresh = ProjectionService(env)
    try:
        replayed = await to_thread.run_sync(lambda: rebuild(env))
        assert replayed == head > 0
        await to_thread.run_sync(fresh.start)
        runtime.projections = fresh

        after = await capture(world, case_id)
        assert after.keys() == before.keys()
        for name in before:
            assert after[name] == before[name], name

        # And the rebuilt models keep up with new writes (read your writes still holds).
        response = await world.api.post(
            "query($id: ID!) { case(id: $id) { version } }", {"id": case_id}
        )
        version = response.json()["data"]["case"]["version"]
        resolved = await world.api.post(
            "mutation($id: ID!, $v: Int!) { resolveCase(caseId: $id, expectedVersion: $v,"
            ' summary: "Atendido") { status version } }',
            {"id": case_id, "v": version},
            token=world.coordinator,
        )
        body = resolved.json()
        assert "errors" not in body and "extensions" not in body, body
        assert body["data"]["resolveCase"] == {"status": "RESOLVED", "version": version + 1}
    finally:
        await to_thread.run_sync(fresh.stop)
        runtime.projections = running
