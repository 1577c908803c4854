"""A small world for the HTTP tests, set up only through GraphQL, as staff would.

``serve`` runs the real app (lifespan, in-process projections, asyncpg) and keeps
the FastAPI object within reach, for tests that look at the runtime itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from graphql_client import GraphQLClient
from psycopg import sql

from api.app import create_app
from cases.clock import FixedClock
from tequio.database import ConnectionInfo
from tequio.settings import Settings

MUNICIPALITY = "iztapalapa"
MX = ZoneInfo("America/Mexico_City")
MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=MX)

CABINET = "gabinete-teotongo"
OTHER_CABINET = "gabinete-cabeza"
LIGHTING_TABLE = "mesa-alumbrado"

COMMITMENT_FIELDS = """
  id version status progress dueOn overdue daysOverdue reschedules description
  responsible { id name } accountable { name } accountableWhenMade { name } table { id kind }
"""
CASE_FIELDS = "id version title status theme priority tables { id }"

RAISE = f"mutation($input: RaiseCaseInput!) {{ raiseCase(input: $input) {{ {CASE_FIELDS} }} }}"
TRIAGE = f"""
mutation($id: ID!, $v: Int!, $theme: Theme!, $priority: Priority!) {{
  triageCase(caseId: $id, expectedVersion: $v, theme: $theme, priority: $priority) {{
    {CASE_FIELDS} }} }}
"""
ROUTE = f"""
mutation($id: ID!, $v: Int!, $tables: [ID!]!) {{
  routeCase(caseId: $id, expectedVersion: $v, tableIds: $tables) {{ {CASE_FIELDS} }} }}
"""
CASE = f"query($id: ID!) {{ case(id: $id) {{ {CASE_FIELDS} }} }}"
MAKE = f"""
mutation($input: MakeCommitmentInput!) {{ makeCommitment(input: $input) {{ {COMMITMENT_FIELDS} }} }}
"""
PROGRESS = f"""
mutation($id: ID!, $v: Int!, $p: Int!, $note: String!) {{
  reportProgress(commitmentId: $id, expectedVersion: $v, progress: $p, note: $note) {{
    {COMMITMENT_FIELDS} }} }}
"""
FULFIL = f"""
mutation($id: ID!, $v: Int!, $evidence: String!) {{
  reportFulfilment(commitmentId: $id, expectedVersion: $v, evidence: $evidence) {{
    {COMMITMENT_FIELDS} }} }}
"""
VALIDATE = f"""
mutation($id: ID!, $v: Int!, $a: ID!) {{
  validateFulfilment(commitmentId: $id, expectedVersion: $v, assemblyId: $a) {{
    {COMMITMENT_FIELDS} }} }}
"""
RESCHEDULE = f"""
mutation($id: ID!, $v: Int!, $due: Date!, $reason: String!) {{
  rescheduleCommitment(commitmentId: $id, expectedVersion: $v, dueOn: $due, reason: $reason) {{
    {COMMITMENT_FIELDS} }} }}
"""
CANCEL = f"""
mutation($id: ID!, $v: Int!, $reason: String!) {{
  cancelCommitment(commitmentId: $id, expectedVersion: $v, reason: $reason) {{
    {COMMITMENT_FIELDS} }} }}
"""
COMMITMENT = f"query($id: ID!) {{ commitment(id: $id) {{ {COMMITMENT_FIELDS} }} }}"
HOLD_ASSEMBLY = "mutation($input: HoldAssemblyInput!) { holdAssembly(input: $input) { id } }"


@asynccontextmanager
async def serve(
    settings: Settings, clock: FixedClock
) -> AsyncIterator[tuple[FastAPI, GraphQLClient]]:
    """The app as ``tequio serve`` runs it, and a client speaking HTTP to it."""
    app = create_app(settings, clock=clock)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tequio.test") as http:
            yield app, GraphQLClient(http, settings)


def _truncate_all(info: ConnectionInfo) -> None:
    with psycopg.connect(info.url(), autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "select tablename from pg_tables where schemaname = 'public'"
            ).fetchall()
        ]
        if tables:
            conn.execute(
                sql.SQL("truncate {} restart identity cascade").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in tables)
                )
            )


def module_world() -> Any:
    """A fixture: one running app and one world for every test of a module (fast).

    Tests sharing it make their own cases and compare counts before and after, so
    they do not depend on one another. The world's clock starts at ``MONDAY``.
    """

    @pytest.fixture(scope="module")
    async def fixture(server_info: ConnectionInfo) -> AsyncIterator[World]:
        _truncate_all(server_info)
        settings = Settings(
            DATABASE_URL=server_info.url(), TEQUIO_MUNICIPALITY=MUNICIPALITY, TEQUIO_POOL_SIZE=2
        )
        clock = FixedClock(MONDAY)
        async with serve(settings, clock) as (app, api):
            yield await World(api, app=app, clock=clock).set_up()

    return fixture


class World:
    """Tokens for each kind of user, and helpers that act through GraphQL."""

    def __init__(
        self,
        api: GraphQLClient,
        *,
        app: FastAPI | None = None,
        clock: FixedClock | None = None,
    ) -> None:
        self.api = api
        self.app = app
        self.clock = clock
        self.admin = api.token("admin.sistema", "admin")
        self.coordinator = api.token("rosa.martinez", "coordinator")
        self.secretary = api.token("secretaria.mesas", "secretary")
        self.urbanos = api.token("staff.urbanos", "agency_staff", agency="servicios-urbanos")
        self.cabinet_member = api.token("jefe.sector", "cabinet_member", tables=[CABINET])
        self.other_cabinet_member = api.token(
            "jefa.cabeza", "cabinet_member", tables=[OTHER_CABINET]
        )
        self.assembly_id: str | None = None

    async def set_up(self) -> World:
        """Territories, agencies, posts with holders, two cabinets, one working table, one
        assembly."""
        api, admin = self.api, self.admin
        for tid, name, kind, parent in [
            ("iztapalapa", "Iztapalapa", "municipality", None),
            ("dt-teotongo", "Teotongo-Acahualtepec", "territorial directorate", "iztapalapa"),
            ("dt-cabeza", "Cabeza de Juárez", "territorial directorate", "iztapalapa"),
            ("smt-avisadero", "San Miguel Teotongo Sección Avisadero", "colonia", "dt-teotongo"),
            ("smt-mercado", "San Miguel Teotongo Sección Mercado", "colonia", "dt-teotongo"),
        ]:
            await api.run(
                "mutation($id: ID, $n: String!, $k: String!, $p: ID) {"
                " addTerritory(id: $id, name: $n, kind: $k, parentId: $p) { id } }",
                {"id": tid, "n": name, "k": kind, "p": parent},
                token=admin,
            )
        for aid, name, level in [
            ("servicios-urbanos", "Dirección General de Servicios Urbanos", "MUNICIPAL"),
            ("obras", "Dirección General de Obras", "MUNICIPAL"),
            ("ssc", "Secretaría de Seguridad Ciudadana", "CITY"),
            ("sacmex", "Sistema de Aguas", "CITY"),
        ]:
            await api.run(
                "mutation($id: ID, $n: String!, $l: GovernmentLevel!) {"
                " addAgency(id: $id, name: $n, level: $l) { id } }",
                {"id": aid, "n": name, "l": level},
                token=admin,
            )
        for pid, title, agency, holder in [
            ("jefatura-alumbrado", "Head of public lighting", "servicios-urbanos", "Jorge Sánchez"),
            ("jefatura-sector-ssc", "SSC sector chief", "ssc", "Martín Ruiz"),
            ("direccion-obras", "Director of works", "obras", "Elena Cruz"),
        ]:
            await api.run(
                "mutation($id: ID, $t: String!, $a: ID!) {"
                " addPost(id: $id, title: $t, agencyId: $a) { id } }",
                {"id": pid, "t": title, "a": agency},
                token=admin,
            )
            await api.run(
                "mutation($p: ID!, $n: String!) {"
                " appointToPost(postId: $p, officialName: $n) { id } }",
                {"p": pid, "n": holder},
                token=admin,
            )
        for tid, name, kind, territory, members in [
            (CABINET, "Gabinete zonal Teotongo", "SECURITY_CABINET", "dt-teotongo", ["ssc"]),
            (OTHER_CABINET, "Gabinete zonal Cabeza", "SECURITY_CABINET", "dt-cabeza", ["ssc"]),
            (
                LIGHTING_TABLE,
                "Alumbrado y espacio público",
                "WORKING_TABLE",
                "dt-teotongo",
                ["servicios-urbanos", "obras"],
            ),
        ]:
            await api.run(
                "mutation($input: CreateTableInput!) { createTable(input: $input) { id } }",
                {
                    "input": {
                        "id": tid,
                        "name": name,
                        "kind": kind,
                        "territoryId": territory,
                        "memberAgencyIds": members,
                    }
                },
                token=self.secretary,
            )
        self.assembly_id = (
            await api.run(
                HOLD_ASSEMBLY,
                {
                    "input": {
                        "territoryId": "smt-avisadero",
                        "kind": "COMMUNITY_ASSEMBLY",
                        "heldOn": "2026-11-16",
                        "attendance": 40,
                    }
                },
                token=self.coordinator,
            )
        )["holdAssembly"]["id"]
        return self

    async def raise_case(
        self,
        title: str,
        *,
        theme: str = "URBAN_SERVICES",
        territory: str = "smt-avisadero",
        **kw: Any,
    ) -> dict[str, Any]:
        payload = {
            "territoryId": territory,
            "theme": theme,
            "title": title,
            "description": f"{title}. Planteado en asamblea.",
        }
        return (await self.api.run(RAISE, {"input": payload}, token=self.coordinator, **kw))[
            "raiseCase"
        ]

    async def routed_safety_case(
        self, title: str, tables: list[str], *, priority: str = "HIGH"
    ) -> dict[str, Any]:
        """A safety case, raised, triaged and routed to ``tables`` (as the coordinator)."""
        case = await self.raise_case(title, theme="SAFETY")
        case = (
            await self.api.run(
                TRIAGE,
                {"id": case["id"], "v": case["version"], "theme": "SAFETY", "priority": priority},
                token=self.coordinator,
            )
        )["triageCase"]
        return (
            await self.api.run(
                ROUTE,
                {"id": case["id"], "v": case["version"], "tables": tables},
                token=self.coordinator,
            )
        )["routeCase"]

    async def commit(
        self,
        case_id: str,
        description: str,
        *,
        agency: str = "servicios-urbanos",
        due: str = "2026-11-30",
        table: str | None = LIGHTING_TABLE,
        post: str | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "caseId": case_id,
            "responsibleAgencyId": agency,
            "description": description,
            "dueOn": due,
        }
        if table:
            payload["tableId"] = table
            await self.route_to(case_id, table)
        else:
            payload["assemblyId"] = self.assembly_id  # agreed at the neighbours' assembly
        if post:
            payload["postId"] = post
        return (await self.api.run(MAKE, {"input": payload}, token=self.secretary, **kw))[
            "makeCommitment"
        ]

    async def route_to(self, case_id: str, table: str) -> None:
        """Routes the case to ``table`` (triaging it first if it was just raised), as the
        coordinator does before a table agrees on anything for it."""
        case = await self.case(case_id, token=self.coordinator)
        if case is None or table in {t["id"] for t in case["tables"]}:
            return
        if case["status"] not in ("RAISED", "TRIAGED", "ROUTED", "IN_ATTENTION"):
            return  # a finished case takes no commitment: the test is about that
        if case["status"] == "RAISED":
            case = (
                await self.api.run(
                    TRIAGE,
                    {
                        "id": case_id,
                        "v": case["version"],
                        "theme": case["theme"],
                        "priority": "MEDIUM",
                    },
                    token=self.coordinator,
                )
            )["triageCase"]
        await self.api.run(
            ROUTE, {"id": case_id, "v": case["version"], "tables": [table]}, token=self.coordinator
        )

    async def commitment(self, commitment_id: str, token: str | None = None) -> Any:
        return (await self.api.run(COMMITMENT, {"id": commitment_id}, token=token))["commitment"]

    async def case(self, case_id: str, token: str | None = None) -> Any:
        return (await self.api.run(CASE, {"id": case_id}, token=token))["case"]
