"""Baselines measured on the same PostgreSQL in every run: what the library and the
driver manage with no Tequio code in the way.

- ``raw_save``: a bare ``eventsourcing`` Application (same ``POSTGRES_*`` settings as
  Tequio: table lock, Tequio's recorder, which saves in one statement, ADR 0028)
  saving a trivial new aggregate per call, one event per transaction, from 1 thread
  and from ``threads`` threads. The write targets are ratios to this, the faster of
  the two recorders; the library's own recorder (``library_recorder``) is measured
  too, for comparison.
- ``raw_board_read``: the board's page of 50 (with the agency, the accountable
  official, the case's title and the territory's name) as one asyncpg query per page,
  at the same concurrency as the API's read test: the ceiling of the read path.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import date
from typing import Any

import asyncpg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.stats import Recorder

MUNICIPALITY = "iztapalapa"


class Dot(Aggregate):
    @event("Made")
    def __init__(self, n: int, note: str) -> None:
        self.n = n
        self.note = note


class RawBench(Application[Any]):
    """A bare library application: its own table (``rawbench_events``)."""

    name = "RawBench"


def library_recorder(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the library's own PostgreSQL recorder instead of Tequio's."""
    return {k: v for k, v in env.items() if k != "APPLICATION_RECORDER_TOPIC"}


def raw_save(env: dict[str, str], *, threads: int, seconds: float) -> dict[str, Any]:
    """Saves per second (= events per second) with ``threads`` threads saving at once."""
    env = dict(env)
    env["POSTGRES_POOL_SIZE"] = str(max(threads, 1))
    env["POSTGRES_MAX_OVERFLOW"] = "0"
    app = RawBench(env)
    try:
        for n in range(50):  # warm the pool and the prepared statements
            app.save(Dot(n=n, note="warm-up"))
        recorder = Recorder()
        stop_at = time.perf_counter() + seconds
        note = "x" * 120

        def work() -> None:
            n = 0
            while True:
                start = time.perf_counter()
                if start >= stop_at:
                    return
                app.save(Dot(n=n, note=note))
                recorder.ok(time.perf_counter() - start)
                n += 1

        started = time.perf_counter()
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        return {"threads": threads, **recorder.summary(elapsed)}
    finally:
        app.close()


RAW_BOARD_SQL = """
SELECT c.id, c.version, c.description, c.due_on, c.status, c.progress,
       a.name AS responsible_name, o.name AS accountable_name,
       k.title AS case_title, t.name AS territory_name
FROM commitments_commitments c
LEFT JOIN directory_agencies a ON a.municipality = c.municipality AND a.id = c.responsible_agency_id
LEFT JOIN directory_posts p ON p.municipality = c.municipality AND p.id = c.post_id
LEFT JOIN directory_officials o ON o.municipality = c.municipality AND o.id = p.holder_id
LEFT JOIN cases_cases k ON k.municipality = c.municipality AND k.id = c.case_id
LEFT JOIN directory_territories t ON t.municipality = k.municipality AND t.id = k.territory_id
WHERE c.municipality = $1 AND c.status = any($2::text[]) AND c.due_on >= $3
ORDER BY c.due_on, c.id
LIMIT 50
"""
RAW_COUNT_SQL = (
    "SELECT count(*) FROM commitments_commitments c"
    " WHERE c.municipality = $1 AND c.status = any($2::text[]) AND c.due_on >= $3"
)
OWED = ["OPEN", "IN_PROGRESS"]


async def raw_board_read(
    url: str, *, concurrency: int, seconds: float, starts: list[date]
) -> dict[str, Any]:
    """Pages of the board straight from asyncpg (a count and a page, as the API does)."""
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    try:
        recorder = Recorder()
        stop_at = time.perf_counter() + seconds

        async def worker(index: int) -> None:
            n = index
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                since = starts[n % len(starts)]
                async with pool.acquire() as conn:
                    await conn.fetchval(RAW_COUNT_SQL, MUNICIPALITY, OWED, since)
                    rows = await conn.fetch(RAW_BOARD_SQL, MUNICIPALITY, OWED, since)
                if not rows:
                    recorder.error("empty page")
                else:
                    recorder.ok(time.perf_counter() - start)
                n += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return {"concurrency": concurrency, **recorder.summary(time.perf_counter() - started)}
    finally:
        await pool.close()
