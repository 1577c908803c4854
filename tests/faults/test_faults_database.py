"""PostgreSQL stopped at once (``pg_ctl stop -m immediate``) under a running API: typed
refusals while it is down, no hang, recovery on its own, and nothing lost or doubled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

import httpx
from fault_harness import (
    RAISE,
    TERRITORY,
    Client,
    Command,
    Ledger,
    OwnPostgres,
    Processes,
    Workload,
    assert_exactly_once,
    assert_read_models_equal_a_rebuild,
    assert_replays,
    explain,
    set_up_directory,
    wait_caught_up,
)

# While PostgreSQL is down, an answer must come within this (no hang) and be typed.
DOWN_ANSWER_WITHIN = 15.0
TYPED_UNAVAILABLE = "SERVICE_UNAVAILABLE"


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    """The answer and how long it took; fails the test if it takes longer than allowed."""
    started = time.monotonic()
    response = await asyncio.wait_for(request, DOWN_ANSWER_WITHIN)
    return response, time.monotonic() - started


def assert_typed_unavailable(response: httpx.Response, what: str) -> None:
    """503, or a GraphQL answer whose every error says SERVICE_UNAVAILABLE: never a bare
    500 and never INTERNAL_SERVER_ERROR."""
    assert response.status_code != 500, f"{what}: 500 {response.text[:300]}"
    body = response.json()
    errors = body.get("errors") or []
    if response.status_code == 503 and not errors:
        return
    assert errors, f"{what}: {response.status_code} {response.text[:300]}"
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    assert codes == {TYPED_UNAVAILABLE}, f"{what}: {response.status_code} {codes} {errors}"
    assert response.status_code in (200, 503), f"{what}: {response.status_code}"


async def test_postgres_stopped_immediately_is_survived(
    own_postgres: OwnPostgres, procs: Processes
) -> None:
    server = procs.serve()
    await asyncio.to_thread(server.wait_ready)
    ledger = Ledger()
    client = Client(server.url, ledger)
    probe = Client(server.url, Ledger())
    workload: Workload | None = None
    try:
        with explain(server):
            await set_up_directory(client, "pg")
            workload = Workload(client, "pg")
            await workload.wait_for_acks(12)

            await asyncio.to_thread(own_postgres.stop_immediately)
            assert not own_postgres.accepts_connections()
            down_since = time.monotonic()

            # Down: /readyz says so, queries and writes are refused with a type, quickly.
            readyz, took = await timed(probe.http.get("/readyz"))
            assert readyz.status_code == 503, readyz.text
            assert readyz.json()["checks"]["database"].startswith("unreachable"), readyz.text
            for attempt in range(3):
                response, took = await timed(probe.post("{ cases(first: 5) { totalCount } }"))
                assert_typed_unavailable(response, f"query while down ({took:.1f} s)")
                title = f"Caso mientras no hay base {attempt}"
                response, took = await timed(
                    probe.post(
                        RAISE,
                        {
                            "input": {
                                "territoryId": TERRITORY,
                                "theme": "URBAN_SERVICES",
                                "title": title,
                                "description": "Enviado con PostgreSQL detenido",
                            }
                        },
                        key=f"pg-down-{attempt}",
                    )
                )
                assert_typed_unavailable(response, f"mutation while down ({took:.1f} s)")
            # Outside GraphQL too: the event feed and the metrics say 503, at once.
            for path in ("/events", "/metrics"):
                response, took = await timed(
                    probe.http.get(path, headers={"Authorization": f"Bearer {probe.token}"})
                )
                assert response.status_code == 503, f"{path}: {response.status_code}"
                assert response.headers["Retry-After"], path
                assert_typed_unavailable(response, f"{path} while down ({took:.1f} s)")
            # Keep it down a little while the writers keep retrying.
            await asyncio.sleep(max(0.0, 3.0 - (time.monotonic() - down_since)))
            assert workload.failed() is None

            await asyncio.to_thread(own_postgres.start)
            # Back: the API recovers by itself (no restart): ready again, writes succeed.
            await asyncio.to_thread(server.wait_ready, 90.0)
            assert server.alive() and server.starts == 1
            await workload.wait_for_acks(8)
            await workload.finish()
            after = await client.send(
                Command(
                    "pg-after",
                    "raiseCase",
                    RAISE,
                    {
                        "input": {
                            "territoryId": TERRITORY,
                            "theme": "URBAN_SERVICES",
                            "title": "Caso después de la caída",
                            "description": "PostgreSQL volvió",
                        }
                    },
                    "Caso después de la caída",
                )
            )
            assert after.attempts == 1

            # No answer while down was a bare 500 or an internal error.
            print(f"postgres stopped: {ledger.summary()}")
            assert not ledger.unexpected(), ledger.summary()
            await assert_replays(client, ledger, procs.db)
            # What the probe sent while down was refused: never written.
            store = assert_exactly_once(procs.db, ledger, "falla.admin")
            titles = store.texts("Case.Raised", "title")
            assert not [t for t in titles if t.startswith("Caso mientras no hay base")]
            await asyncio.to_thread(wait_caught_up, procs.db)
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(assert_read_models_equal_a_rebuild, procs.db)
    finally:
        if workload is not None:
            await workload.cancel()
        await client.close()
        await probe.close()
