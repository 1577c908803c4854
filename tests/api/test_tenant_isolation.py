"""Two municipalities on one database: each server serves only its own.

Two apps (``create_app``) share one PostgreSQL database, one for municipality A and one
for B, with the same public ids for their territories, agencies, posts and tables (as
two municipalities loading the same catalogue would). B writes; then every kind of A
caller, whatever ids it sends (B's public ids, B's aggregate UUIDs, B's cursors), reads
nothing of B and changes nothing of B, and a token minted for one municipality is
refused by the other's server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from access_support import PROFILES, fresh_database, profile_tokens, serve_app, settings_for
from anyio import to_thread
from graphql_client import GraphQLClient
from world import (
    CABINET,
    MONDAY,
    RAISE,
    ROUTE,
    TRIAGE,
    World,
)

from cases.application import CommandContext
from cases.case import Case
from cases.clock import FixedClock
from cases.commitment import Commitment
from cases.values import AssemblyKind, GovernmentLevel
from tequio.database import ConnectionInfo

A = "iztapalapa"
B = "tlalpan"

# Objects only B has, named so that any trace of them in A's answers is unmistakable.
B_TERRITORY = "colonia-solo-tlalpan"
B_AGENCY = "agencia-solo-tlalpan"
B_POST = "puesto-solo-tlalpan"
B_TABLE = "mesa-solo-tlalpan"
B_CASE_TITLE = "Deslave en la ladera de Tlalpan"
B_WORK = "Muro de contención de Tlalpan"
B_PATROLS = "Rondines del gabinete de Tlalpan"
B_REPORTER = {"name": "Teodora Tlalpense", "phone": "5598765432", "email": "teodora@tlalpan.mx"}
# B's own names for objects whose ids A uses too.
B_AVISADERO = "Avisadero de Tlalpan"
B_URBANOS = "Servicios Urbanos de Tlalpan"
B_LIGHTING_HEAD = "Lucía Tlalpense"
B_ROBBERIES = "Asaltos en el Avisadero de Tlalpan"
B_OPERATION = "Operativo en el Avisadero de Tlalpan"
B_HOOK = "http://127.0.0.1:9/receptor-de-tlalpan"
B_ASSEMBLY_CASE = "Caso de la asamblea de Tlalpan"
QUIET_EVENT_TYPE = "mx.tequio.table.members_changed.v1"
B_SECRETS = (
    B_TERRITORY,
    "Colonia solo de Tlalpan",
    B_AGENCY,
    "Agencia solo de Tlalpan",
    B_POST,
    B_TABLE,
    "Mesa solo de Tlalpan",
    B_CASE_TITLE,
    B_WORK,
    B_PATROLS,
    "Arturo Tlalpense",
    *B_REPORTER.values(),
    B_AVISADERO,
    B_URBANOS,
    B_LIGHTING_HEAD,
    B_ROBBERIES,
    B_OPERATION,
    B_HOOK,
    B_ASSEMBLY_CASE,
)


@dataclass
class Side:
    """One municipality's server, its world, and what it wrote."""

    municipality: str
    api: GraphQLClient
    world: World
    runtime: Any
    tokens: dict[str, str | None]
    webhooks: Any
    cases: list[str] = field(default_factory=list)
    commitments: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    async def position(self) -> int:
        return await to_thread.run_sync(self.runtime.application.current_position)


@dataclass
class Tenants:
    a: Side
    b: Side


CASES_PAGE = """
query($after: String) { cases(first: 1, after: $after) {
  pageInfo { endCursor } edges { cursor node { id title } } } }
"""
COMMITMENTS_PAGE = """
query($after: String) { commitments(first: 1, after: $after) {
  pageInfo { endCursor } edges { cursor node { id description } } } }
"""


async def write_a(side: Side) -> None:
    """A's own little story: one routed case with one commitment."""
    w = side.world
    case = await w.raise_case("Luminarias en Iztapalapa", theme="SAFETY")
    side.cases.append(case["id"])
    lamps = await w.commit(case["id"], "Cambiar luminarias de Iztapalapa", due="2026-11-18")
    side.commitments.append(lamps["id"])


async def write_b(side: Side) -> None:
    """B's story: B-only directory entries, B's own names and members for ids A uses too,
    a case with a reporter routed to B's cabinet and to a working table with commitments,
    progress and a session, and a safety case in a territory whose id A uses too."""
    api, w = side.api, side.world

    def rename(app: Any) -> None:
        ctx = CommandContext(actor="admin.tlalpan", municipality=B)
        app.update_territory(
            ctx,
            territory_id="smt-avisadero",
            name=B_AVISADERO,
            kind="colonia",
            parent_id="dt-teotongo",
        )
        app.update_agency(
            ctx, agency_id="servicios-urbanos", name=B_URBANOS, level=GovernmentLevel.MUNICIPAL
        )

    await to_thread.run_sync(rename, side.runtime.application)
    await api.run(
        f'mutation {{ appointToPost(postId: "jefatura-alumbrado", officialName: "{B_LIGHTING_HEAD}")'
        " { id } }",
        token=w.admin,
    )
    await api.run(
        f'mutation {{ addTerritory(id: "{B_TERRITORY}", name: "Colonia solo de Tlalpan",'
        ' kind: "colonia", parentId: "dt-teotongo") { id } }',
        token=w.admin,
    )
    await api.run(
        f'mutation {{ addAgency(id: "{B_AGENCY}", name: "Agencia solo de Tlalpan",'
        " level: MUNICIPAL) { id } }",
        token=w.admin,
    )
    await api.run(
        f'mutation {{ addPost(id: "{B_POST}", title: "Jefatura de Tlalpan",'
        f' agencyId: "{B_AGENCY}") {{ id }} }}',
        token=w.admin,
    )
    await api.run(
        f'mutation {{ appointToPost(postId: "{B_POST}", officialName: "Arturo Tlalpense")'
        " { id } }",
        token=w.admin,
    )
    await to_thread.run_sync(
        lambda: side.runtime.application.change_table_members(
            CommandContext(actor="secretaria.tlalpan", municipality=B),
            table_id=CABINET,
            member_agency_ids=["ssc", B_AGENCY],
        )
    )
    await api.run(
        "mutation($input: CreateTableInput!) { createTable(input: $input) { id } }",
        {
            "input": {
                "id": B_TABLE,
                "name": "Mesa solo de Tlalpan",
                "kind": "WORKING_TABLE",
                "territoryId": B_TERRITORY,
                "memberAgencyIds": [B_AGENCY],
            }
        },
        token=w.secretary,
    )
    raised = (
        await api.run(
            RAISE,
            {
                "input": {
                    "territoryId": B_TERRITORY,
                    "theme": "SAFETY",
                    "title": B_CASE_TITLE,
                    "description": "La ladera se desliza tras las lluvias.",
                    "assemblyId": w.assembly_id,
                    "reporter": B_REPORTER,
                }
            },
            token=w.coordinator,
        )
    )["raiseCase"]
    triaged = (
        await api.run(
            TRIAGE,
            {"id": raised["id"], "v": raised["version"], "theme": "SAFETY", "priority": "URGENT"},
            token=w.coordinator,
        )
    )["triageCase"]
    await api.run(
        ROUTE,
        {"id": raised["id"], "v": triaged["version"], "tables": [CABINET, B_TABLE]},
        token=w.coordinator,
    )
    work = await w.commit(raised["id"], B_WORK, agency=B_AGENCY, table=B_TABLE, post=B_POST)
    patrols = await w.commit(raised["id"], B_PATROLS, agency="ssc", table=CABINET, due="2026-11-17")
    await api.run(
        """mutation($id: ID!) { reportProgress(commitmentId: $id, expectedVersion: 1,
          progress: 30, note: "Avance en Tlalpan") { id } }""",
        {"id": work["id"]},
        token=w.secretary,
    )
    # A lamp commitment of B's own "servicios-urbanos": the same agency id as A's.
    lamps = await w.commit(raised["id"], "Luminarias de la ladera de Tlalpan", due="2026-11-17")
    await api.run(
        """mutation($input: HoldSessionInput!) { holdSession(input: $input) { id } }""",
        {"input": {"tableId": B_TABLE, "heldOn": "2026-11-16", "attendingAgencyIds": [B_AGENCY]}},
        token=w.secretary,
    )
    robberies = await w.raise_case(B_ROBBERIES, theme="SAFETY")
    operation = await w.commit(
        robberies["id"], B_OPERATION, agency="ssc", table=CABINET, due="2026-11-17"
    )
    side.cases += [raised["id"], robberies["id"]]
    side.commitments += [work["id"], patrols["id"], lamps["id"], operation["id"]]
    side.ids.update(
        case=raised["id"],
        work=work["id"],
        patrols=patrols["id"],
        lamps=lamps["id"],
        assembly=str(w.assembly_id),
        case_uuid=str(Case.id_for(B, raised["id"])),
        work_uuid=str(Commitment.id_for(B, work["id"])),
        cases_cursor=(await api.run(CASES_PAGE))["cases"]["pageInfo"]["endCursor"],
        commitments_cursor=(await api.run(COMMITMENTS_PAGE, token=w.admin))["commitments"][
            "pageInfo"
        ]["endCursor"],
    )


async def assembly_with_the_id_of_a(side: Side, assembly_id: str) -> None:
    """B holds an assembly with the id of one of A's (ids may come from a shared
    catalogue or an import) and raises a case at it."""
    await to_thread.run_sync(
        lambda: side.runtime.application.hold_assembly(
            CommandContext(actor="coordinadora.tlalpan", municipality=B),
            territory_id="smt-avisadero",
            kind=AssemblyKind.COMMUNITY_ASSEMBLY,
            held_on=MONDAY.date(),
            attendance=12,
            assembly_id=assembly_id,
        )
    )
    payload = {
        "territoryId": "smt-avisadero",
        "theme": "PARTICIPATION",
        "title": B_ASSEMBLY_CASE,
        "description": "Planteado en la asamblea de Tlalpan.",
        "assemblyId": assembly_id,
    }
    raised = (await side.api.run(RAISE, {"input": payload}, token=side.world.coordinator))[
        "raiseCase"
    ]
    side.cases.append(raised["id"])
    side.ids["shared_assembly"] = assembly_id


async def hook_b(side: Side) -> None:
    """A webhook subscription of B, with a delivery the dispatcher gave up on, and the
    cursor of B's event feed."""
    pool = side.runtime.pool
    async with pool.acquire() as conn, conn.transaction():
        row, _ = await side.webhooks.create(
            conn, B, "admin.tlalpan", url=B_HOOK, event_types=[QUIET_EVENT_TYPE], description=None
        )
    delivery = await pool.fetchval(
        "INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, subject,"
        " position, body, status, attempts, created_at, give_up_after, dead_lettered_at)"
        " VALUES ($1, 'evento-de-tlalpan', $2, 'table/mesa-solo-tlalpan', 0, '{}'::bytea,"
        " 'DEAD_LETTERED', 5, now(), now(), now()) RETURNING id",
        row["id"],
        QUIET_EVENT_TYPE,
    )
    feed = await side.api.http.get(
        "/events",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {side.tokens['integration']}"},
    )
    assert feed.status_code == 200, feed.text
    async with pool.acquire() as conn, conn.transaction():
        raised, _ = await side.webhooks.create(
            conn,
            B,
            "admin.tlalpan",
            url=f"{B_HOOK}/casos",
            event_types=["mx.tequio.case.raised.v1"],
            description=None,
        )
    side.ids.update(
        webhook=str(row["id"]),
        delivery=str(delivery),
        raised_webhook=str(raised["id"]),
        feed_cursor=feed.json()["cursor"],
    )


@pytest.fixture(scope="module")
async def tenants(server_info: ConnectionInfo) -> AsyncIterator[Tenants]:
    clock = FixedClock(MONDAY)
    with fresh_database(server_info, "tenants") as info:
        async with (
            serve_app(settings_for(info, A), clock) as (app_a, api_a),
            # B's server leaves the read models (of both municipalities) to A's.
            serve_app(settings_for(info, B), clock, run_projections=False) as (app_b, api_b),
        ):
            sides = []
            for municipality, app, api in [(A, app_a, api_a), (B, app_b, api_b)]:
                world = await World(api).set_up()
                runtime = app.state.runtime
                sides.append(
                    Side(municipality, api, world, runtime, profile_tokens(api), app.state.webhooks)
                )
            a, b = sides
            await write_a(a)
            await write_b(b)
            await assembly_with_the_id_of_a(b, str(a.world.assembly_id))
            await hook_b(b)
            # A's own case, for the calls that mix it with B's objects.
            b.ids["a_case"] = a.cases[0]
            b.ids["a_case_version"] = str((await a.world.case(a.cases[0]))["version"])
            yield Tenants(a, b)


# -- tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["b_token_on_a", "a_token_on_b"])
async def test_a_token_of_the_other_municipality_gets_401(tenants: Tenants, direction: str) -> None:
    issuer, server = (
        (tenants.b, tenants.a) if direction == "b_token_on_a" else (tenants.a, tenants.b)
    )
    before = await server.position()
    for profile in PROFILES:
        token = issuer.tokens[profile]
        if token is None:
            continue
        for document, variables in [
            ("{ cases { totalCount } }", None),
            (
                RAISE,
                {
                    "input": {
                        "territoryId": "smt-avisadero",
                        "theme": "SAFETY",
                        "title": "Con token ajeno",
                        "description": "No debe entrar.",
                    }
                },
            ),
        ]:
            response = await server.api.post(document, variables, token=token)
            body = response.json()
            assert response.status_code == 401, (profile, body)
            assert body["data"] is None
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await server.position() == before
    # The same caller, with a token of the server's own municipality, is let in.
    own = await server.api.run("{ cases { totalCount } }", token=server.tokens["admin"])
    assert own["cases"]["totalCount"] == len(server.cases)


# -- reads -------------------------------------------------------------------------------------

PROBE = """
query($case: ID!, $caseUuid: ID!, $work: ID!, $patrols: ID!, $workUuid: ID!, $assembly: ID!,
      $table: ID!, $post: ID!, $territory: ID!, $agency: ID!, $aCase: ID!,
      $sharedAssembly: ID!) {
  case(id: $case) { id title }
  caseByUuid: case(id: $caseUuid) { id }
  work: commitment(id: $work) { id description }
  patrols: commitment(id: $patrols) { id description }
  workByUuid: commitment(id: $workUuid) { id }
  assembly(id: $assembly) { id cases { id } }
  table(id: $table) { id name }
  tableAgenda(tableId: $table) { table { id } openCases { id } }
  post(id: $post) { id holder { name } }
  byCase: commitments(filter: {caseId: $case}) { totalCount edges { node { id } } }
  byTable: cases(filter: {tableId: $table}) { totalCount }
  byTerritory: cases(filter: {territoryId: $territory}) { totalCount }
  byAgency: commitments(filter: {agencyId: $agency}) { totalCount }
  searched: cases(filter: {search: "Tlalpan ladera"}) { totalCount }
  scopedScorecards: agencyScorecards(territoryId: $territory) { agency { id } made }
  cases(first: 500) { totalCount edges { node { id title } } }
  commitments(first: 500) { totalCount edges { node { id description } } }
  territories { id name }
  agencies { id name }
  tables { id name }
  agencyScorecards { agency { id name } made }
  # Ids both municipalities use: every answer must come from the caller's own.
  sharedTerritoryCases: cases(filter: {territoryId: "dt-teotongo"}) { edges { node { id } } }
  sharedTerritoryCommitments: commitments(filter: {territoryId: "dt-teotongo"}) {
    edges { node { id } } }
  sharedCabinetCases: cases(filter: {tableId: "gabinete-teotongo"}) { edges { node { id } } }
  sharedCabinetCommitments: commitments(filter: {tableId: "gabinete-teotongo"}) {
    edges { node { id } } }
  sharedAgencyCommitments: commitments(filter: {agencyId: "ssc"}) { edges { node { id } } }
  sharedAgenda: tableAgenda(tableId: "gabinete-teotongo") {
    openCases { id } dueCommitments { id } overdueCommitments { id } }
  sharedScorecards: agencyScorecards(territoryId: "dt-teotongo") { agency { id } made }
  sharedAssembly: assembly(id: $sharedAssembly) { cases { id title } }
  sharedPost: post(id: "jefatura-alumbrado") { title agency { name } holder { name } }
  sharedTable: table(id: "gabinete-teotongo") { members { id name } territory { name } }
  ownCase: case(id: $aCase) {
    territory { name parent { name } } timeline { summary actor }
    commitments { responsible { name } timeline { summary } } }
}
"""


def probe_variables(b: Side) -> dict[str, Any]:
    return {
        "case": b.ids["case"],
        "caseUuid": b.ids["case_uuid"],
        "work": b.ids["work"],
        "patrols": b.ids["patrols"],
        "workUuid": b.ids["work_uuid"],
        "assembly": b.ids["assembly"],
        "table": B_TABLE,
        "post": B_POST,
        "territory": B_TERRITORY,
        "agency": B_AGENCY,
        "aCase": b.ids["a_case"],
        "sharedAssembly": b.ids["shared_assembly"],
    }


def assert_no_trace_of_b(text: str, b: Side, *, sent: Any = None) -> None:
    """Nothing of B in an answer of A, but what the caller itself sent (a refusal may
    name the id it was asked for)."""
    request = json.dumps(sent, ensure_ascii=False) if sent is not None else ""
    for secret in (*B_SECRETS, *b.cases, *b.commitments):
        if secret not in request:
            assert secret not in text, f"{secret!r} of {B} in an answer of {A}"


async def test_b_answers_the_probe_itself(tenants: Tenants) -> None:
    """The ids the other tests send are real: B's own admin finds every one of them."""
    b = tenants.b
    data = await b.api.run(PROBE, probe_variables(b), token=b.tokens["admin"])
    assert data["case"]["title"] == B_CASE_TITLE
    assert data["work"]["description"] == B_WORK
    assert data["patrols"]["description"] == B_PATROLS
    assert data["assembly"]["cases"] == [{"id": b.ids["case"]}]
    assert data["table"]["name"] == "Mesa solo de Tlalpan"
    assert data["post"]["holder"] == {"name": "Arturo Tlalpense"}
    assert data["byCase"]["totalCount"] == 3
    assert data["byTable"]["totalCount"] == data["searched"]["totalCount"] == 1
    assert data["byAgency"]["totalCount"] == 1
    assert {t["id"] for t in data["territories"]} >= {B_TERRITORY, "smt-avisadero"}
    # The paths through ids both municipalities use do reach B's objects in B.
    assert data["sharedPost"]["holder"] == {"name": B_LIGHTING_HEAD}
    assert [c["title"] for c in data["sharedAssembly"]["cases"]] == [B_ASSEMBLY_CASE]
    assert data["sharedPost"]["agency"] == {"name": B_URBANOS}
    assert B_AGENCY in {m["id"] for m in data["sharedTable"]["members"]}
    assert B_AVISADERO in {t["name"] for t in data["territories"]}
    assert b.ids["case"] in {e["node"]["id"] for e in data["sharedTerritoryCases"]["edges"]}
    assert b.ids["case"] in {e["node"]["id"] for e in data["sharedCabinetCases"]["edges"]}
    assert b.ids["case"] in {c["id"] for c in data["sharedAgenda"]["openCases"]}
    assert b.ids["patrols"] in {e["node"]["id"] for e in data["sharedCabinetCommitments"]["edges"]}
    assert b.ids["patrols"] in {e["node"]["id"] for e in data["sharedAgencyCommitments"]["edges"]}
    assert {c["agency"]["id"] for c in data["scopedScorecards"]} == {
        B_AGENCY,
        "ssc",
        "servicios-urbanos",
    }


@pytest.mark.parametrize("profile", PROFILES)
async def test_no_caller_of_a_reads_anything_of_b(tenants: Tenants, profile: str) -> None:
    a, b = tenants.a, tenants.b
    response = await a.api.post(PROBE, probe_variables(b), token=a.tokens[profile])
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    data = body["data"]
    for single in (
        "case",
        "caseByUuid",
        "work",
        "patrols",
        "workByUuid",
        "assembly",
        "table",
        "tableAgenda",
        "post",
    ):
        assert data[single] is None, single
    for count in ("byCase", "byTable", "byTerritory", "byAgency", "searched"):
        assert data[count]["totalCount"] == 0, count
    assert data["scopedScorecards"] == []
    assert {e["node"]["id"] for e in data["cases"]["edges"]} == set(a.cases)
    assert data["cases"]["totalCount"] == len(a.cases)
    assert {e["node"]["id"] for e in data["commitments"]["edges"]} <= set(a.commitments)
    # A's one commitment of servicios-urbanos counts once, whoever else has that agency id.
    lamps = [c for c in data["agencyScorecards"] if c["agency"]["id"] == "servicios-urbanos"]
    assert [c["made"] for c in lamps] == [1]
    assert data["sharedPost"]["holder"] == {"name": "Jorge Sánchez"}
    assert data["sharedAssembly"] == {"cases": []}
    assert data["ownCase"]["territory"]["name"] == "San Miguel Teotongo Sección Avisadero"
    assert_no_trace_of_b(response.text, b)


async def test_a_briefing_of_a_cabinet_with_the_same_id_shows_only_a(tenants: Tenants) -> None:
    """B's cabinet has A's cabinet's id and B's case sits in a territory of B with A's
    ids as ancestors: A's briefing still counts only A's cases and commitments."""
    a, b = tenants.a, tenants.b
    response = await a.api.post(
        """query($cabinet: ID!) { cabinetBriefing(cabinetId: $cabinet,
          since: "2026-11-01T00:00:00-06:00") { newCases { id } dueSoon { id } overdue { id }
          hotSpots { territory { id } cases } } }""",
        {"cabinet": CABINET},
        token=a.tokens["admin"],
    )
    body = response.json()
    assert not body.get("errors"), body
    briefing = body["data"]["cabinetBriefing"]
    assert {c["id"] for c in briefing["newCases"]} == set(a.cases)
    assert {c["id"] for c in briefing["dueSoon"] + briefing["overdue"]} <= set(a.commitments)
    assert briefing["hotSpots"] == [{"territory": {"id": "smt-avisadero"}, "cases": 1}]
    assert_no_trace_of_b(response.text, b)


@pytest.mark.parametrize("kind", ["cases", "commitments"])
async def test_cursors_from_b_page_only_through_a(tenants: Tenants, kind: str) -> None:
    a, b = tenants.a, tenants.b
    document = CASES_PAGE if kind == "cases" else COMMITMENTS_PAGE
    response = await a.api.post(
        document, {"after": b.ids[f"{kind}_cursor"]}, token=a.tokens["admin"]
    )
    body = response.json()
    if body.get("errors"):
        assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    else:
        assert {e["node"]["id"] for e in body["data"][kind]["edges"]} <= set(
            a.cases if kind == "cases" else a.commitments
        )
    assert_no_trace_of_b(response.text, b)


async def test_personal_data_of_b_is_not_found_from_a(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    response = await a.api.post(
        "query($id: ID!) { reporterReads(caseId: $id) { actor } }",
        {"id": b.ids["case"]},
        token=a.tokens["coordinator"],
    )
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
    assert_no_trace_of_b(response.text, b, sent=b.ids["case"])


# -- writes ------------------------------------------------------------------------------------

B_SNAPSHOT = """
query($case: ID!, $work: ID!, $patrols: ID!, $lamps: ID!) {
  case(id: $case) { version status priority tables { id } timeline { type } }
  work: commitment(id: $work) { version status progress dueOn responsible { id } }
  patrols: commitment(id: $patrols) { version status progress dueOn responsible { id } }
  lamps: commitment(id: $lamps) { version status progress dueOn responsible { id } }
  post(id: "puesto-solo-tlalpan") { holder { name } }
  tables { id }
  territories { id }
  agencies { id }
}
"""


async def b_snapshot(b: Side) -> Any:
    pool = b.runtime.pool
    webhook = await pool.fetchval(
        "SELECT row_to_json(s)::text FROM webhook_subscriptions s WHERE id = $1::uuid",
        b.ids["webhook"],
    )
    delivery = await pool.fetchval(
        "SELECT row_to_json(d)::text FROM webhook_deliveries d WHERE id = $1",
        int(b.ids["delivery"]),
    )
    graph = await b.api.run(
        B_SNAPSHOT,
        {k: b.ids[k] for k in ("case", "work", "patrols", "lamps")},
        token=b.tokens["admin"],
    )
    return graph, webhook, delivery


def on_b_commitment(key: str, mutation: str, extra: str) -> Any:
    return lambda b: (
        f"mutation($id: ID!) {{ {mutation}(commitmentId: $id, expectedVersion: 1, {extra})"
        " { id } }",
        {"id": b.ids[key]},
    )


def on_b_case(mutation: str, extra: str) -> Any:
    return lambda b: (
        f"mutation($id: ID!) {{ {mutation}(caseId: $id, expectedVersion: 1, {extra}) {{ id }} }}",
        {"id": b.ids["case"]},
    )


def single(document: str, **variables: Any) -> Any:
    return lambda b: (document, {k: (v(b) if callable(v) else v) for k, v in variables.items()})


RAISE_IN = "mutation($input: RaiseCaseInput!) { raiseCase(input: $input) { id } }"
MAKE_IN = "mutation($input: MakeCommitmentInput!) { makeCommitment(input: $input) { id } }"

# (id, A profile acting, the call on B's objects).
CROSS_WRITES: list[tuple[str, str, Any]] = [
    (
        "reportProgress-by-own-agency-staff",
        "agency_staff_own_agency",
        on_b_commitment("lamps", "reportProgress", 'progress: 90, note: "Desde A"'),
    ),
    (
        "reportProgress-by-secretary",
        "secretary",
        on_b_commitment("work", "reportProgress", 'progress: 90, note: "Desde A"'),
    ),
    (
        "reportProgress-on-cabinet-commitment",
        "admin",
        on_b_commitment("patrols", "reportProgress", 'progress: 90, note: "Desde A"'),
    ),
    (
        "rescheduleCommitment",
        "secretary",
        on_b_commitment("work", "rescheduleCommitment", 'dueOn: "2027-01-01", reason: "A"'),
    ),
    (
        "reportFulfilment",
        "agency_staff_own_agency",
        on_b_commitment("lamps", "reportFulfilment", 'evidence: "Desde A"'),
    ),
    (
        "reassignCommitment",
        "coordinator",
        on_b_commitment("work", "reassignCommitment", 'responsibleAgencyId: "obras", reason: "A"'),
    ),
    (
        "validateFulfilment",
        "coordinator",
        single(
            """mutation($id: ID!, $a: ID!) { validateFulfilment(commitmentId: $id,
       expectedVersion: 1, assemblyId: $a) { id } }""",
            id=lambda b: b.ids["work"],
            a=lambda b: b.ids["assembly"],
        ),
    ),
    (
        "disputeFulfilment",
        "coordinator",
        single(
            """mutation($id: ID!, $a: ID!) { disputeFulfilment(commitmentId: $id,
       expectedVersion: 1, assemblyId: $a, reason: "A") { id } }""",
            id=lambda b: b.ids["work"],
            a=lambda b: b.ids["assembly"],
        ),
    ),
    ("cancelCommitment", "admin", on_b_commitment("work", "cancelCommitment", 'reason: "Desde A"')),
    ("triageCase", "coordinator", on_b_case("triageCase", "theme: WATER, priority: LOW")),
    ("routeCase", "coordinator", on_b_case("routeCase", 'tableIds: ["mesa-alumbrado"]')),
    ("resolveCase", "admin", on_b_case("resolveCase", 'summary: "Desde A"')),
    ("declineCase", "admin", on_b_case("declineCase", 'reason: "Desde A"')),
    ("reopenCase", "admin", on_b_case("reopenCase", 'reason: "Desde A"')),
    ("closeCase", "admin", on_b_case("closeCase", "assemblyId: null")),
    (
        "mergeCase-b-into-a",
        "coordinator",
        single(
            """mutation($id: ID!, $into: ID!) { mergeCase(caseId: $id, expectedVersion: 1,
       intoCaseId: $into) { id } }""",
            id=lambda b: b.ids["case"],
            into=lambda b: b.ids["a_case"],
        ),
    ),
    (
        "mergeCase-a-into-b",
        "coordinator",
        single(
            """mutation($id: ID!, $v: Int!, $into: ID!) { mergeCase(caseId: $id,
       expectedVersion: $v, intoCaseId: $into) { id } }""",
            id=lambda b: b.ids["a_case"],
            v=lambda b: int(b.ids["a_case_version"]),
            into=lambda b: b.ids["case"],
        ),
    ),
    (
        "eraseReporter",
        "coordinator",
        single(
            'mutation($id: ID!) { eraseReporter(caseId: $id, reason: "Desde A") { id } }',
            id=lambda b: b.ids["case"],
        ),
    ),
    (
        "makeCommitment-on-b-case",
        "secretary",
        single(
            MAKE_IN,
            input=lambda b: {
                "caseId": b.ids["case"],
                "responsibleAgencyId": "obras",
                "description": "Desde A",
                "dueOn": "2026-12-01",
            },
        ),
    ),
    (
        "makeCommitment-for-b-agency",
        "secretary",
        single(
            MAKE_IN,
            input=lambda b: {
                "caseId": b.ids["a_case"],
                "responsibleAgencyId": B_AGENCY,
                "description": "Desde A",
                "dueOn": "2026-12-01",
            },
        ),
    ),
    (
        "makeCommitment-at-b-table",
        "secretary",
        single(
            MAKE_IN,
            input=lambda b: {
                "caseId": b.ids["a_case"],
                "responsibleAgencyId": "obras",
                "tableId": B_TABLE,
                "description": "Desde A",
                "dueOn": "2026-12-01",
            },
        ),
    ),
    (
        "raiseCase-in-b-territory",
        "coordinator",
        single(
            RAISE_IN,
            input={
                "territoryId": B_TERRITORY,
                "theme": "WATER",
                "title": "Desde A",
                "description": "Desde A",
            },
        ),
    ),
    (
        "raiseCase-at-b-assembly",
        "integration",
        single(
            RAISE_IN,
            input=lambda b: {
                "territoryId": "smt-avisadero",
                "theme": "WATER",
                "title": "Desde A",
                "description": "Desde A",
                "assemblyId": b.ids["assembly"],
            },
        ),
    ),
    (
        "appointToPost",
        "admin",
        single(
            'mutation { appointToPost(postId: "puesto-solo-tlalpan", officialName: "De A") { id } }'
        ),
    ),
    (
        "addPost-for-b-agency",
        "coordinator",
        single('mutation { addPost(title: "De A", agencyId: "agencia-solo-tlalpan") { id } }'),
    ),
    (
        "addTerritory-under-b-territory",
        "coordinator",
        single(
            'mutation { addTerritory(name: "De A", kind: "colonia",'
            ' parentId: "colonia-solo-tlalpan") { id } }'
        ),
    ),
    (
        "createTable-with-b-agency",
        "secretary",
        single(
            "mutation($input: CreateTableInput!) { createTable(input: $input) { id } }",
            input={"name": "De A", "kind": "WORKING_TABLE", "memberAgencyIds": [B_AGENCY]},
        ),
    ),
    (
        "holdSession-at-b-table",
        "secretary",
        single(
            "mutation($input: HoldSessionInput!) { holdSession(input: $input) { id } }",
            input={"tableId": B_TABLE, "heldOn": "2026-11-16", "attendingAgencyIds": []},
        ),
    ),
    (
        "updateWebhookSubscription",
        "admin",
        single(
            "mutation($id: ID!) { updateWebhookSubscription(id: $id, active: false) { id } }",
            id=lambda b: b.ids["webhook"],
        ),
    ),
    (
        "rotateWebhookSecret",
        "admin",
        single(
            "mutation($id: ID!) { rotateWebhookSecret(id: $id, keepPreviousForHours: 0) {"
            " secret } }",
            id=lambda b: b.ids["webhook"],
        ),
    ),
    (
        "deleteWebhookSubscription",
        "admin",
        single(
            "mutation($id: ID!) { deleteWebhookSubscription(id: $id) }",
            id=lambda b: b.ids["webhook"],
        ),
    ),
    (
        "redeliverWebhook",
        "admin",
        single(
            "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }",
            id=lambda b: b.ids["delivery"],
        ),
    ),
    (
        "holdAssembly-in-b-territory",
        "coordinator",
        single(
            "mutation($input: HoldAssemblyInput!) { holdAssembly(input: $input) { id } }",
            input={
                "territoryId": B_TERRITORY,
                "kind": "COMMUNITY_ASSEMBLY",
                "heldOn": "2026-11-16",
                "attendance": 10,
            },
        ),
    ),
]


@pytest.mark.parametrize(
    ("profile", "call"),
    [pytest.param(profile, call, id=name) for name, profile, call in CROSS_WRITES],
)
async def test_a_cannot_change_b(tenants: Tenants, profile: str, call: Any) -> None:
    a, b = tenants.a, tenants.b
    document, variables = call(b)
    before, position = await b_snapshot(b), await a.position()
    response = await a.api.post(document, variables, token=a.tokens[profile])
    body = response.json()
    assert response.status_code == 200, body
    assert body.get("errors"), body
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body["errors"]
    assert await a.position() == position, "nothing may be recorded"
    assert await b_snapshot(b) == before
    assert_no_trace_of_b(response.text, b, sent=[document, variables])


async def test_b_reporter_survives_an_erasure_attempt_from_a(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    await a.api.error(
        'mutation($id: ID!) { eraseReporter(caseId: $id, reason: "Desde A") { id } }',
        {"id": b.ids["case"]},
        token=a.tokens["admin"],
    )
    seen = await b.api.run(
        "query($id: ID!) { case(id: $id) { reporter { name phone email } } }",
        {"id": b.ids["case"]},
        token=b.tokens["coordinator"],
    )
    assert seen["case"]["reporter"] == B_REPORTER


async def test_one_idempotency_key_in_two_municipalities_makes_two_cases(
    tenants: Tenants,
) -> None:
    """The same subject and key in both: each municipality records its own case, and
    neither replays the other's answer."""
    a, b = tenants.a, tenants.b
    payload = {
        "input": {
            "territoryId": "smt-avisadero",
            "theme": "WATER",
            "title": "Fuga con la misma llave",
            "description": "Fuga en la toma.",
        }
    }
    made = {}
    for side in (b, a):
        token = side.api.token("mismo.sujeto", "coordinator")
        response = await side.api.post(RAISE, payload, token=token, idempotency_key="llave-1")
        body = response.json()
        assert not body.get("errors"), body
        assert "idempotentReplays" not in json.dumps(body.get("extensions") or {})
        made[side.municipality] = body["data"]["raiseCase"]["id"]
        side.cases.append(made[side.municipality])
    assert made[A] != made[B]
    assert (await a.world.case(made[A]))["title"] == "Fuga con la misma llave"
    assert await a.world.case(made[B]) is None
    assert await b.world.case(made[A]) is None


async def test_one_idempotency_key_makes_a_webhook_subscription_in_each(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    create = """mutation($url: String!, $types: [String!]!) {
      createWebhookSubscription(url: $url, eventTypes: $types) { subscription { id url } } }"""
    variables = {"url": f"{B_HOOK}/misma-llave", "types": [QUIET_EVENT_TYPE]}
    made = {}
    for side in (b, a):
        token = side.api.token("mismo.admin", "admin")
        response = await side.api.post(create, variables, token=token, idempotency_key="llave-2")
        body = response.json()
        assert not body.get("errors"), body
        assert "idempotentReplays" not in json.dumps(body.get("extensions") or {})
        made[side.municipality] = body["data"]["createWebhookSubscription"]["subscription"]["id"]
    assert made[A] != made[B]
    listed = await a.api.run("{ webhookSubscriptions { id } }", token=a.tokens["admin"])
    assert listed["webhookSubscriptions"] == [{"id": made[A]}]
    await a.api.run(
        "mutation($id: ID!) { deleteWebhookSubscription(id: $id) }",
        {"id": made[A]},
        token=a.tokens["admin"],
    )


# -- the event feed and webhooks -----------------------------------------------------------


async def test_the_feed_cursor_of_a_does_not_move_with_b(tenants: Tenants) -> None:
    """A's cursor says how far A's own log goes; B's activity does not show in it."""
    a, b = tenants.a, tenants.b
    headers = {"Authorization": f"Bearer {a.tokens['integration']}"}

    async def cursor() -> str:
        response = await a.api.http.get("/events", params={"limit": 1000}, headers=headers)
        assert response.status_code == 200 and response.json()["hasMore"] is False
        return str(response.json()["cursor"])

    before = await cursor()
    b.cases.append((await b.world.raise_case("Caso de Tlalpan que A no ve pasar"))["id"])
    assert await cursor() == before


@pytest.mark.parametrize("profile", ["admin", "integration"])
async def test_the_event_feed_of_a_shows_nothing_of_b(tenants: Tenants, profile: str) -> None:
    a, b = tenants.a, tenants.b
    headers = {"Authorization": f"Bearer {a.tokens[profile]}"}
    everything = await a.api.http.get("/events", params={"limit": 1000}, headers=headers)
    assert everything.status_code == 200, everything.text
    assert a.cases[0] in everything.text
    assert_no_trace_of_b(everything.text, b)
    # B's subjects, and a cursor of B's feed.
    for params in [
        {"subject": f"case/{b.ids['case']}"},
        {"subject": f"commitment/{b.ids['work']}"},
        {"after": b.ids["feed_cursor"], "limit": 1000},
    ]:
        response = await a.api.http.get("/events", params=params, headers=headers)
        if response.status_code == 200:
            if "subject" in params:
                assert response.json()["events"] == [], params
        else:
            assert response.status_code == 400, response.text
        assert_no_trace_of_b(response.text, b, sent=params)


async def test_webhooks_of_b_are_not_listed_on_a(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    response = await a.api.post(
        "query($id: ID!) { webhookSubscriptions { id url } webhookSubscription(id: $id) { id } }",
        {"id": b.ids["webhook"]},
        token=a.tokens["admin"],
    )
    body = response.json()
    assert not body.get("errors"), body
    assert body["data"] == {"webhookSubscriptions": [], "webhookSubscription": None}
    seen = await b.api.run("{ webhookSubscriptions { url } }", token=b.tokens["admin"])
    assert {"url": B_HOOK} in seen["webhookSubscriptions"]


async def test_webhooks_of_b_are_offered_only_events_of_b(tenants: Tenants) -> None:
    """One dispatcher (A's) queues deliveries for both municipalities' subscriptions:
    B's "case raised" subscription gets B's new case, never A's."""
    a, b = tenants.a, tenants.b
    a_case = (await a.world.raise_case("Caso de A tras la suscripción de B"))["id"]
    b_case = (await b.world.raise_case("Caso de Tlalpan tras su suscripción"))["id"]
    a.cases.append(a_case)
    b.cases.append(b_case)

    async def subjects() -> set[str]:
        rows = await b.runtime.pool.fetch(
            "SELECT subject FROM webhook_deliveries WHERE subscription_id = $1::uuid",
            b.ids["raised_webhook"],
        )
        return {r["subject"] for r in rows}

    deadline = asyncio.get_running_loop().time() + 30
    while f"case/{b_case}" not in await subjects():
        assert asyncio.get_running_loop().time() < deadline, await subjects()
        await asyncio.sleep(0.1)
    # The outbox goes in log order: A's case, raised first, was offered before B's.
    assert f"case/{a_case}" not in await subjects()


# -- Open311 (the public face of cases) -------------------------------------------------------


async def open311(side: Side, path: str, **params: str) -> Any:
    return await side.api.http.get(f"/open311/v2/{path}", params=params)


async def test_open311_of_a_shows_nothing_of_b(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    window = {"start_date": "2026-09-01T00:00:00-06:00", "end_date": "2026-11-29T00:00:00-06:00"}
    # B's own server lists B's cases through the same reads.
    own = await open311(b, "requests.json", **window)
    assert own.status_code == 200, own.text
    assert b.ids["case"] in own.text
    listed = await open311(a, "requests.json", **window)
    assert listed.status_code == 200, listed.text
    assert a.cases[0] in listed.text
    assert_no_trace_of_b(listed.text, b)
    by_ids = await open311(a, "requests.json", service_request_id=",".join(b.cases))
    assert by_ids.status_code == 200 and by_ids.json() == [], by_ids.text
    for path in (f"requests/{b.ids['case']}.json", f"tokens/{b.ids['case']}.json"):
        single = await open311(a, path)
        assert single.status_code == 404, (path, single.text)
        assert_no_trace_of_b(single.text, b, sent=path)
