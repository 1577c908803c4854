"""Races: many clients update one commitment at once from the same version (one wins,
every other one is told CONFLICT, nothing is a server error or a half write), and a
retry that races its own first attempt (it gets the first result, not CONFLICT)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fault_harness import (
    AGENCY,
    MAKE,
    MUNICIPALITY,
    PROGRESS,
    RAISE,
    TERRITORY,
    Client,
    Command,
    EventStore,
    Ledger,
    Processes,
    assert_read_models_equal_a_rebuild,
    due_on,
    explain,
    receipt_id,
    set_up_directory,
    wait_caught_up,
)

from api.app import create_app
from cases.application import CommandContext, CommandResult, TequioApplication
from tequio.database import ConnectionInfo
from tequio.settings import Settings

CLIENTS = 12


async def test_concurrent_updates_of_one_commitment_one_wins_the_rest_conflict(
    procs: Processes,
) -> None:
    api = procs.serve()
    ledger = Ledger()
    client = Client(api.url, ledger)
    try:
        with explain(api):
            await asyncio.to_thread(api.wait_ready)
            await set_up_directory(client, "race")
            case = await client.send(
                Command(
                    "race-case",
                    "raiseCase",
                    RAISE,
                    {
                        "input": {
                            "territoryId": TERRITORY,
                            "theme": "URBAN_SERVICES",
                            "title": "Caso disputado",
                            "description": "Doce clientes a la vez",
                        }
                    },
                    "Caso disputado",
                )
            )
            made = await client.send(
                Command(
                    "race-commitment",
                    "makeCommitment",
                    MAKE,
                    {
                        "input": {
                            "caseId": case.data["id"],
                            "responsibleAgencyId": AGENCY,
                            "description": "Acuerdo disputado",
                            "dueOn": due_on(),
                            "assemblyId": client.assembly_id,
                        }
                    },
                    "Acuerdo disputado",
                )
            )
            commitment_id = made.data["id"]
            assert made.data["version"] == 1

            # Twelve clients, each its own connection, each its own key, same version.
            clients = [Client(api.url, Ledger()) for _ in range(CLIENTS)]
            try:
                responses = await asyncio.gather(
                    *(
                        c.post(
                            PROGRESS,
                            {"id": commitment_id, "v": 1, "p": 5 + n, "note": f"Avance {n}"},
                            key=f"race-progress-{n}",
                        )
                        for n, c in enumerate(clients)
                    )
                )
            finally:
                await asyncio.gather(*(c.close() for c in clients))

            assert all(r.status_code == 200 for r in responses), [
                (r.status_code, r.text[:200]) for r in responses
            ]
            bodies = [r.json() for r in responses]
            winners = [n for n, b in enumerate(bodies) if not b.get("errors")]
            assert len(winners) == 1, bodies
            winner = winners[0]
            assert bodies[winner]["data"]["reportProgress"]["version"] == 2
            for n, body in enumerate(bodies):
                if n == winner:
                    continue
                codes = [e["extensions"]["code"] for e in body["errors"]]
                reasons = {e["extensions"].get("reason") for e in body["errors"]}
                assert codes == ["CONFLICT"], body
                assert reasons <= {"stale_version", "concurrent_write"}, body

            # The event store holds the winner's change once, and no trace of the others.
            store = await asyncio.to_thread(EventStore.read, procs.db)
            progress = store.of("Commitment.ProgressReported")
            assert [e.note for e in progress] == [f"Avance {winner}"]
            versions = sorted(
                e.originator_version
                for e in store.events
                if e.originator_id == progress[0].originator_id
            )
            assert versions == [1, 2]
            receipts = store.receipts()
            for n in range(CLIENTS):
                expected = 1 if n == winner else 0
                rid = receipt_id("falla.admin", f"race-progress-{n}")
                assert receipts[rid] == expected, n

            # A loser retrying under its own key is still told CONFLICT (its version is
            # stale); the winner retrying gets its first answer back.
            loser = next(n for n in range(CLIENTS) if n != winner)
            again = await client.post(
                PROGRESS,
                {"id": commitment_id, "v": 1, "p": 5 + loser, "note": f"Avance {loser}"},
                key=f"race-progress-{loser}",
            )
            assert again.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
            replay = await client.post(
                PROGRESS,
                {"id": commitment_id, "v": 1, "p": 5 + winner, "note": f"Avance {winner}"},
                key=f"race-progress-{winner}",
            )
            body = replay.json()
            assert "errors" not in body, body
            assert body["extensions"]["idempotentReplays"] == ["reportProgress"]

            await asyncio.to_thread(wait_caught_up, procs.db)
            await asyncio.to_thread(procs.stop_all)
            await asyncio.to_thread(assert_read_models_equal_a_rebuild, procs.db)
    finally:
        await client.close()


@pytest.mark.parametrize("moment", ["before the retry decides", "after the retry decided"])
async def test_a_retry_racing_its_own_first_attempt_gets_the_first_result(
    fault_db: ConnectionInfo, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    """A client whose first attempt is still running (its answer late, or lost) retries
    under the same key; the first attempt commits while the retry runs: before the retry
    decides (it then sees a newer version) or after (its save then collides). The retry
    must get the first result, replayed: not CONFLICT for a change that is its own."""
    settings = Settings(
        DATABASE_URL=fault_db.url(),
        TEQUIO_MUNICIPALITY=MUNICIPALITY,
        TEQUIO_RATE_LIMIT_PER_MINUTE=0,
        TEQUIO_POOL_SIZE=2,
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=90, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        ledger = Ledger()
        client = Client("http://tequio.test", ledger)
        await client.http.aclose()
        client.http = httpx.AsyncClient(transport=transport, base_url="http://tequio.test")
        try:
            await set_up_directory(client, "late")
            case = await client.send(
                Command(
                    "late-case",
                    "raiseCase",
                    RAISE,
                    {
                        "input": {
                            "territoryId": TERRITORY,
                            "theme": "URBAN_SERVICES",
                            "title": "Caso con respuesta tardía",
                            "description": "El primer intento sigue en curso",
                        }
                    },
                    "Caso con respuesta tardía",
                )
            )
            made = await client.send(
                Command(
                    "late-commitment",
                    "makeCommitment",
                    MAKE,
                    {
                        "input": {
                            "caseId": case.data["id"],
                            "responsibleAgencyId": AGENCY,
                            "description": "Acuerdo con respuesta tardía",
                            "dueOn": due_on(),
                            "assemblyId": client.assembly_id,
                        }
                    },
                    "Acuerdo con respuesta tardía",
                )
            )
            variables = {"id": made.data["id"], "v": 1, "p": 40, "note": "Avance tardío"}

            original = TequioApplication._execute
            first_attempt_done = []

            def first_attempt_commits_meanwhile(
                self: TequioApplication,
                ctx: CommandContext,
                command: str,
                params: dict[str, Any],
                decide: Callable[[], Any],
                **kwargs: Any,
            ) -> CommandResult:
                def first_attempt_commits() -> None:
                    # The first attempt, same actor, key and body, commits right now.
                    first_attempt_done.append(True)
                    self.report_progress(
                        ctx, commitment_id=made.data["id"], expected_version=1,
                        progress=40, note="Avance tardío",
                    )  # fmt: skip

                def decide_with_the_race() -> Any:
                    racing = (ctx.idempotency_key or "").startswith("late-progress")
                    racing = racing and not first_attempt_done
                    if racing and moment == "before the retry decides":
                        first_attempt_commits()
                    outcome = decide()
                    if racing and moment == "after the retry decided":
                        first_attempt_commits()
                    return outcome

                return original(self, ctx, command, params, decide_with_the_race, **kwargs)

            monkeypatch.setattr(TequioApplication, "_execute", first_attempt_commits_meanwhile)
            response = await client.post(PROGRESS, variables, key="late-progress")
            monkeypatch.undo()
            assert first_attempt_done
            body = response.json()
            assert response.status_code == 200 and "errors" not in body, body
            assert body["data"]["reportProgress"]["version"] == 2, body
            assert body["extensions"]["idempotentReplays"] == ["reportProgress"], body
            store = await asyncio.to_thread(EventStore.read, fault_db)
            assert [e.note for e in store.of("Commitment.ProgressReported")] == ["Avance tardío"]
        finally:
            await client.close()
