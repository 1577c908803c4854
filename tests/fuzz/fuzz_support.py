"""The fuzz tests' harness: the real app, served by uvicorn on loopback, on a database of
its own with a small world in it, a bearer token for each kind of caller, and the driver
that runs schemathesis' generated cases against it.

The server runs in a thread with its own event loop (as ``tequio serve`` does in its
process), so schemathesis' synchronous client speaks real HTTP to it and nothing shares
pytest-asyncio's loop. One server serves the whole fuzz session.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import hypothesis
import requests
import uvicorn
from schemathesis import Case
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)

from api.app import create_app
from api.auth import mint_token
from cases.clock import FixedClock
from integrations.webhooks.config import WebhookConfig
from tequio.database import ConnectionInfo
from tequio.settings import Settings

MUNICIPALITY = "iztapalapa"
MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))
CABINET = "gabinete-teotongo"
TABLE = "mesa-alumbrado"
AGENCY = "servicios-urbanos"
# The codes a refusal may carry: the contract's, and the two docs/security.md adds.
CONTRACT_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "CONFLICT",
        "BAD_USER_INPUT",
        "RATE_LIMITED",
        "SERVICE_UNAVAILABLE",
        "PENDING",
    }
)


@dataclass
class LiveServer:
    """The running app: its base URL, settings, the ids of the seeded world, tokens."""

    base_url: str
    settings: Settings
    ids: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, str | None] = field(default_factory=dict)

    def token(
        self,
        subject: str,
        role: str,
        *,
        agency: str | None = None,
        tables: list[str] | None = None,
    ) -> str:
        return mint_token(
            self.settings.secret.get_secret_value(),
            subject=subject,
            roles=[role],
            municipality=self.settings.municipality,
            agency_id=agency,
            table_ids=tables,
        )

    def headers(self, profile: str) -> dict[str, str]:
        token = self.tokens[profile]
        return {"Authorization": f"Bearer {token}"} if token else {}

    def known_ids(self) -> list[str]:
        return sorted({i for ids in self.ids.values() for i in ids})


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a thread cannot take signals
        pass


def _serve(app: Any) -> tuple[_Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=10
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fuzzed app did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _run(http: httpx.Client, token: str, query: str, variables: dict[str, Any]) -> Any:
    response = http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


def _seed(live: LiveServer) -> None:
    """A little world made through GraphQL, as staff would: ids for the fuzzer to find."""
    admin = live.token("admin.fuzz", "admin")
    secretary = live.token("secretaria.fuzz", "secretary")
    coordinator = live.token("coordinadora.fuzz", "coordinator")
    ids: dict[str, list[str]] = {"territories": [], "agencies": [], "posts": [], "tables": []}
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        for tid, name, kind, parent in [
            ("iztapalapa", "Iztapalapa", "municipality", None),
            ("dt-teotongo", "Teotongo-Acahualtepec", "territorial directorate", "iztapalapa"),
            ("smt-avisadero", "San Miguel Teotongo Avisadero", "colonia", "dt-teotongo"),
        ]:
            _run(
                http,
                admin,
                "mutation($id: ID, $n: String!, $k: String!, $p: ID) {"
                " addTerritory(id: $id, name: $n, kind: $k, parentId: $p) { id } }",
                {"id": tid, "n": name, "k": kind, "p": parent},
            )
            ids["territories"].append(tid)
        for aid, name, level in [
            (AGENCY, "Dirección General de Servicios Urbanos", "MUNICIPAL"),
            ("ssc", "Secretaría de Seguridad Ciudadana", "CITY"),
        ]:
            _run(
                http,
                admin,
                "mutation($id: ID, $n: String!, $l: GovernmentLevel!) {"
                " addAgency(id: $id, name: $n, level: $l) { id } }",
                {"id": aid, "n": name, "l": level},
            )
            ids["agencies"].append(aid)
        _run(
            http,
            admin,
            'mutation { addPost(id: "jefatura-alumbrado", title: "Jefatura de alumbrado",'
            ' agencyId: "servicios-urbanos") { id } }',
            {},
        )
        _run(
            http,
            admin,
            'mutation { appointToPost(postId: "jefatura-alumbrado",'
            ' officialName: "Jorge Sánchez") { id } }',
            {},
        )
        ids["posts"].append("jefatura-alumbrado")
        for tid, name, kind, members in [
            (CABINET, "Gabinete zonal Teotongo", "SECURITY_CABINET", ["ssc"]),
            (TABLE, "Alumbrado y espacio público", "WORKING_TABLE", [AGENCY]),
        ]:
            _run(
                http,
                secretary,
                "mutation($input: CreateTableInput!) { createTable(input: $input) { id } }",
                {
                    "input": {
                        "id": tid,
                        "name": name,
                        "kind": kind,
                        "territoryId": "dt-teotongo",
                        "memberAgencyIds": members,
                    }
                },
            )
            ids["tables"].append(tid)
        assembly = _run(
            http,
            coordinator,
            "mutation($input: HoldAssemblyInput!) { holdAssembly(input: $input) { id } }",
            {
                "input": {
                    "territoryId": "smt-avisadero",
                    "kind": "COMMUNITY_ASSEMBLY",
                    "heldOn": "2026-11-16",
                    "attendance": 40,
                }
            },
        )["holdAssembly"]["id"]
        ids["assemblies"] = [assembly]
        ids["cases"], ids["commitments"] = [], []
        for title, theme, table in [
            ("Luminarias apagadas en la calle 5", "URBAN_SERVICES", TABLE),
            ("Robo a transeúntes en el paradero", "SAFETY", CABINET),
        ]:
            case = _run(
                http,
                coordinator,
                "mutation($input: RaiseCaseInput!) { raiseCase(input: $input) { id } }",
                {
                    "input": {
                        "territoryId": "smt-avisadero",
                        "theme": theme,
                        "title": title,
                        "description": f"{title}. Planteado en asamblea.",
                        "assemblyId": assembly,
                        "reporter": {"name": "Vecina", "phone": "5512345678"},
                    }
                },
            )["raiseCase"]["id"]
            ids["cases"].append(case)
            for mutation, variables in (
                (
                    "mutation($id: ID!, $th: Theme!) { triageCase(caseId: $id,"
                    " expectedVersion: 1, theme: $th, priority: HIGH) { id } }",
                    {"id": case, "th": theme},
                ),
                (
                    "mutation($id: ID!, $t: ID!) { routeCase(caseId: $id, expectedVersion: 2,"
                    " tableIds: [$t]) { id } }",
                    {"id": case, "t": table},
                ),
            ):
                _run(http, coordinator, mutation, variables)
            commitment = _run(
                http,
                secretary,
                "mutation($input: MakeCommitmentInput!) { makeCommitment(input: $input) { id } }",
                {
                    "input": {
                        "caseId": case,
                        "tableId": table,
                        "responsibleAgencyId": AGENCY,
                        "postId": "jefatura-alumbrado",
                        "description": f"Atender: {title}",
                        "dueOn": "2026-11-30",
                    }
                },
            )["makeCommitment"]["id"]
            ids["commitments"].append(commitment)
        webhook = _run(
            http,
            admin,
            'mutation { createWebhookSubscription(url: "https://hooks.example.org/tequio",'
            ' eventTypes: ["*"]) { subscription { id } } }',
            {},
        )
        ids["webhooks"] = [webhook["createWebhookSubscription"]["subscription"]["id"]]
    live.ids = ids


@contextmanager
def start(info: ConnectionInfo) -> Iterator[LiveServer]:
    settings = Settings(
        DATABASE_URL=info.url(),
        TEQUIO_MUNICIPALITY=MUNICIPALITY,
        TEQUIO_POOL_SIZE=2,
        TEQUIO_RATE_LIMIT_PER_MINUTE=0,  # the fuzzer sends thousands of requests
    )
    # Deliveries to the webhook URLs the fuzzer registers fail fast.
    webhooks = WebhookConfig(connect_timeout=0.5, read_timeout=0.5, poll_seconds=0.5)
    app = create_app(settings, clock=FixedClock(MONDAY), webhook_config=webhooks)
    server, thread, base_url = _serve(app)
    try:
        live = LiveServer(base_url, settings)
        _seed(live)
        live.tokens = {
            "public": None,
            "admin": live.token("admin.fuzz", "admin"),
            "coordinator": live.token("coordinadora.fuzz", "coordinator"),
            "integration": live.token("sistema.fuzz", "integration"),
            "agency_staff": live.token("staff.fuzz", "agency_staff", agency=AGENCY),
            "cabinet_member": live.token("jefe.fuzz", "cabinet_member", tables=[CABINET]),
        }
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def fuzz(
    operation: Any,
    *,
    headers: dict[str, str],
    max_examples: int,
    checks: list[Any] | None = None,
    excluded_checks: list[Any] | None = None,
    additional_checks: list[Any] | None = None,
    session: requests.Session,
) -> None:
    """Runs schemathesis' generated cases for one operation, as its pytest plugin does:
    the schema's examples, the coverage phase (boundaries, missing and wrong-typed
    values), then ``max_examples`` drawn cases in positive and negative modes, each
    sent to the live server and checked. Deterministic: derandomized, no database."""

    def test(case: Case) -> None:
        case.call_and_validate(
            session=session,
            headers=headers,
            checks=checks,
            excluded_checks=excluded_checks,
            additional_checks=additional_checks,
        )

    config = HypothesisTestConfig(
        project=operation.schema.config,
        modes=[
            HypothesisTestMode.EXAMPLES,
            HypothesisTestMode.COVERAGE,
            HypothesisTestMode.FUZZING,
        ],
        settings=hypothesis.settings(
            max_examples=max_examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        ),
    )
    create_test(operation=operation, test_func=test, config=config)()
