"""Overdue is judged by the municipality's clock and time zone when it is asked: at local
midnight a commitment becomes overdue with nothing written (and not at UTC midnight)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graphql_client import GraphQLClient
from world import HOLD_ASSEMBLY, MAKE, MX, RAISE

from cases.clock import FixedClock

OVERDUE_VIEW = """
query($id: ID!, $case: ID!) {
  commitment(id: $id) { version overdue daysOverdue timeline { type } }
  overdueBoard: commitments(filter: {caseId: $case, overdue: true}) { totalCount }
  onTimeBoard: commitments(filter: {caseId: $case, overdue: false}) { totalCount }
  agencyScorecards { agency { id } overdue }
}
"""


async def a_case(api: GraphQLClient) -> tuple[str, str]:
    """(admin token, case id), after the least directory a commitment needs."""
    admin = api.token("admin.sistema", "admin")
    await api.run(
        'mutation { addTerritory(id: "smt", name: "San Miguel", kind: "colonia") { id } }',
        token=admin,
    )
    await api.run(
        'mutation { addAgency(id: "obras", name: "Obras", level: MUNICIPAL) { id } }', token=admin
    )
    case = await api.run(
        RAISE,
        {
            "input": {
                "territoryId": "smt",
                "theme": "ENVIRONMENT",
                "title": "Tiradero clandestino",
                "description": "En la esquina del mercado.",
            }
        },
        token=admin,
    )
    return admin, case["raiseCase"]["id"]


async def commit(
    api: GraphQLClient, token: str, case_id: str, due: str, agreed: str | None = None
) -> dict[str, Any]:
    # Agreed at the neighbours' assembly.
    assembly = await api.run(
        HOLD_ASSEMBLY,
        {
            "input": {
                "territoryId": "smt",
                "kind": "COMMUNITY_ASSEMBLY",
                "heldOn": "2026-11-10",
                "attendance": 25,
            }
        },
        token=token,
    )
    payload = {
        "caseId": case_id,
        "responsibleAgencyId": "obras",
        "description": "Retirar el tiradero",
        "dueOn": due,
        "assemblyId": assembly["holdAssembly"]["id"],
    }
    if agreed:
        payload["agreedOn"] = agreed
    return (await api.run(MAKE, {"input": payload}, token=token))["makeCommitment"]


async def view(api: GraphQLClient, commitment_id: str, case_id: str) -> dict[str, Any]:
    data = await api.run(OVERDUE_VIEW, {"id": commitment_id, "case": case_id})
    card = next(c for c in data["agencyScorecards"] if c["agency"]["id"] == "obras")
    return {
        "version": data["commitment"]["version"],
        "events": len(data["commitment"]["timeline"]),
        "overdue": data["commitment"]["overdue"],
        "daysOverdue": data["commitment"]["daysOverdue"],
        "onOverdueBoard": data["overdueBoard"]["totalCount"],
        "onOnTimeBoard": data["onTimeBoard"]["totalCount"],
        "scorecardOverdue": card["overdue"],
    }


async def test_commitment_due_today_becomes_overdue_at_local_midnight_without_a_write(
    api: GraphQLClient, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 11, 19, 9, 0, tzinfo=MX))
    token, case_id = await a_case(api)
    due_today = await commit(api, token, case_id, due="2026-11-19")
    assert (due_today["overdue"], due_today["daysOverdue"]) == (False, 0)

    # 23:59 in Mexico City is already 05:59 of the 20th in UTC: still not overdue.
    clock.set(datetime(2026, 11, 19, 23, 59, tzinfo=MX))
    before = await view(api, due_today["id"], case_id)
    assert before == {
        "version": 1,
        "events": 1,
        "overdue": False,
        "daysOverdue": 0,
        "onOverdueBoard": 0,
        "onOnTimeBoard": 1,
        "scorecardOverdue": 0,
    }

    clock.set(datetime(2026, 11, 20, 0, 1, tzinfo=MX))
    after = await view(api, due_today["id"], case_id)
    assert after == {
        **before,
        "overdue": True,
        "daysOverdue": 1,
        "onOverdueBoard": 1,
        "onOnTimeBoard": 0,
        "scorecardOverdue": 1,
    }

    clock.set(datetime(2026, 11, 23, 12, 0, tzinfo=MX))
    assert (await view(api, due_today["id"], case_id))["daysOverdue"] == 4


async def test_commitment_entered_late_with_a_past_due_date_is_overdue_at_once(
    api: GraphQLClient, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 11, 16, 10, 0, tzinfo=MX))
    token, case_id = await a_case(api)
    late = await commit(api, token, case_id, due="2026-11-12", agreed="2026-11-10")
    assert (late["overdue"], late["daysOverdue"]) == (True, 4)
    assert (await view(api, late["id"], case_id))["scorecardOverdue"] == 1
