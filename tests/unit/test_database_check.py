"""The look at PostgreSQL before a command: trusted briefly after a success, never
after a failure (the counting pool below stands in for asyncpg's pool's acquire)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import pytest

from api.availability import DatabaseCheck
from api.errors import ApiError


class Conn:
    async def fetchval(self, query: str, **_: Any) -> int:
        return 1


class CountingPool:
    def __init__(self) -> None:
        self.pings = 0
        self.down = False

    @asynccontextmanager
    async def acquire(self, **_: Any) -> Any:
        self.pings += 1
        if self.down:
            raise ConnectionRefusedError("connection refused")
        yield Conn()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_success_is_trusted_for_a_moment_then_looked_at_again() -> None:
    pool, clock = CountingPool(), Clock()
    check = DatabaseCheck(pool, fresh_for=0.1, monotonic=clock)  # type: ignore[arg-type]
    await check.require()
    await check.require()
    clock.now += 0.05
    await check.require()
    assert pool.pings == 1
    clock.now += 0.06
    await check.require()
    assert pool.pings == 2


async def test_a_database_that_does_not_answer_is_service_unavailable_every_time() -> None:
    pool, clock = CountingPool(), Clock()
    check = DatabaseCheck(pool, fresh_for=0.1, monotonic=clock)  # type: ignore[arg-type]
    pool.down = True
    for _ in range(2):
        with pytest.raises(ApiError) as info:
            await check.require()
        assert info.value.code == "SERVICE_UNAVAILABLE"
    assert pool.pings == 2


async def test_recovery_is_seen_by_the_next_command() -> None:
    pool, clock = CountingPool(), Clock()
    check = DatabaseCheck(pool, fresh_for=10.0, monotonic=clock)  # type: ignore[arg-type]
    pool.down = True
    with pytest.raises(ApiError):
        await check.require()
    pool.down = False
    await check.require()  # a failure is not remembered: it looks again at once
    assert pool.pings == 2
