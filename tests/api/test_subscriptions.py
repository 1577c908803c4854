"""Live boards over graphql-transport-ws: ``commitmentChanged`` pushes changes as they happen."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from api.app import create_app
from api.auth import mint_token
from api.graphql.router import EXPIRY_WATCH
from cases.clock import FixedClock
from tequio.settings import Settings


def run(client: TestClient, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def test_board_subscriber_receives_progress_on_a_commitment(
    settings: Settings, clock: FixedClock, admin: str
) -> None:
    with TestClient(create_app(settings, clock=clock)) as client:
        made = obras_commitment(client, admin)

        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init"})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json(
                {
                    "id": "board",
                    "type": "subscribe",
                    "payload": {
                        "query": 'subscription { commitmentChanged(filter: {agencyId: "obras"})'
                        " { id progress status } }"
                    },
                }
            )
            run(
                client,
                admin,
                "mutation($id: ID!, $v: Int!) { reportProgress(commitmentId: $id,"
                ' expectedVersion: $v, progress: 40, note: "Avance") { version } }',
                {"id": made["id"], "v": made["version"]},
            )
            message = ws.receive_json()
            assert message["type"] == "next", message
            assert message["payload"]["data"]["commitmentChanged"] == {
                "id": made["id"],
                "progress": 40,
                "status": "IN_PROGRESS",
            }
            ws.send_json({"id": "board", "type": "complete"})


@pytest.fixture
def admin(settings: Settings) -> str:
    """A bearer token of an administrator of the test municipality."""
    secret = settings.secret.get_secret_value()
    return mint_token(secret, subject="admin", roles=["admin"], municipality=settings.municipality)


def obras_commitment(
    client: TestClient, admin: str, *, due: str = "2026-11-30", holder: str | None = None
) -> dict[str, Any]:
    """A case raised at an assembly in Avisadero, and Obras' commitment to it; with
    ``holder``, the post "jefatura" is accountable for it and ``holder`` holds it."""
    run(
        client,
        admin,
        'mutation { addTerritory(id: "t1", name: "Avisadero", kind: "colonia") { id } }',
    )
    run(
        client, admin, 'mutation { addAgency(id: "obras", name: "Obras", level: MUNICIPAL) { id } }'
    )
    case = run(
        client,
        admin,
        'mutation { raiseCase(input: {territoryId: "t1", theme: ENVIRONMENT,'
        ' title: "Tiradero", description: "En la esquina"}) { id } }',
    )["raiseCase"]
    assembly = run(client, admin, HOLD_ASSEMBLY)["holdAssembly"]
    post = "jefatura" if holder else None
    if holder:
        run(
            client,
            admin,
            'mutation { addPost(id: "jefatura", title: "Jefatura", agencyId: "obras") { id } }',
        )
        run(
            client,
            admin,
            'mutation($h: String!) { appointToPost(postId: "jefatura", officialName: $h) { id } }',
            {"h": holder},
        )
    return dict(
        run(
            client,
            admin,
            "mutation($c: ID!, $a: ID!, $d: Date!, $p: ID) { makeCommitment(input: {caseId: $c,"
            ' responsibleAgencyId: "obras", postId: $p, description: "Retirar", dueOn: $d,'
            " assemblyId: $a}) { id version } }",
            {"c": case["id"], "a": assembly["id"], "d": due, "p": post},
        )["makeCommitment"]
    )


HOLD_ASSEMBLY = (
    'mutation { holdAssembly(input: {territoryId: "t1", kind: COMMUNITY_ASSEMBLY,'
    ' heldOn: "2026-11-16", attendance: 20}) { id } }'
)
CABINET_COMMITMENT_SETUP = [
    'mutation { addTerritory(id: "t1", name: "Avisadero", kind: "colonia") { id } }',
    'mutation { addAgency(id: "ssc", name: "Seguridad", level: STATE) { id } }',
    'mutation { addAgency(id: "obras", name: "Obras", level: MUNICIPAL) { id } }',
    'mutation { createTable(input: {id: "gabinete", name: "Gabinete",'
    ' kind: SECURITY_CABINET, memberAgencyIds: ["ssc"]}) { id } }',
]


def cabinet_and_public_commitments(client: TestClient, admin: str) -> list[dict[str, Any]]:
    for mutation in CABINET_COMMITMENT_SETUP:
        run(client, admin, mutation)
    case = run(
        client,
        admin,
        'mutation { raiseCase(input: {territoryId: "t1", theme: SAFETY,'
        ' title: "Asaltos", description: "En la parada"}) { id } }',
    )["raiseCase"]
    run(
        client,
        admin,
        "mutation($c: ID!) { triageCase(caseId: $c, expectedVersion: 1, theme: SAFETY,"
        " priority: HIGH) { id } }",
        {"c": case["id"]},
    )
    run(
        client,
        admin,
        'mutation($c: ID!) { routeCase(caseId: $c, expectedVersion: 2, tableIds: ["gabinete"])'
        " { id } }",
        {"c": case["id"]},
    )
    assembly = run(client, admin, HOLD_ASSEMBLY)["holdAssembly"]["id"]
    return [
        run(
            client,
            admin,
            "mutation($c: ID!, $a: ID!, $t: ID, $asm: ID) { makeCommitment(input: {caseId: $c,"
            ' responsibleAgencyId: $a, tableId: $t, assemblyId: $asm, description: "Atender",'
            ' dueOn: "2026-11-30"}) { id version } }',
            {"c": case["id"], "a": agency, "t": table, "asm": None if table else assembly},
        )["makeCommitment"]
        for agency, table in (("ssc", "gabinete"), ("obras", None))
    ]


def test_a_token_in_connection_init_is_who_subscribes(
    settings: Settings, clock: FixedClock
) -> None:
    # A browser cannot put headers on a WebSocket: GraphiQL sends the token in the
    # connection_init payload, and a cabinet's commitment reaches its member that way.
    secret = settings.secret.get_secret_value()
    admin = mint_token(secret, subject="admin", roles=["admin"], municipality=settings.municipality)
    member = mint_token(
        secret,
        subject="jefe.sector",
        roles=["cabinet_member"],
        municipality=settings.municipality,
        table_ids=["gabinete"],
    )
    with TestClient(create_app(settings, clock=clock)) as client:
        cabinet, public = cabinet_and_public_commitments(client, admin)
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {member}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json(
                {
                    "id": "gabinete",
                    "type": "subscribe",
                    "payload": {"query": "subscription { commitmentChanged { id progress } }"},
                }
            )
            for made in (cabinet, public):  # as the public, only the second would come
                run(
                    client,
                    admin,
                    "mutation($id: ID!, $v: Int!) { reportProgress(commitmentId: $id,"
                    ' expectedVersion: $v, progress: 30, note: "Avance") { version } }',
                    {"id": made["id"], "v": made["version"]},
                )
            for expected in (cabinet, public):  # one at a time: a wrong first never waits
                message = ws.receive_json()
                assert message["payload"]["data"]["commitmentChanged"]["id"] == expected["id"]
            ws.send_json({"id": "gabinete", "type": "complete"})


def test_a_refused_token_in_connection_init_closes_the_connection(
    settings: Settings, clock: FixedClock
) -> None:
    with TestClient(create_app(settings, clock=clock)) as client:
        for authorization in ("Bearer not-a-token", "Basic YWRtaW46YWRtaW4="):
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                ws.send_json(
                    {
                        "type": "connection_init",
                        "payload": {"headers": {"Authorization": authorization}},
                    }
                )
                closed = ws.receive()
                assert closed["type"] == "websocket.close", closed
                assert closed["code"] == 4403


def test_a_websocket_is_closed_when_its_token_expires(
    settings: Settings, clock: FixedClock
) -> None:
    # The token is checked when the connection starts; a socket kept open must not go on
    # reading a cabinet's commitments (or writing) as its caller after the token expired.
    secret = settings.secret.get_secret_value()
    with TestClient(create_app(settings, clock=clock)) as client:
        for where in ("connection_init", "upgrade"):
            short = mint_token(
                secret,
                subject="jefe.sector",
                roles=["cabinet_member"],
                municipality=settings.municipality,
                table_ids=["gabinete"],
                lifetime_seconds=2,
            )
            bearer = {"Authorization": f"Bearer {short}"}
            init, headers = (
                ({"payload": bearer}, {}) if where == "connection_init" else ({}, bearer)
            )
            with client.websocket_connect(
                "/graphql", subprotocols=["graphql-transport-ws"], headers=headers
            ) as ws:
                ws.send_json({"type": "connection_init", **init})
                assert ws.receive_json()["type"] == "connection_ack"
                ws.send_json(
                    {
                        "id": "tablero",
                        "type": "subscribe",
                        "payload": {"query": "subscription { commitmentChanged { id } }"},
                    }
                )
                started = time.monotonic()
                closed = ws.receive()
                assert closed["type"] == "websocket.close", closed
                assert closed["code"] == 4403 and closed["reason"] == "token expired"
                assert time.monotonic() - started < 10


def test_operations_over_a_websocket_count_against_the_rate_limit(
    settings: Settings, clock: FixedClock
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 3})
    with (
        TestClient(create_app(limited, clock=clock)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        answers = []
        for n in range(5):
            ws.send_json(
                {"id": str(n), "type": "subscribe", "payload": {"query": "{ __typename }"}}
            )
            answer = ws.receive_json()
            if answer["type"] == "next":
                assert ws.receive_json()["type"] == "complete"
            answers.append(answer)
        assert [a["type"] for a in answers] == ["next", "next", "next", "error", "error"]
        refused = answers[-1]["payload"][0]
        assert refused["extensions"]["code"] == "RATE_LIMITED"
        assert refused["extensions"]["retryAfter"] >= 1


def test_the_legacy_graphql_ws_protocol_is_not_served(
    settings: Settings, clock: FixedClock
) -> None:
    with (
        TestClient(create_app(settings, clock=clock)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws,
    ):
        closed = ws.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == 4406


def test_tokens_refused_over_websockets_count_against_the_address(
    settings: Settings, clock: FixedClock
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 2})
    with TestClient(create_app(limited, clock=clock)) as client:
        closes = []
        for _ in range(3):
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                payload = {"Authorization": "Bearer adivinado"}
                ws.send_json({"type": "connection_init", "payload": payload})
                closes.append(ws.receive()["code"])
        assert closes == [4403, 4403, 4403]
        # Over HTTP, the same address's next token is refused unchecked.
        refused = client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": "Bearer otro"},
        )
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def test_a_refused_upgrade_token_past_the_limit_is_still_a_plain_refusal(
    settings: Settings, clock: FixedClock
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 1})
    with TestClient(create_app(limited, clock=clock)) as client:
        outcomes = []
        for _ in range(3):
            try:
                with client.websocket_connect(
                    "/graphql",
                    subprotocols=["graphql-transport-ws"],
                    headers={"Authorization": "Bearer adivinado"},
                ) as ws:
                    ws.send_json({"type": "connection_init"})
                    outcomes.append(ws.receive()["type"])
            except WebSocketDenialResponse as denied:
                outcomes.append(denied.status_code)
        assert outcomes == [401, 429, 429]


def test_a_websocket_the_server_closes_leaves_no_expiry_watch_behind(
    settings: Settings, clock: FixedClock
) -> None:
    secret = settings.secret.get_secret_value()
    token = mint_token(secret, subject="admin", roles=["admin"], municipality=settings.municipality)

    async def watches() -> int:
        return sum(1 for task in asyncio.all_tasks() if task.get_name() == EXPIRY_WATCH)

    with TestClient(create_app(settings, clock=clock)) as client:
        for _ in range(3):
            with client.websocket_connect(
                "/graphql",
                subprotocols=["graphql-transport-ws"],
                headers={"Authorization": f"Bearer {token}"},
            ) as ws:
                ws.send_json({"type": "connection_init"})
                assert ws.receive_json()["type"] == "connection_ack"
                assert client.portal is not None and client.portal.call(watches) == 1
                ws.send_json({"type": "no-such-message"})  # the server closes (4400)
                assert ws.receive()["code"] == 4400
            deadline = time.monotonic() + 5
            while client.portal.call(watches) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.portal.call(watches) == 0


def ws_subscribe(ws: Any, op_id: str, query: str, token: str | None = None) -> None:
    init: dict[str, Any] = {"type": "connection_init"}
    if token is not None:
        init["payload"] = {"Authorization": f"Bearer {token}"}
    ws.send_json(init)
    assert ws.receive_json()["type"] == "connection_ack"
    ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query}})


def report_progress(client: TestClient, token: str, commitment_id: str, progress: int) -> None:
    current = run(
        client, token, "query($id: ID!) { commitment(id: $id) { version } }", {"id": commitment_id}
    )["commitment"]
    run(
        client,
        token,
        "mutation($id: ID!, $v: Int!, $p: Int!) { reportProgress(commitmentId: $id,"
        ' expectedVersion: $v, progress: $p, note: "Avance") { version } }',
        {"id": commitment_id, "v": current["version"], "p": progress},
    )


def test_a_live_board_names_today_s_holder_and_counts_today_s_overdue_days(
    settings: Settings, clock: FixedClock, admin: str
) -> None:
    # The board stays open all day: a post that changes hands, or a due date that
    # passes overnight, shows in the next push, not what was true when it connected.
    due = clock.now().date() + timedelta(days=1)
    with TestClient(create_app(settings, clock=clock)) as client:
        made = obras_commitment(client, admin, due=due.isoformat(), holder="Laura Gómez")

        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws_subscribe(
                ws,
                "board",
                "subscription { commitmentChanged { progress accountable { name }"
                " overdue daysOverdue } }",
            )
            for progress, holder, days_overdue in (
                (20, "Laura Gómez", 0),
                (40, "Rosa Martínez", 2),
            ):
                if holder != "Laura Gómez":  # overnight, the post changed hands
                    run(
                        client,
                        admin,
                        'mutation($h: String!) { appointToPost(postId: "jefatura",'
                        " officialName: $h) { id } }",
                        {"h": holder},
                    )
                    clock.advance(timedelta(days=3))
                report_progress(client, admin, made["id"], progress)
                pushed = ws.receive_json()["payload"]["data"]["commitmentChanged"]
                assert pushed == {
                    "progress": progress,
                    "accountable": {"name": holder},
                    "overdue": days_overdue > 0,
                    "daysOverdue": days_overdue,
                }
            ws.send_json({"id": "board", "type": "complete"})


def test_errors_over_a_websocket_carry_their_code_in_the_caller_s_language(
    settings: Settings, clock: FixedClock, admin: str
) -> None:
    with TestClient(create_app(settings, clock=clock)) as client:
        cabinet, _ = cabinet_and_public_commitments(client, admin)
        spanish = {"Accept-Language": "es-MX"}
        with client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers=spanish
        ) as ws:
            ws_subscribe(
                ws,
                "unsigned",
                'mutation { addAgency(id: "x", name: "X", level: MUNICIPAL) { id } }',
            )
            unsigned = ws.receive_json()
            assert unsigned["type"] == "next", unsigned
            (error,) = unsigned["payload"]["errors"]
            assert error["extensions"]["code"] == "UNAUTHENTICATED"
            assert error["message"].startswith("Primero inicie sesión")
            assert ws.receive_json() == {"id": "unsigned", "type": "complete"}

            ws.send_json(
                {
                    "id": "bad-filter",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription { commitmentChanged(filter: {status: FOO}) { id } }"
                    },
                }
            )
            refused = ws.receive_json()
            assert refused["type"] == "error", refused
            (error,) = refused["payload"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
            assert "FOO" in error["message"] and "does not exist" not in error["message"]

        with client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers=spanish
        ) as ws:
            ws_subscribe(
                ws,
                "stale",
                f'mutation {{ reportProgress(commitmentId: "{cabinet["id"]}", expectedVersion: 99,'
                ' progress: 10, note: "Avance") { version } }',
                token=admin,
            )
            stale = ws.receive_json()
            (error,) = stale["payload"]["errors"]
            assert error["extensions"]["code"] == "CONFLICT"
            assert error["message"].startswith("Alguien más modificó")
