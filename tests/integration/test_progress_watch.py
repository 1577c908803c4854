"""Read your own writes: a waiting request is woken by the runners' announcements,
and still gets its answer by reading the tables when it cannot listen."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from projection_helpers import build_directory, env_for

from cases.application import CommandContext, TequioApplication
from cases.values import GovernmentLevel
from projections.positions import PROGRESS_CHANNEL, ProgressWatch, announcement, positions
from projections.registry import PROJECTIONS
from projections.runtime import ProjectionService
from tequio.database import ConnectionInfo


@pytest.fixture
async def watch(pool: asyncpg.Pool, db: ConnectionInfo) -> AsyncIterator[ProgressWatch]:
    progress = ProgressWatch(pool, db.url())
    await progress.start()
    for _ in range(200):
        if progress.listening:
            break
        await asyncio.sleep(0.01)
    yield progress
    await progress.close()


@pytest.fixture
def service(db: ConnectionInfo) -> Iterator[ProjectionService]:
    running = ProjectionService(env_for(db), check_interval=5.0)
    running.start()
    yield running
    running.stop()


async def test_a_write_is_visible_in_every_read_model_when_the_wait_ends(
    app: TequioApplication,
    ctx: CommandContext,
    pool: asyncpg.Pool,
    watch: ProgressWatch,
    service: ProjectionService,
) -> None:
    assert watch.listening
    build_directory(app, ctx)
    result = app.add_agency(
        ctx, agency_id="nueva", name="Agencia nueva", level=GovernmentLevel.STATE
    )

    assert await watch.wait_for(result.notification_id, timeout=10)

    reached = await positions(pool)
    assert min(reached.values()) >= result.notification_id
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT name FROM directory_agencies WHERE id = 'nueva'") == (
            "Agencia nueva"
        )


async def test_the_runners_announcements_wake_a_waiting_request(
    pool: asyncpg.Pool, watch: ProgressWatch
) -> None:
    # No runner and no tracking row: only the announcements can end this wait.
    waiting = asyncio.create_task(watch.wait_for(42, timeout=10))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    async with pool.acquire() as conn:
        for name in PROJECTIONS:
            await conn.execute("SELECT pg_notify($1, $2)", PROGRESS_CHANNEL, f"{name}:42")
    assert await waiting


async def test_one_announcement_names_every_read_model_a_batch_brought_forward(
    pool: asyncpg.Pool, watch: ProgressWatch
) -> None:
    waiting = asyncio.create_task(watch.wait_for(42, timeout=10))
    await asyncio.sleep(0.05)
    async with pool.acquire() as conn:
        await conn.execute(
            "SELECT pg_notify($1, $2)", PROGRESS_CHANNEL, announcement(list(PROJECTIONS), 42)
        )
    assert await waiting


async def test_a_batch_announces_once_for_all_its_read_models_in_it(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    service: ProjectionService,
) -> None:
    heard: list[str] = []
    listener = await asyncpg.connect(db.url())
    try:
        await listener.add_listener(PROGRESS_CHANNEL, lambda *args: heard.append(args[-1]))
        build_directory(app, ctx)
        head = app.recorder.max_notification_id()
        for _ in range(500):
            if any(a.endswith(f":{head}") for a in heard):
                break
            await asyncio.sleep(0.01)
    finally:
        await listener.close()
    # (A runner that was late would announce on its own too: that is not asserted.)
    named = [sorted(a.rpartition(":")[0].split(",")) for a in heard if a.endswith(f":{head}")]
    assert sorted(PROJECTIONS) in named


async def test_a_wait_for_one_read_model_ignores_the_others(
    pool: asyncpg.Pool, watch: ProgressWatch
) -> None:
    waiting = asyncio.create_task(watch.wait_for(7, timeout=5, names=["commitments"]))
    await asyncio.sleep(0.05)
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_notify($1, $2)", PROGRESS_CHANNEL, "commitments:7")
    assert await waiting
    assert not await watch.wait_for(7, timeout=0.3)


async def test_nonsense_on_the_channel_is_ignored(pool: asyncpg.Pool, watch: ProgressWatch) -> None:
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_notify($1, $2)", PROGRESS_CHANNEL, "directory:lots")
        await conn.execute("SELECT pg_notify($1, $2)", PROGRESS_CHANNEL, "nothing here")
    assert not await watch.wait_for(1, timeout=0.3, names=["directory"])
    assert watch.listening


async def test_without_listening_a_wait_reads_the_tables(
    app: TequioApplication,
    ctx: CommandContext,
    pool: asyncpg.Pool,
    db: ConnectionInfo,
    service: ProjectionService,
) -> None:
    deaf = ProgressWatch(pool, db.with_database("no_such_database").url())
    await deaf.start()
    try:
        build_directory(app, ctx)
        head = app.recorder.max_notification_id()
        assert await deaf.wait_for(head, timeout=10)
        assert not deaf.listening
    finally:
        await deaf.close()


async def test_a_wait_gives_up_at_its_timeout(
    app: TequioApplication, ctx: CommandContext, watch: ProgressWatch
) -> None:
    build_directory(app, ctx)  # no read model runs
    assert not await watch.wait_for(app.recorder.max_notification_id(), timeout=0.3)


async def test_what_was_announced_before_a_rebuild_does_not_count_after_it(
    pool: asyncpg.Pool, watch: ProgressWatch
) -> None:
    waiting = asyncio.create_task(watch.wait_for(50, timeout=5))
    await asyncio.sleep(0.05)
    async with pool.acquire() as conn:
        for name in PROJECTIONS:
            await conn.execute("SELECT pg_notify($1, $2)", PROGRESS_CHANNEL, f"{name}:50")
    assert await waiting
    # The read models are rebuilt from zero (no tracking rows): a new wait reads the
    # tables first and is not satisfied by the old announcements.
    assert not await watch.wait_for(50, timeout=0.3)
