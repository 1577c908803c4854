"""One rate limit for a deployment of several processes (ADR 0030): two apps on one
database stand for two processes of ``tequio serve --workers 2``, or two replicas.

A caller that spreads its requests over them reaches the limit once, not twice.
Real time: the shared levels refill with the database's clock. The limits here are a
few requests a minute, so a token earned back during a test does not change what it
sees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from graphql_client import GraphQLClient

from api.app import create_app
from api.shared_allowances import TABLE, SharedAllowances
from cases.clock import FixedClock
from tequio.settings import Settings

CASE_COUNT = "{ cases { totalCount } }"
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
    settings: Settings, clock: FixedClock, *, count: int = 2, address: str = "203.0.113.5"
) -> AsyncIterator[list[Process]]:
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(count):
            app = create_app(settings, clock=clock)
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
    other = limited(settings, 2).model_copy(update={"municipality": "tlalpan"})
    async with (
        processes(limited(settings, 2), clock, count=1) as (iztapalapa,),
        processes(other, clock, count=1) as (tlalpan,),
    ):
        # The same person's name, signed for each municipality: two callers.
        here = iztapalapa.api.token("rosa.martinez", "coordinator")
        there = tlalpan.api.token("rosa.martinez", "coordinator")
        assert [await iztapalapa.status(here) for _ in range(3)] == [200, 200, 429]
        await iztapalapa.shared()
        await tlalpan.shared()
        assert [await tlalpan.status(there) for _ in range(3)] == [200, 200, 429]


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
            tokens = await conn.fetchval(
                f"SELECT tokens FROM {TABLE} WHERE key = $1", "iztapalapa/subject:rosa.martinez"
            )
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
