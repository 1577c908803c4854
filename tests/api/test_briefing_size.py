"""A cabinet briefing can be asked for its first N of each list, with every list's size:
a borough-wide cabinet's full briefing runs to megabytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from world import CABINET, MX, ROUTE, TRIAGE, World, module_world

world = module_world()

BRIEFING = """
query($cabinet: ID!, $first: Int) {
  cabinetBriefing(cabinetId: $cabinet, since: "2026-11-01T00:00:00-06:00", first: $first) {
    newCases { id } dueSoon { id dueOn } overdue { id dueOn }
    newCasesCount dueSoonCount overdueCount
  }
}
"""


@pytest.fixture(scope="module")
async def busy_week(world: World) -> None:
    """Four safety cases at the cabinet, each with a commitment there; on Friday two of
    them are overdue and two due soon."""
    for n, due in enumerate(["2026-11-17", "2026-11-18", "2026-11-21", "2026-11-22"]):
        case = await world.routed_safety_case(f"Robo en la calle {n}", [CABINET])
        await world.commit(
            case["id"],
            f"Patrullaje {n}",
            agency="ssc",
            post="jefatura-sector-ssc",
            table=CABINET,
            due=due,
        )
    assert world.clock is not None
    world.clock.set(datetime(2026, 11, 20, 9, 0, tzinfo=MX))


async def briefing(world: World, first: int | None) -> dict[str, Any]:
    data = await world.api.run(
        BRIEFING, {"cabinet": CABINET, "first": first}, token=world.cabinet_member
    )
    return data["cabinetBriefing"]


async def test_a_briefing_asked_for_its_first_n_gives_the_head_of_each_list_and_every_count(
    world: World, busy_week: None
) -> None:
    whole = await briefing(world, None)
    assert (whole["newCasesCount"], whole["dueSoonCount"], whole["overdueCount"]) == (
        len(whole["newCases"]),
        len(whole["dueSoon"]),
        len(whole["overdue"]),
    )
    assert whole["newCasesCount"] >= 4
    assert (whole["dueSoonCount"], whole["overdueCount"]) == (2, 2)

    head = await briefing(world, 1)
    assert head["newCases"] == whole["newCases"][:1]  # the newest
    assert head["dueSoon"] == whole["dueSoon"][:1]  # the soonest due
    assert head["overdue"] == whole["overdue"][:1]  # the longest overdue
    assert head["overdue"][0]["dueOn"] == "2026-11-17"
    assert (head["newCasesCount"], head["dueSoonCount"], head["overdueCount"]) == (
        whole["newCasesCount"],
        2,
        2,
    )

    assert await briefing(world, 500) == whole


@pytest.mark.parametrize("first", [0, -1, 501])
async def test_a_briefing_size_out_of_range_is_refused_in_the_callers_language(
    world: World, busy_week: None, first: int
) -> None:
    for language, words in (("es-MX", "debe estar entre 1 y 500"), ("en", "between 1 and 500")):
        response = await world.api.post(
            BRIEFING,
            {"cabinet": CABINET, "first": first},
            token=world.cabinet_member,
            language=language,
        )
        body = response.json()
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert words in error["message"] and str(first) in error["message"]


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_briefing_since_the_ends_of_the_calendar_is_bad_input(
    world: World, since: str
) -> None:
    response = await world.api.post(
        """query($cabinet: ID!, $since: DateTime!) {
          cabinetBriefing(cabinetId: $cabinet, since: $since) { newCasesCount } }""",
        {"cabinet": CABINET, "since": since},
        token=world.cabinet_member,
        language="es-MX",
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "'since' debe estar entre los años 1900 y 9000" in error["message"]


async def test_a_zonal_briefing_includes_what_was_brought_to_the_cabinet_from_elsewhere(
    world: World, busy_week: None
) -> None:
    # A robbery in Cabeza de Juárez (the other cabinet's zone), brought to this cabinet,
    # with a patrol agreed there, due in two days: its members must hear of both.
    before = await briefing(world, None)
    case = await world.raise_case(
        "Asalto en la parada del Metro", theme="SAFETY", territory="dt-cabeza"
    )
    case = (
        await world.api.run(
            TRIAGE,
            {"id": case["id"], "v": case["version"], "theme": "SAFETY", "priority": "HIGH"},
            token=world.coordinator,
        )
    )["triageCase"]
    await world.api.run(
        ROUTE,
        {"id": case["id"], "v": case["version"], "tables": [CABINET]},
        token=world.coordinator,
    )
    patrol = await world.commit(
        case["id"], "Patrullaje en la parada", agency="ssc", table=CABINET, due="2026-11-22"
    )

    after = await briefing(world, None)
    assert after["newCasesCount"] == before["newCasesCount"] + 1
    assert case["id"] in [c["id"] for c in after["newCases"]]
    assert after["dueSoonCount"] == before["dueSoonCount"] + 1
    assert patrol["id"] in [c["id"] for c in after["dueSoon"]]
