"""Read your own writes from async code: how far each projection has got, and waiting for it.

Polls the projections' tracking tables through the API's asyncpg pool, so a
mutation can wait for its notification id without blocking a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg

from cases.application import TequioApplication
from projections.registry import PROJECTIONS, select, tracking_table

# The tracking rows are kept per application: this one is the event store.
APPLICATION_NAME = TequioApplication.name
FIRST_INTERVAL = 0.002
MAX_INTERVAL = 0.05


def _union(names: Sequence[str]) -> str:
    return " UNION ALL ".join(
        f"SELECT '{name}' AS name,"
        f" (SELECT notification_id FROM {tracking_table(name)} WHERE application_name = $1)"
        " AS position"
        for name in names
    )


_ALL = _union(list(PROJECTIONS))


async def positions(pool: asyncpg.Pool, names: Sequence[str] | None = None) -> dict[str, int]:
    """``{projection name: last notification id processed}`` (0 before the first)."""
    chosen = select(list(names) if names else None)
    query = _ALL if len(chosen) == len(PROJECTIONS) else _union(chosen)
    async with pool.acquire() as conn:
        try:
            rows = await conn.fetch(query, APPLICATION_NAME)
        except asyncpg.UndefinedTableError:
            # Some projection has never run here: its table does not exist yet.
            return await _one_by_one(conn, chosen)
    return {r["name"]: int(r["position"] or 0) for r in rows}


async def _one_by_one(conn: Any, names: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name in names:
        table = tracking_table(name)
        if await conn.fetchval("SELECT to_regclass($1) IS NULL", table):
            found[name] = 0
            continue
        value = await conn.fetchval(
            f"SELECT notification_id FROM {table} WHERE application_name = $1", APPLICATION_NAME
        )
        found[name] = int(value or 0)
    return found


async def wait_for(
    pool: asyncpg.Pool,
    notification_id: int | None,
    timeout: float,  # noqa: ASYNC109 - the API's read-your-writes budget, not a cancel scope
    names: Sequence[str] | None = None,
) -> bool:
    """True once every projection (or the named ones) has processed ``notification_id``;
    False if the timeout passes first. Polls from every 2 ms up to every 50 ms."""
    if notification_id is None:
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    interval = FIRST_INTERVAL
    while True:
        reached = await positions(pool, names)
        if reached and min(reached.values()) >= notification_id:
            return True
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 2, MAX_INTERVAL)
