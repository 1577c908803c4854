"""Read your own writes from async code: how far each projection has got, and waiting for it.

Reads the projections' tracking tables through the API's asyncpg pool, so a
mutation can wait for its notification id without blocking a thread.
:class:`ProgressWatch` also listens to the runners' announcements
(``PROGRESS_CHANNEL``, sent in each batch's transaction), so a waiting request
wakes as soon as a read model has its write instead of polling the database; it
still reads the tables now and then, and polls as before while it cannot listen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from contextlib import suppress
from types import MappingProxyType
from typing import Any

import asyncpg

from cases.application import TequioApplication
from projections.registry import (
    HEARTBEAT_STALE_AFTER,
    PROJECTIONS,
    STATUS_TABLE,
    select,
    tracking_table,
)

# The tracking rows are kept per application: this one is the event store.
APPLICATION_NAME = TequioApplication.name
FIRST_INTERVAL = 0.002
MAX_INTERVAL = 0.05
# The runners announce ``<projection>:<position>`` here after each batch.
PROGRESS_CHANNEL = "tequio_projection_progress"
# While listening, how often a waiter still reads the tables (a missed announcement).
LISTENING_RECHECK = 0.25
RECONNECT_DELAY = 1.0

log = logging.getLogger("tequio.projections")


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


async def kept_now(pool: asyncpg.Pool) -> set[str]:
    """The projections some process keeps now: those with a recent heartbeat (what
    ``tequio projections status`` calls running), for a process that keeps none."""
    async with pool.acquire() as conn:
        try:
            rows = await conn.fetch(
                f"SELECT name FROM {STATUS_TABLE} WHERE running"
                " AND heartbeat_at > now() - make_interval(secs => $1)",
                HEARTBEAT_STALE_AFTER,
                timeout=2,
            )
        except asyncpg.UndefinedTableError:
            return set()  # no projection has run on this database yet
    return {r["name"] for r in rows}


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


def announcement(names: Sequence[str], position: int) -> str:
    """``<name>[,<name>...]:<position>``: the read models a batch brought to ``position``."""
    return f"{','.join(names)}:{position}"


class ProgressWatch:
    """Waits for read models to reach a notification id, woken by the runners.

    ``start()`` opens one listening connection (kept open, reopened when it breaks);
    ``wait_for`` is :func:`wait_for` without the polling while that connection is up.
    """

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._reached: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._listening = False
        self._sessions = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """Whether announcements can reach it now (else waiting polls the tables)."""
        return self._listening

    @property
    def sessions(self) -> int:
        """How many times it has started listening: a change means announcements may
        have been missed in between."""
        return self._sessions

    def known(self) -> Mapping[str, int]:
        """The positions it knows now (read from the tables or heard announced); a
        read-only view that follows them."""
        return MappingProxyType(self._reached)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="projection-progress")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_for(
        self,
        notification_id: int | None,
        timeout: float,  # noqa: ASYNC109 - the API's read-your-writes budget
        names: Sequence[str] | None = None,
    ) -> bool:
        if notification_id is None:
            return True
        chosen = select(list(names) if names else None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        interval = FIRST_INTERVAL
        read = True
        while True:
            changed = self._changed
            if read:
                # The tables are the truth: after a rebuild they are behind what was
                # announced before it, and an older announcement must not count.
                self._reached.update(await positions(self._pool, chosen))
            if min(self._reached.get(name, 0) for name in chosen) >= notification_id:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if self._listening:
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                    # cancellation that arrives as the event is set.
                    async with asyncio.timeout(min(LISTENING_RECHECK, remaining)):
                        await changed.wait()
                    read = False  # woken by an announcement: what it said is enough
                except TimeoutError:
                    read = True
            else:
                await asyncio.sleep(min(interval, remaining))
                interval = min(interval * 2, MAX_INTERVAL)
                read = True

    def _merge(self, found: dict[str, int]) -> None:
        for name, position in found.items():
            if position > self._reached.get(name, 0):
                self._reached[name] = position

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        names, _, position = str(payload).rpartition(":")
        with suppress(ValueError):
            reached = int(position)
            self._merge({name: reached for name in names.split(",") if name})
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _listen(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _conn, closed=closed: closed.set())
                await conn.add_listener(PROGRESS_CHANNEL, self._heard)
                self._sessions += 1
                self._listening = True
                await closed.wait()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.debug("progress: cannot listen: %s", error)
            finally:
                self._listening = False
                if conn is not None and not conn.is_closed():
                    with suppress(Exception):
                        await asyncio.wait_for(conn.close(), 1.0)
            await asyncio.sleep(RECONNECT_DELAY)
