"""One rate limit for a deployment of several processes (ADR 0030): two apps on one
database stand for two processes of ``tequio serve --workers 2``, or two replicas.

A caller that spreads its requests over them reaches the limit once, not twice.
Real time: the shared levels refill with the database's clock. The limits here are a
few requests a minute, so a token earned back during a test does not change what it
sees."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from graphql_client import GraphQLClient

from api.app import create_app
from api.shared_allowances import TABLE, SharedAllowances
from cases.clock import FixedClock
from tequio.settings import Settings

CASE_COUNT = "{ cases { totalCount } }"
# Rosa's bucket in the table, under a limit of 2 a minute in Iztapalapa.
ROSA_AT_TWO = "iztapalapa/2/subject:rosa.martinez"
# The rounds are run by the tests, in the order each needs: the processes' own rounds
# come a minute apart (the last test lets them run by themselves).
SHARE_EVERY = 60.0


@dataclass
class Process:
    app: FastAPI
    api: GraphQLClient

    @property
    def allowances(self) -> SharedAllowances:
        allowances: SharedAllowances = self.app.state.shared_allowances
        return allowances

    async def shared(self) -> None:
        """One round of sharing: what this process took is counted by the deployment,
        and it knows what the others' took, as of now."""
        assert await self.allowances.share()

    async def status(self, token: str | None = None) -> int:
        return (await self.api.post(CASE_COUNT, token=token)).status_code


@asynccontextmanager
async def processes(
    settings: Settings,
    clock: FixedClock,
    *,
    count: int = 2,
    address: str = "203.0.113.5",
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncIterator[list[Process]]:
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(count):
            app = create_app(settings, clock=clock, monotonic=monotonic)
            manager = await stack.enter_async_context(
                LifespanManager(app, startup_timeout=60, shutdown_timeout=30)
            )
            transport = httpx.ASGITransport(app=manager.app, client=(address, 4000))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://tequio.test")
            )
            started.append(Process(app, GraphQLClient(http, settings)))
        yield started


def limited(settings: Settings, per_minute: int, share: float = SHARE_EVERY) -> Settings:
    return settings.model_copy(
        update={"rate_limit_per_minute": per_minute, "rate_limit_share_seconds": share}
    )


async def test_a_caller_spreading_requests_over_two_processes_reaches_the_limit_once(
    settings: Settings, clock: FixedClock
) -> None:
    async with processes(limited(settings, 4), clock) as (first, second):
        rosa = first.api.token("rosa.martinez", "coordinator")
        assert [await first.status(rosa) for _ in range(3)] == [200, 200, 200]
        await first.shared()
        await second.shared()
        # The second process has heard of the three: one request is left, on either.
        assert await second.status(rosa) == 200
        response = await second.api.post(CASE_COUNT, token=rosa)
        assert response.status_code == 429, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # Four a minute: the next one is earned back within 15 seconds.
        assert 1 <= int(response.headers["retry-after"]) <= 15
        await second.shared()
        await first.shared()
        assert await first.status(rosa) == 429
        # Another caller is not affected.
        assert await first.status(first.api.token("marta.lopez", "secretary")) == 200


async def test_what_each_process_let_through_adds_up(settings: Settings, clock: FixedClock) -> None:
    async with processes(limited(settings, 4), clock) as (first, second):
        rosa = first.api.token("rosa.martinez", "coordinator")
        assert [await first.status(rosa), await first.status(rosa)] == [200, 200]
        assert [await second.status(rosa), await second.status(rosa)] == [200, 200]
        await first.shared()
        await second.shared()
        await first.shared()
        assert [await first.status(rosa), await second.status(rosa)] == [429, 429]


async def test_guessing_tokens_over_two_processes_is_held_to_one_allowance(
    settings: Settings, clock: FixedClock
) -> None:
    async with processes(limited(settings, 2), clock) as (first, second):
        good = first.api.token("rosa.martinez", "coordinator")
        assert await first.status("adivinado") == 401
        assert await first.status("otro-intento") == 401
        await first.shared()
        await second.shared()
        # The address spent its refused tokens on the first process: the second does
        # not check its tokens either, not even a right one.
        assert await second.status("tercer-intento") == 429
        assert await second.status(good) == 429


async def test_the_public_from_one_address_shares_one_allowance(
    settings: Settings, clock: FixedClock
) -> None:
    async with processes(limited(settings, 2), clock, count=3) as (first, second, third):
        assert await first.status() == 200
        assert await second.status() == 200
        # The third has never seen this address: it starts where the others left it.
        for process in (first, second, third, first):
            await process.shared()
        assert [await p.status() for p in (first, second, third)] == [429, 429, 429]


async def test_with_sharing_off_each_process_counts_alone(
    settings: Settings, clock: FixedClock
) -> None:
    async with processes(limited(settings, 2, share=0), clock) as (first, second):
        assert first.app.state.shared_allowances is None
        rosa = first.api.token("rosa.martinez", "coordinator")
        assert [await first.status(rosa) for _ in range(3)] == [200, 200, 429]
        await asyncio.sleep(0.2)
        assert [await second.status(rosa) for _ in range(3)] == [200, 200, 429]


async def test_another_municipality_keeps_its_own_allowances(
    settings: Settings, clock: FixedClock
) -> None:
    # A name as long as the other's: a key read without its municipality would match.
    other = limited(settings, 2).model_copy(update={"municipality": "cuajimalpa"})
    async with (
        processes(limited(settings, 2), clock, count=1) as (iztapalapa,),
        processes(other, clock, count=1) as (cuajimalpa,),
    ):
        # The same person's name, signed for each municipality: two callers.
        here = iztapalapa.api.token("rosa.martinez", "coordinator")
        there = cuajimalpa.api.token("rosa.martinez", "coordinator")
        assert [await iztapalapa.status(here) for _ in range(3)] == [200, 200, 429]
        await iztapalapa.shared()
        await cuajimalpa.shared()
        assert [await cuajimalpa.status(there) for _ in range(3)] == [200, 200, 429]


async def test_while_the_levels_cannot_be_shared_each_process_still_limits(
    settings: Settings, clock: FixedClock
) -> None:
    async with processes(limited(settings, 2, share=60), clock, count=1) as (alone,):
        rosa = alone.api.token("rosa.martinez", "coordinator")
        assert await alone.status(rosa) == 200
        runtime = alone.app.state.runtime
        # The table gone (a restore, an operator's mistake): a round fails, says so...
        async with runtime.pool.acquire() as conn:
            await conn.execute(f"DROP TABLE {TABLE}")
        assert await alone.allowances.share() is False
        # ...and the process goes on counting what it let through.
        assert [await alone.status(rosa), await alone.status(rosa)] == [200, 429]
        async with runtime.pool.acquire() as conn:
            await conn.execute(
                f"CREATE UNLOGGED TABLE {TABLE} (key text PRIMARY KEY,"
                " tokens double precision NOT NULL, updated_at timestamptz NOT NULL)"
            )
        # Back: the two requests it kept are shared, not lost.
        assert await alone.allowances.share() is True
        async with runtime.pool.acquire() as conn:
            tokens = await conn.fetchval(f"SELECT tokens FROM {TABLE} WHERE key = $1", ROSA_AT_TWO)
        assert tokens is not None and tokens < 0.5


async def rounds_pass(process: Process, count: int) -> None:
    target = process.allowances.rounds + count
    async with asyncio.timeout(10):
        while process.allowances.rounds < target:  # noqa: ASYNC110 - a counter, no event
            await asyncio.sleep(0.01)


async def test_the_processes_share_by_themselves_every_interval(
    settings: Settings, clock: FixedClock
) -> None:
    async with processes(limited(settings, 2, share=0.05), clock) as (first, second):
        rosa = first.api.token("rosa.martinez", "coordinator")
        assert [await first.status(rosa), await first.status(rosa)] == [200, 200]
        # No one asks: the first sends its count in its next round, the second hears
        # of it in one of its own after that.
        await rounds_pass(first, 2)
        await rounds_pass(second, 2)
        assert await second.status(rosa) == 429


async def level_of(process: Process, key: str) -> float | None:
    async with process.app.state.runtime.pool.acquire() as conn:
        tokens: float | None = await conn.fetchval(
            f"SELECT tokens FROM {TABLE} WHERE key = $1", key
        )
    return tokens


async def test_a_burst_over_several_processes_is_a_debt_paid_back_by_waiting(
    settings: Settings, clock: FixedClock
) -> None:
    async with processes(limited(settings, 2), clock, count=3) as trio:
        rosa = trio[0].api.token("rosa.martinez", "coordinator")
        # Before any of them hears of the others, each lets through a whole bucket.
        for process in trio:
            assert [await process.status(rosa), await process.status(rosa)] == [200, 200]
        for process in (*trio, trio[0]):
            await process.shared()
        # Six through against a bucket of two: four owed, at two a minute.
        level = await level_of(trio[0], ROSA_AT_TWO)
        assert level is not None and -4.1 < level < -3.9
        response = await trio[0].api.post(CASE_COUNT, token=rosa)
        assert response.status_code == 429
        assert 145 <= int(response.headers["retry-after"]) <= 150


async def test_requests_let_through_while_a_round_is_on_its_way_are_counted_once(
    settings: Settings, clock: FixedClock
) -> None:
    key = "iztapalapa/6/subject:rosa.martinez"
    async with processes(limited(settings, 6), clock, count=1) as (alone,):
        rosa = alone.api.token("rosa.martinez", "coordinator")
        assert [await alone.status(rosa), await alone.status(rosa)] == [200, 200]
        await alone.shared()
        assert await alone.status(rosa) == 200
        holder = await asyncpg.connect(settings.database_url)
        try:
            # Another round holds the caller's row: this round waits on it...
            hold = holder.transaction()
            await hold.start()
            await holder.execute(f"SELECT 1 FROM {TABLE} WHERE key = $1 FOR UPDATE", key)
            round_ = asyncio.create_task(alone.allowances.share())
            async with asyncio.timeout(10):
                while not await holder.fetchval(  # noqa: ASYNC110 - PostgreSQL's state
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE '%tequio_rate_limits%' AND pid <> pg_backend_pid()"
                ):
                    await asyncio.sleep(0.01)
            # ...while two more requests go through.
            assert [await alone.status(rosa), await alone.status(rosa)] == [200, 200]
            await hold.rollback()
            assert await round_ is True
        finally:
            await holder.close()
        # Five of six taken: one left, whichever way the round and the requests met.
        assert [await alone.status(rosa), await alone.status(rosa)] == [200, 429]
        await alone.shared()
        level = await level_of(alone, key)
        assert level is not None and level < 0.1


async def test_a_process_starting_late_sees_what_the_others_earned_back(
    settings: Settings, clock: FixedClock
) -> None:
    async with processes(limited(settings, 2), clock, count=1) as (first,):
        rosa = first.api.token("rosa.martinez", "coordinator")
        assert [await first.status(rosa), await first.status(rosa)] == [200, 200]
        await first.shared()
        # Thirty seconds ago, at two a minute: one request earned back since.
        async with first.app.state.runtime.pool.acquire() as conn:
            await conn.execute(
                f"UPDATE {TABLE} SET updated_at = updated_at - interval '30 seconds'"
                " WHERE key = $1",
                ROSA_AT_TWO,
            )
        async with processes(limited(settings, 2), clock, count=1) as (late,):
            await late.shared()
            assert [await late.status(rosa), await late.status(rosa)] == [200, 429]
            await late.shared()
            # Spent from the refilled level, not from the stored one.
            level = await level_of(late, ROSA_AT_TWO)
            assert level is not None and -0.1 < level < 0.1


async def test_buckets_full_again_are_deleted_and_debts_are_kept(
    settings: Settings, clock: FixedClock
) -> None:
    async with processes(limited(settings, 2), clock, count=1) as (alone,):
        rosa = alone.api.token("rosa.martinez", "coordinator")
        marta = alone.api.token("marta.lopez", "secretary")
        for token in (rosa, rosa, marta):
            assert await alone.status(token) == 200
        await alone.shared()
        marta_key = "iztapalapa/2/subject:marta.lopez"
        async with alone.app.state.runtime.pool.acquire() as conn:
            # Marta's request was 31 s ago (full again); another deployment's row too.
            await conn.execute(
                f"UPDATE {TABLE} SET updated_at = updated_at - interval '31 seconds'"
                " WHERE key = $1",
                marta_key,
            )
            await conn.execute(
                f"INSERT INTO {TABLE} VALUES ('cuajimalpa/2/subject:x', 2, now() - interval '1 hour')"
            )
        await alone.allowances.forget()
        async with alone.app.state.runtime.pool.acquire() as conn:
            left = {r["key"] for r in await conn.fetch(f"SELECT key FROM {TABLE}")}
        assert left == {ROSA_AT_TWO, "cuajimalpa/2/subject:x"}


class FakeTime:
    """This process's clock, moved by hand (PostgreSQL's keeps its own time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_requests_of_an_outage_earned_back_before_it_ends_are_not_owed(
    settings: Settings, clock: FixedClock
) -> None:
    monotonic = FakeTime()
    async with processes(limited(settings, 2, share=60), clock, count=1, monotonic=monotonic) as (
        alone,
    ):
        rosa = alone.api.token("rosa.martinez", "coordinator")
        pool = alone.app.state.runtime.pool
        assert [await alone.status(rosa), await alone.status(rosa)] == [200, 200]
        await pool.execute(f"DROP TABLE {TABLE}")
        assert await alone.allowances.share() is False
        # A minute of the outage later the two are earned back: nothing is owed...
        monotonic.now += 60
        assert await alone.allowances.share() is False
        await pool.execute(
            f"CREATE UNLOGGED TABLE {TABLE} (key text PRIMARY KEY,"
            " tokens double precision NOT NULL, updated_at timestamptz NOT NULL)"
        )
        assert await alone.allowances.share() is True
        assert await level_of(alone, ROSA_AT_TWO) is None
        # ...and the caller has its whole allowance.
        assert [await alone.status(rosa) for _ in range(3)] == [200, 200, 429]
