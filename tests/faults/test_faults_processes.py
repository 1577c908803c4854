"""Processes killed with SIGKILL under load: the projection worker mid-batch, and the API
mid-write. Clients keep a ledger of what was acknowledged and retry under the same key;
afterwards every acknowledged command is in the event store exactly once and every read
model equals a rebuild from the event store."""

from __future__ import annotations

import asyncio
import time

from fault_harness import (
    Client,
    Ledger,
    Processes,
    TequioProcess,
    Workload,
    assert_exactly_once,
    assert_read_models_equal_a_rebuild,
    assert_replays,
    explain,
    head,
    lag,
    positions,
    set_up_directory,
    wait_caught_up,
    wait_until,
)

from tequio.database import ConnectionInfo

WORKER_KILLS = 3
API_KILLS = 2


def kill_with_a_backlog(db: ConnectionInfo, worker: TequioProcess, timeout: float = 20) -> int:
    """SIGKILLs the worker at a moment when events wait for it (it is busy with a batch);
    returns that backlog (0 if none was seen before ``timeout``: killed anyway)."""
    deadline = time.monotonic() + timeout
    backlog = 0
    while time.monotonic() < deadline:
        backlog = lag(db)
        if backlog > 0:
            break
        time.sleep(0.002)
    worker.kill()
    return backlog


def wait_for_writes_while_down(
    db: ConnectionInfo, ledger: Ledger, since: int, count: int, timeout: float = 30
) -> int:
    """Until ``count`` more events are written, or ``count`` more answers say PENDING
    (written, not yet visible: a writer retries that same command until the worker is
    back, so when the kill caught every writer just after a write, nothing new comes);
    returns the head then, the backlog the restarted worker must process."""
    pending = ledger.seen["code PENDING"]
    wait_until(
        lambda: head(db) >= since + count or ledger.seen["code PENDING"] >= pending + count,
        timeout,
        f"{count} events written or {count} PENDING answers while the worker is down",
    )
    return head(db)


def wait_processed(db: ConnectionInfo, upto: int, timeout: float = 60) -> None:
    wait_until(
        lambda: min(positions(db).values()) >= upto,
        timeout,
        f"the restarted worker to process up to {upto}",
        interval=0.1,
    )


async def verify(client: Client, ledger: Ledger, procs: Processes, scenario: str) -> None:
    """After the faults: no internal error met, exactly once, replays write nothing, and
    (every process stopped) read models equal a rebuild."""
    db = procs.db
    print(f"{scenario}: {ledger.summary()}")
    assert not ledger.unexpected(), ledger.summary()
    await asyncio.to_thread(wait_caught_up, db)
    assert_exactly_once(db, ledger, "falla.admin")
    await assert_replays(client, ledger, db)
    await asyncio.to_thread(wait_caught_up, db)
    await asyncio.to_thread(procs.stop_all)
    await asyncio.to_thread(assert_read_models_equal_a_rebuild, db)


async def test_projection_worker_killed_mid_batch_and_restarted(procs: Processes) -> None:
    api = procs.serve(projections=False)
    worker = procs.worker()
    db = procs.db
    ledger = Ledger()
    client = Client(api.url, ledger)
    workload: Workload | None = None
    try:
        with explain(api, worker):
            await asyncio.to_thread(api.wait_ready)
            await set_up_directory(client, "worker")
            workload = Workload(client, "worker")
            backlogs = []
            for _ in range(WORKER_KILLS):
                await workload.wait_for_acks(6)
                backlogs.append(await asyncio.to_thread(kill_with_a_backlog, db, worker))
                assert not worker.alive()
                # The writers go on with no worker: commands are written, not yet visible.
                down_at = await asyncio.to_thread(head, db)
                backlog_to = await asyncio.to_thread(
                    wait_for_writes_while_down, db, ledger, down_at, 4
                )
                assert backlog_to > min(positions(db).values())
                worker.start()
                await asyncio.to_thread(wait_processed, db, backlog_to)
            await workload.finish()
            assert worker.starts == WORKER_KILLS + 1
            assert any(backlog > 0 for backlog in backlogs), backlogs
            print(f"worker killed with backlogs of {backlogs} events")
            await verify(client, ledger, procs, "worker killed")
    finally:
        if workload is not None:
            await workload.cancel()
        await client.close()


async def test_api_killed_mid_write_and_restarted(procs: Processes) -> None:
    api = procs.serve()
    ledger = Ledger()
    client = Client(api.url, ledger)
    workload: Workload | None = None
    try:
        with explain(api):
            await asyncio.to_thread(api.wait_ready)
            await set_up_directory(client, "api")
            workload = Workload(client, "api")
            in_flight = []
            for _ in range(API_KILLS):
                await workload.wait_for_acks(8)
                in_flight.append(await workload.wait_in_flight())
                api.kill()
                assert not api.alive()
                # Same port: the clients' retries find it again once it is back.
                api.start()
                await asyncio.to_thread(api.wait_ready)
            await workload.wait_for_acks(8)
            await workload.finish()
            assert api.starts == API_KILLS + 1
            print(f"api killed with {in_flight} requests in flight")
            await verify(client, ledger, procs, "api killed")
    finally:
        if workload is not None:
            await workload.cancel()
        await client.close()
