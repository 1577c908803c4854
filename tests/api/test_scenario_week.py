"""The week in San Miguel Teotongo (shared/scenario.md), played through HTTP GraphQL.

Four kinds of users act with their own tokens: a coordinator, a secretary,
agency staff, and the public with no token at all.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from graphql_client import GraphQLClient

from cases.clock import FixedClock

MX = ZoneInfo("America/Mexico_City")
MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=MX)

COMMITMENT_FIELDS = """
  id version status progress dueOn overdue daysOverdue reschedules disputes
  description responsible { id name level } accountable { name } accountableWhenMade { name }
  table { id kind }
"""

MAKE = f"""
mutation($input: MakeCommitmentInput!) {{ makeCommitment(input: $input) {{ {COMMITMENT_FIELDS} }} }}
"""
PROGRESS = f"""
mutation($id: ID!, $v: Int!, $p: Int!, $note: String!) {{
  reportProgress(commitmentId: $id, expectedVersion: $v, progress: $p, note: $note) {{
    {COMMITMENT_FIELDS} }} }}
"""
COMMITMENT = f"query($id: ID!) {{ commitment(id: $id) {{ {COMMITMENT_FIELDS} }} }}"
RAISE = """
mutation($input: RaiseCaseInput!) { raiseCase(input: $input) { id version status theme } }
"""
TRIAGE = """
mutation($id: ID!, $v: Int!, $theme: Theme!, $priority: Priority!) {
  triageCase(caseId: $id, expectedVersion: $v, theme: $theme, priority: $priority) {
    id version status priority } }
"""
ROUTE = """
mutation($id: ID!, $v: Int!, $tables: [ID!]!) {
  routeCase(caseId: $id, expectedVersion: $v, tableIds: $tables) {
    id version status tables { id } } }
"""


async def set_up_directory(api: GraphQLClient, admin: str) -> None:
    territories = [
        ("iztapalapa", "Iztapalapa", "municipality", None),
        ("dt-teotongo", "Teotongo-Acahualtepec", "territorial directorate", "iztapalapa"),
        ("dt-cabeza-juarez", "Cabeza de Juárez", "territorial directorate", "iztapalapa"),
        ("smt-avisadero", "San Miguel Teotongo Sección Avisadero", "colonia", "dt-teotongo"),
        ("smt-mercado", "San Miguel Teotongo Sección Mercado", "colonia", "dt-teotongo"),
    ]
    for tid, name, kind, parent in territories:
        await api.run(
            "mutation($id: ID, $n: String!, $k: String!, $p: ID) {"
            " addTerritory(id: $id, name: $n, kind: $k, parentId: $p) { id } }",
            {"id": tid, "n": name, "k": kind, "p": parent},
            token=admin,
        )
    agencies = [
        ("planeacion", "Dirección General de Planeación y Participación Ciudadana", "MUNICIPAL"),
        ("servicios-urbanos", "Dirección General de Servicios Urbanos", "MUNICIPAL"),
        ("obras", "Dirección General de Obras", "MUNICIPAL"),
        ("ssc", "Secretaría de Seguridad Ciudadana", "CITY"),
        ("fiscalia", "Fiscalía General de Justicia", "CITY"),
        ("sacmex", "Sistema de Aguas", "CITY"),
        ("guardia-nacional", "Guardia Nacional", "FEDERAL"),
        ("colectivo-smt", "Colectivo de Planeación San Miguel Teotongo", "COMMUNITY"),
    ]
    for aid, name, level in agencies:
        await api.run(
            "mutation($id: ID, $n: String!, $l: GovernmentLevel!) {"
            " addAgency(id: $id, name: $n, level: $l) { id } }",
            {"id": aid, "n": name, "l": level},
            token=admin,
        )
    for pid, title, agency, holder in [
        ("jefatura-alumbrado", "Head of public lighting", "servicios-urbanos", "Jorge Sánchez"),
        ("jefatura-sector-ssc", "SSC sector chief", "ssc", "Martín Ruiz"),
    ]:
        await api.run(
            "mutation($id: ID, $t: String!, $a: ID!) { addPost(id: $id, title: $t, agencyId: $a)"
            " { id } }",
            {"id": pid, "t": title, "a": agency},
            token=admin,
        )
        await api.run(
            "mutation($p: ID!, $n: String!) { appointToPost(postId: $p, officialName: $n)"
            " { holder { name } } }",
            {"p": pid, "n": holder},
            token=admin,
        )


async def test_the_week_in_san_miguel_teotongo(api: GraphQLClient, clock: FixedClock) -> None:
    clock.set(MONDAY)
    coordinator = api.token("rosa.martinez", "coordinator")
    secretary = api.token("secretaria.mesas", "secretary")
    urbanos = api.token("staff.urbanos", "agency_staff", agency="servicios-urbanos")
    obras = api.token("staff.obras", "agency_staff", agency="obras")
    police = api.token(
        "jefe.sector",
        ["agency_staff", "cabinet_member"],
        agency="ssc",
        tables=["gabinete-teotongo"],
    )
    await set_up_directory(api, coordinator)

    tables = {}
    for tid, name, kind, territory, members in [
        (
            "gabinete-teotongo",
            "Gabinete zonal Teotongo-Acahualtepec",
            "SECURITY_CABINET",
            "dt-teotongo",
            ["ssc", "fiscalia", "guardia-nacional"],
        ),
        (
            "mesa-alumbrado",
            "Alumbrado y espacio público",
            "WORKING_TABLE",
            "dt-teotongo",
            ["servicios-urbanos", "obras", "colectivo-smt"],
        ),
        ("mesa-agua", "Mesa técnica de agua", "TECHNICAL_TABLE", "dt-teotongo", ["sacmex"]),
    ]:
        data = await api.run(
            "mutation($input: CreateTableInput!) { createTable(input: $input) { id kind } }",
            {
                "input": {
                    "id": tid,
                    "name": name,
                    "kind": kind,
                    "territoryId": territory,
                    "memberAgencyIds": members,
                }
            },
            token=secretary,
        )
        tables[tid] = data["createTable"]

    # -- Monday: a dialogue for well-being and peace; four problems raised ------------
    assembly = (
        await api.run(
            "mutation($input: HoldAssemblyInput!) { holdAssembly(input: $input) { id attendance } }",
            {
                "input": {
                    "territoryId": "smt-avisadero",
                    "kind": "DIALOGUE_FOR_PEACE",
                    "heldOn": "2026-11-16",
                    "attendance": 64,
                    "facilitator": "Ana Flores",
                }
            },
            token=coordinator,
        )
    )["holdAssembly"]
    assert assembly["attendance"] == 64

    def case_input(theme: str, title: str, reporter: dict | None = None) -> dict:
        payload = {
            "assemblyId": assembly["id"],
            "territoryId": "smt-avisadero",
            "theme": theme,
            "title": title,
            "description": f"{title}. Planteado en el diálogo.",
        }
        if reporter:
            payload["reporter"] = reporter
        return {"input": payload}

    reporter = {"name": "Guadalupe Reyes Tapia", "phone": "55 1234 9876"}
    dark = (
        await api.run(
            RAISE,
            case_input("SAFETY", "Tramo oscuro de Calle Camino Real", reporter),
            token=coordinator,
        )
    )["raiseCase"]
    dump = (
        await api.run(
            RAISE,
            case_input("ENVIRONMENT", "Tiradero clandestino en la esquina del mercado"),
            token=coordinator,
        )
    )["raiseCase"]
    water = (
        await api.run(
            RAISE,
            case_input("WATER", "Sin agua desde hace nueve días en tres calles"),
            token=coordinator,
        )
    )["raiseCase"]
    mural = (
        await api.run(
            RAISE,
            case_input("CULTURE", "Mural comunitario en la barda de la escuela"),
            token=coordinator,
        )
    )["raiseCase"]
    assert dark["status"] == "RAISED" and dark["version"] == 1

    dark = (
        await api.run(
            TRIAGE,
            {"id": dark["id"], "v": 1, "theme": "SAFETY", "priority": "HIGH"},
            token=coordinator,
        )
    )["triageCase"]
    assert dark["status"] == "TRIAGED" and dark["priority"] == "HIGH"
    dark = (
        await api.run(
            ROUTE,
            {
                "id": dark["id"],
                "v": dark["version"],
                "tables": ["gabinete-teotongo", "mesa-alumbrado"],
            },
            token=coordinator,
        )
    )["routeCase"]
    assert dark["status"] == "ROUTED"
    assert {t["id"] for t in dark["tables"]} == {"gabinete-teotongo", "mesa-alumbrado"}
    for case, theme, table in [
        (dump, "ENVIRONMENT", "mesa-alumbrado"),
        (water, "WATER", "mesa-agua"),
    ]:
        triaged = (
            await api.run(
                TRIAGE,
                {"id": case["id"], "v": 1, "theme": theme, "priority": "MEDIUM"},
                token=coordinator,
            )
        )["triageCase"]
        await api.run(
            ROUTE, {"id": case["id"], "v": triaged["version"], "tables": [table]}, token=coordinator
        )
    await api.run(
        TRIAGE,
        {"id": mural["id"], "v": 1, "theme": "CULTURE", "priority": "LOW"},
        token=coordinator,
    )

    # -- Tuesday: the zonal cabinet and the lighting table meet -------------------------
    clock.set(MONDAY + timedelta(days=1))

    def commitment(
        case_id: str, agency: str, text: str, due: str, table: str, post: str | None = None
    ) -> dict:
        payload = {
            "caseId": case_id,
            "responsibleAgencyId": agency,
            "description": text,
            "dueOn": due,
            "tableId": table,
        }
        if post:
            payload["postId"] = post
        return {"input": payload}

    patrols = (
        await api.run(
            MAKE,
            commitment(
                dark["id"],
                "ssc",
                "Patrullajes diarios en Camino Real desde las 20:00",
                "2026-11-19",
                "gabinete-teotongo",
                "jefatura-sector-ssc",
            ),
            token=secretary,
        )
    )["makeCommitment"]
    await api.run(
        MAKE,
        commitment(
            dark["id"],
            "fiscalia",
            "Seguimiento de las dos denuncias",
            "2026-12-01",
            "gabinete-teotongo",
        ),
        token=secretary,
    )
    lamps = (
        await api.run(
            MAKE,
            commitment(
                dark["id"],
                "servicios-urbanos",
                "Reparar 12 luminarias en Camino Real",
                "2026-11-20",
                "mesa-alumbrado",
                "jefatura-alumbrado",
            ),
            token=secretary,
        )
    )["makeCommitment"]
    dump_c = (
        await api.run(
            MAKE,
            commitment(
                dump["id"],
                "obras",
                "Retirar el tiradero clandestino",
                "2026-11-19",
                "mesa-alumbrado",
            ),
            token=secretary,
        )
    )["makeCommitment"]
    cleanup = (
        await api.run(
            MAKE,
            commitment(
                dump["id"],
                "colectivo-smt",
                "Organizar jornada vecinal de limpieza",
                "2026-11-21",
                "mesa-alumbrado",
            ),
            token=secretary,
        )
    )["makeCommitment"]
    assert lamps["status"] == "OPEN" and lamps["accountable"]["name"] == "Jorge Sánchez"
    assert cleanup["responsible"]["level"] == "COMMUNITY"
    assert patrols["table"]["kind"] == "SECURITY_CABINET"

    case_now = await api.run(
        "query($id: ID!) { case(id: $id) { status } }", {"id": dark["id"]}, token=coordinator
    )
    assert case_now["case"]["status"] == "IN_ATTENTION"

    # -- Wednesday: the head of public lighting changes; progress; refusals --------------
    clock.set(MONDAY + timedelta(days=2))
    await api.run(
        'mutation { appointToPost(postId: "jefatura-alumbrado", officialName: "Laura Gómez")'
        " { holder { name } } }",
        token=coordinator,
    )
    lamps = (await api.run(COMMITMENT, {"id": lamps["id"]}))["commitment"]
    assert lamps["accountable"]["name"] == "Laura Gómez"
    assert lamps["accountableWhenMade"]["name"] == "Jorge Sánchez"

    lamps = (
        await api.run(
            PROGRESS,
            {
                "id": lamps["id"],
                "v": lamps["version"],
                "p": 40,
                "note": "5 de 12 luminarias reparadas",
            },
            token=urbanos,
        )
    )["reportProgress"]
    assert (lamps["status"], lamps["progress"]) == ("IN_PROGRESS", 40)

    refused = await api.error(
        PROGRESS,
        {"id": lamps["id"], "v": lamps["version"], "p": 90, "note": "no es nuestra"},
        token=obras,
    )
    assert refused["extensions"]["code"] == "FORBIDDEN"
    stale = await api.error(
        PROGRESS,
        {"id": lamps["id"], "v": 1, "p": 10, "note": "viejo"},
        token=urbanos,
        language="es-MX",
    )
    assert stale["extensions"]["code"] == "CONFLICT"
    assert "versión" in stale["message"]
    lamps_after = (await api.run(COMMITMENT, {"id": lamps["id"]}))["commitment"]
    assert (lamps_after["progress"], lamps_after["version"]) == (40, lamps["version"])

    # -- Thursday: the dump is not cleared; at midnight it is overdue --------------------
    clock.set(datetime(2026, 11, 19, 23, 59, tzinfo=MX))
    assert (await api.run(COMMITMENT, {"id": dump_c["id"]}))["commitment"]["overdue"] is False
    clock.set(datetime(2026, 11, 20, 0, 1, tzinfo=MX))
    dump_c = (await api.run(COMMITMENT, {"id": dump_c["id"]}))["commitment"]
    assert (dump_c["overdue"], dump_c["daysOverdue"]) == (True, 1)

    scorecards = await api.run(
        "{ agencyScorecards { agency { id } made overdue reschedules } }", token=coordinator
    )
    obras_card = next(s for s in scorecards["agencyScorecards"] if s["agency"]["id"] == "obras")
    assert (obras_card["made"], obras_card["overdue"]) == (1, 1)

    briefing = await api.run(
        "query($c: ID!, $s: DateTime!) { cabinetBriefing(cabinetId: $c, since: $s) {"
        " newCases { id } overdue { id accountable { name } } hotSpots { territory { id } cases } } }",
        {"c": "gabinete-teotongo", "s": "2026-11-16T00:00:00-06:00"},
        token=police,
    )
    assert dump_c["id"] in {c["id"] for c in briefing["cabinetBriefing"]["overdue"]}
    assert dark["id"] in {c["id"] for c in briefing["cabinetBriefing"]["newCases"]}

    dump_c = (
        await api.run(
            "mutation($id: ID!, $v: Int!) { rescheduleCommitment(commitmentId: $id, expectedVersion:"
            f' $v, dueOn: "2026-11-23", reason: "Falta de camión") {{ {COMMITMENT_FIELDS} }} }}',
            {"id": dump_c["id"], "v": dump_c["version"]},
            token=obras,
        )
    )["rescheduleCommitment"]
    assert (dump_c["overdue"], dump_c["reschedules"], dump_c["dueOn"]) == (False, 1, "2026-11-23")
    scorecards = await api.run(
        "{ agencyScorecards { agency { id } reschedules overdue } }", token=coordinator
    )
    obras_card = next(s for s in scorecards["agencyScorecards"] if s["agency"]["id"] == "obras")
    assert (obras_card["reschedules"], obras_card["overdue"]) == (1, 0)

    # -- Friday: lamps fulfilled; patrols reported; water truck agreed -------------------
    clock.set(datetime(2026, 11, 20, 12, 0, tzinfo=MX))
    lamps = (
        await api.run(
            "mutation($id: ID!, $v: Int!) { reportFulfilment(commitmentId: $id, expectedVersion: $v,"
            f' evidence: "https://fotos.example/lamparas.jpg") {{ {COMMITMENT_FIELDS} }} }}',
            {"id": lamps["id"], "v": lamps["version"]},
            token=urbanos,
        )
    )["reportFulfilment"]
    assert (lamps["status"], lamps["progress"]) == ("FULFILLED", 100)
    patrols = (
        await api.run(
            "mutation($id: ID!, $v: Int!) { reportFulfilment(commitmentId: $id, expectedVersion: $v,"
            f' evidence: "Bitácora de patrullajes") {{ {COMMITMENT_FIELDS} }} }}',
            {"id": patrols["id"], "v": patrols["version"]},
            token=police,
        )
    )["reportFulfilment"]
    await api.run(
        MAKE,
        commitment(
            water["id"], "sacmex", "Pipa de agua dos veces por semana", "2026-12-20", "mesa-agua"
        ),
        token=secretary,
    )

    # -- Saturday: the assembly validates the lamps and disputes the patrols -------------
    clock.set(datetime(2026, 11, 21, 11, 0, tzinfo=MX))
    saturday = (
        await api.run(
            "mutation($input: HoldAssemblyInput!) { holdAssembly(input: $input) { id } }",
            {
                "input": {
                    "territoryId": "smt-avisadero",
                    "kind": "COMMUNITY_ASSEMBLY",
                    "heldOn": "2026-11-21",
                    "attendance": 48,
                }
            },
            token=coordinator,
        )
    )["holdAssembly"]
    lamps = (
        await api.run(
            "mutation($id: ID!, $v: Int!, $a: ID!) { validateFulfilment(commitmentId: $id,"
            f" expectedVersion: $v, assemblyId: $a) {{ {COMMITMENT_FIELDS} }} }}",
            {"id": lamps["id"], "v": lamps["version"], "a": saturday["id"]},
            token=coordinator,
        )
    )["validateFulfilment"]
    assert lamps["status"] == "VALIDATED"
    patrols = (
        await api.run(
            "mutation($id: ID!, $v: Int!, $a: ID!) { disputeFulfilment(commitmentId: $id,"
            f' expectedVersion: $v, assemblyId: $a, reason: "Solo se vieron dos veces")'
            f" {{ {COMMITMENT_FIELDS} }} }}",
            {"id": patrols["id"], "v": patrols["version"], "a": saturday["id"]},
            token=coordinator,
        )
    )["disputeFulfilment"]
    assert (patrols["status"], patrols["disputes"]) == ("IN_PROGRESS", 1)

    # The public board for the neighbourhood: status and who is accountable, no contact.
    response = await api.post(
        "query($t: ID!) { commitments(filter: {territoryId: $t}) { totalCount edges { node {"
        " description status accountable { name } responsible { name } } } }"
        " cases(filter: {territoryId: $t}) { edges { node { id title tables { id }"
        " timeline { type summary actor } } } } }",
        {"t": "smt-avisadero"},
    )
    body = response.json()
    assert not body.get("errors"), body
    board = body["data"]["commitments"]
    statuses = {e["node"]["description"]: e["node"]["status"] for e in board["edges"]}
    assert statuses["Reparar 12 luminarias en Camino Real"] == "VALIDATED"
    assert "Patrullajes diarios en Camino Real desde las 20:00" not in statuses  # cabinet-only
    assert board["totalCount"] == len(board["edges"]) == 4
    text = json.dumps(body, ensure_ascii=False)
    assert "Guadalupe" not in text and "9876" not in text
    public_tables = {t["id"] for e in body["data"]["cases"]["edges"] for t in e["node"]["tables"]}
    assert "gabinete-teotongo" not in public_tables
    assert all(
        entry["actor"] is None
        for e in body["data"]["cases"]["edges"]
        for entry in e["node"]["timeline"]
    )
