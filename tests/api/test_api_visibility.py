"""Security-cabinet commitments: seen only by that cabinet's members and cabinet-wide
staff; the public (no token) finds no trace of them on any read path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from world import CABINET, LIGHTING_TABLE, OTHER_CABINET, ROUTE, TRIAGE, World, module_world

world = module_world()

PATROLS = "Patrullajes nocturnos en Camino Real"
LAMPS = "Reparar luminarias de Camino Real"

READS = """
query($case: ID!, $patrols: ID!) {
  board: commitments(filter: {caseId: $case}) { totalCount edges { node { id description } } }
  everything: commitments(first: 500) { totalCount edges { node { id } } }
  atCabinet: commitments(filter: {tableId: "gabinete-teotongo"}) { totalCount }
  casesAtCabinet: cases(filter: {tableId: "gabinete-teotongo"}) {
    totalCount edges { node { id } } }
  patrols: commitment(id: $patrols) { id description table { id kind } }
  case(id: $case) { commitments { id } tables { id } }
  cabinet: table(id: "gabinete-teotongo") { id }
  tables { id }
  agencyScorecards { agency { id } made }
}
"""
BRIEFING = """
query($cabinet: ID!) { cabinetBriefing(cabinetId: $cabinet, since: "2026-11-01T00:00:00-06:00") {
  cabinet { id } dueSoon { id description } overdue { id } newCases { id } } }
"""


@pytest.fixture(scope="module")
async def dark_street(world: World) -> dict[str, Any]:
    """A safety case routed to the cabinet and to a working table, with one commitment at
    each; the only commitment of agency ``ssc`` is the cabinet's."""
    api = world.api
    case = await world.raise_case("Tramo oscuro de Camino Real", theme="SAFETY")
    case = (
        await api.run(
            TRIAGE,
            {"id": case["id"], "v": case["version"], "theme": "SAFETY", "priority": "HIGH"},
            token=world.coordinator,
        )
    )["triageCase"]
    await api.run(
        ROUTE,
        {"id": case["id"], "v": case["version"], "tables": [CABINET, LIGHTING_TABLE]},
        token=world.coordinator,
    )
    patrols = await world.commit(
        case["id"],
        PATROLS,
        agency="ssc",
        post="jefatura-sector-ssc",
        table=CABINET,
        due="2026-11-18",
    )
    lamps = await world.commit(case["id"], LAMPS, table=LIGHTING_TABLE, due="2026-11-20")
    return {"case": case["id"], "patrols": patrols["id"], "lamps": lamps["id"]}


async def reads(world: World, dark_street: dict[str, Any], token: str | None) -> dict[str, Any]:
    response = await world.api.post(
        READS, {"case": dark_street["case"], "patrols": dark_street["patrols"]}, token=token
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body


def ssc_made(data: dict[str, Any]) -> int:
    return sum(c["made"] for c in data["agencyScorecards"] if c["agency"]["id"] == "ssc")


async def test_public_finds_no_trace_of_a_cabinet_commitment(
    world: World, dark_street: dict[str, Any]
) -> None:
    body = await reads(world, dark_street, token=None)
    data = body["data"]
    assert data["board"]["totalCount"] == 1
    assert [e["node"]["id"] for e in data["board"]["edges"]] == [dark_street["lamps"]]
    assert dark_street["patrols"] not in {e["node"]["id"] for e in data["everything"]["edges"]}
    assert data["everything"]["totalCount"] == len(data["everything"]["edges"])
    assert data["atCabinet"]["totalCount"] == 0
    assert data["casesAtCabinet"] == {"totalCount": 0, "edges": []}
    assert data["patrols"] is None
    assert [c["id"] for c in data["case"]["commitments"]] == [dark_street["lamps"]]
    assert [t["id"] for t in data["case"]["tables"]] == [LIGHTING_TABLE]
    assert data["cabinet"] is None
    assert CABINET not in {t["id"] for t in data["tables"]}
    assert ssc_made(data) == 0
    assert PATROLS not in json.dumps(body, ensure_ascii=False)


async def test_cabinet_member_and_cabinet_wide_staff_see_the_cabinet_commitment(
    world: World, dark_street: dict[str, Any]
) -> None:
    for token in (world.cabinet_member, world.secretary, world.coordinator, world.admin):
        data = (await reads(world, dark_street, token))["data"]
        assert data["board"]["totalCount"] == 2
        assert dark_street["patrols"] in {e["node"]["id"] for e in data["everything"]["edges"]}
        assert data["atCabinet"]["totalCount"] == 1
        assert dark_street["case"] in {e["node"]["id"] for e in data["casesAtCabinet"]["edges"]}
        assert data["patrols"] == {
            "id": dark_street["patrols"],
            "description": PATROLS,
            "table": {"id": CABINET, "kind": "SECURITY_CABINET"},
        }
        assert {c["id"] for c in data["case"]["commitments"]} == {
            dark_street["patrols"],
            dark_street["lamps"],
        }
        assert {t["id"] for t in data["case"]["tables"]} == {CABINET, LIGHTING_TABLE}
        assert data["cabinet"] == {"id": CABINET}
        assert ssc_made(data) == 1

    briefing = (await world.api.run(BRIEFING, {"cabinet": CABINET}, token=world.cabinet_member))[
        "cabinetBriefing"
    ]
    assert briefing["cabinet"] == {"id": CABINET}
    assert dark_street["patrols"] in {c["id"] for c in briefing["dueSoon"]}
    assert dark_street["case"] in {c["id"] for c in briefing["newCases"]}


async def test_member_of_another_cabinet_neither_sees_it_nor_reads_this_briefing(
    world: World, dark_street: dict[str, Any]
) -> None:
    data = (await reads(world, dark_street, world.other_cabinet_member))["data"]
    assert data["patrols"] is None
    assert data["casesAtCabinet"] == {"totalCount": 0, "edges": []}
    assert data["board"]["totalCount"] == 1
    assert ssc_made(data) == 0

    response = await world.api.post(
        BRIEFING, {"cabinet": CABINET}, token=world.other_cabinet_member
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert CABINET in body["errors"][0]["message"]
    # Its own cabinet's briefing it may read.
    own = await world.api.run(
        BRIEFING, {"cabinet": OTHER_CABINET}, token=world.other_cabinet_member
    )
    assert own["cabinetBriefing"]["cabinet"] == {"id": OTHER_CABINET}


async def test_public_asking_for_a_cabinet_briefing_is_unauthenticated(
    world: World, dark_street: dict[str, Any]
) -> None:
    response = await world.api.post(BRIEFING, {"cabinet": CABINET})
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert PATROLS not in response.text


async def test_responsible_agency_staff_outside_the_cabinet_cannot_change_it(
    world: World, dark_street: dict[str, Any]
) -> None:
    staff = world.api.token("staff.ssc", "agency_staff", agency="ssc")
    response = await world.api.post(
        """mutation($id: ID!) { reportProgress(commitmentId: $id, expectedVersion: 1,
          progress: 10, note: "Sin ver") { id description } }""",
        {"id": dark_street["patrols"]},
        token=staff,
    )
    body = response.json()
    # As if it did not exist: the same answer as an unknown id.
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["errors"][0]["message"] == (
        f"No commitment with id '{dark_street['patrols']}' exists."
    )
    assert PATROLS not in response.text
    seen = (await reads(world, dark_street, world.secretary))["data"]
    assert seen["patrols"]["id"] == dark_street["patrols"]
    version = await world.api.run(
        "query($id: ID!) { commitment(id: $id) { version progress } }",
        {"id": dark_street["patrols"]},
        token=world.secretary,
    )
    assert version["commitment"] == {"version": 1, "progress": 0}


CASE_TIMELINE = "query($case: ID!) { case(id: $case) { timeline { type summary } } }"


async def routings(
    world: World, case_id: str, token: str | None, language: str = "en"
) -> list[str]:
    response = await world.api.post(
        CASE_TIMELINE, {"case": case_id}, token=token, language=language
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return [e["summary"] for e in body["data"]["case"]["timeline"] if e["type"] == "Routed"]


async def test_case_timeline_counts_only_the_tables_the_reader_may_see(
    world: World, dark_street: dict[str, Any]
) -> None:
    case_id = dark_street["case"]
    assert await routings(world, case_id, token=None) == ["Routed to 1 table"]
    assert await routings(world, case_id, token=None, language="es-MX") == ["Turnado a 1 mesa"]
    assert await routings(world, case_id, token=world.other_cabinet_member) == ["Routed to 1 table"]
    for token in (world.cabinet_member, world.coordinator):
        assert await routings(world, case_id, token=token) == ["Routed to 2 tables"]


async def test_a_routing_only_to_a_hidden_cabinet_leaves_no_trace_in_the_timeline(
    world: World,
) -> None:
    case = await world.routed_safety_case(
        "Asaltos en la parada del Metro", [CABINET], priority="URGENT"
    )
    assert await routings(world, case["id"], token=None) == []
    assert await routings(world, case["id"], token=world.cabinet_member) == ["Routed to 1 table"]
