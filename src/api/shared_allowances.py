"""One rate limit for the whole deployment, not one per process (ADR 0030).

Each process answers every request from its own buckets (``api.limits``), without a
round trip to the database. Every ``interval`` seconds it sends PostgreSQL what each
caller took from it since the last time, and takes back each bucket's level as the
deployment's processes have left it. A caller that spreads its requests over the
processes (``tequio serve --workers N``, replicas behind a load balancer) reaches
the limit once, not N times; by at most what the other processes let through in one
interval before they hear of it.

The levels are kept in an unlogged table: after a crash of PostgreSQL the callers
start again with full buckets, which is what a restart of the API did before.
While the database cannot be reached each process goes on limiting on its own.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import asyncpg

from api.limits import RateLimiter

TABLE = "tequio_rate_limits"
DDL = (
    f"CREATE UNLOGGED TABLE IF NOT EXISTS {TABLE} ("
    " key text PRIMARY KEY,"
    " tokens double precision NOT NULL,"
    " updated_at timestamptz NOT NULL)"
)
# One round trip: adds each caller's spending ($1, $2) to its bucket, refilled at $4
# a second up to $3 since it was last touched, and answers its level; answers the
# level now of every other bucket of the municipality ($6) changed since $5 (seconds
# since the epoch, the database's clock), so that a caller this process has not seen
# yet, or not lately, starts where the others left it; and, in a last row without a
# key, the database's time, for the next round's $5. Rows are locked in the keys'
# order, so two processes sharing at once do not deadlock. A bucket may go below zero
# (the processes together let through more than it held): the debt is paid back in
# time, so over a long run a caller gets the limit's rate whatever it does.
SHARE = f"""
WITH spent AS (
  INSERT INTO {TABLE} AS b (key, tokens, updated_at)
  SELECT u.key, $3::float8 - u.spent, clock_timestamp()
  FROM unnest($1::text[], $2::int4[]) AS u(key, spent)
  ORDER BY u.key
  ON CONFLICT (key) DO UPDATE SET
    tokens = greatest(
      -$3::float8,
      least(
        $3::float8,
        b.tokens + $4::float8
          * greatest(0, extract(epoch FROM excluded.updated_at - b.updated_at)::float8)
      ) - ($3::float8 - excluded.tokens)
    ),
    updated_at = greatest(b.updated_at, excluded.updated_at)
  RETURNING key, tokens
)
SELECT key, tokens FROM spent
UNION ALL
SELECT key, least(
  $3::float8,
  tokens + $4::float8 * greatest(0, extract(epoch FROM clock_timestamp() - updated_at)::float8)
)
FROM {TABLE}
WHERE updated_at > to_timestamp($5::float8) AND starts_with(key, $6) AND NOT key = ANY($1)
UNION ALL
SELECT NULL, extract(epoch FROM now())::float8
"""
# A transaction may commit a row a little after the time it wrote in it: each round
# reads back this far before the last one began (rows read twice are harmless).
OVERLAP = 5.0
# A bucket untouched this long is full again: the same as no row.
FORGET = f"DELETE FROM {TABLE} WHERE updated_at < clock_timestamp() - make_interval(secs => $1)"
FORGET_EVERY = 60  # rounds

log = logging.getLogger("tequio.api")


class SharedAllowances:
    """Shares ``limiter``'s spending with the other processes of the deployment that
    serve ``municipality``, every ``interval`` seconds, through ``pool``."""

    def __init__(
        self, limiter: RateLimiter, pool: asyncpg.Pool, municipality: str, interval: float
    ) -> None:
        self._limiter = limiter
        self._pool = pool
        self._prefix = f"{municipality}/"
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._heard_at: float | None = None
        self.rounds = 0  # rounds shared so far (tests wait on it)

    async def start(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # Processes starting at once would collide on CREATE TABLE IF NOT EXISTS.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tequio.rate_limits.ddl'))")
            await conn.execute(DDL)
        self._task = asyncio.create_task(self._run(), name="shared-allowances")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def share(self) -> bool:
        """One round: True if the deployment's levels were taken back."""
        limiter = self._limiter
        refill = limiter.capacity / limiter.rate  # seconds from empty to full
        spent = limiter.unshared()
        keys = sorted(spent)
        since = self._heard_at - OVERLAP if self._heard_at is not None else None
        try:
            rows = await self._pool.fetch(
                SHARE,
                [self._prefix + key for key in keys],
                [spent[key] for key in keys],
                limiter.capacity,
                limiter.rate,
                # At first, what changed within a refill: an older bucket is full.
                since if since is not None else 0.0,
                self._prefix,
                timeout=max(1.0, self._interval),
            )
            if self.rounds % FORGET_EVERY == 0:
                await self._pool.execute(FORGET, 2 * refill)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            limiter.unspend(spent)
            if not self._failing:
                log.warning(
                    "rate limit: counted in this process only until the database answers (%s)",
                    error,
                )
                self._failing = True
            return False
        if self._failing:
            log.info("rate limit: shared with the deployment again")
            self._failing = False
        cut = len(self._prefix)
        levels = {}
        for key, tokens in rows:
            if key is None:
                self._heard_at = tokens  # the database's time, in the last row
            else:
                levels[key[cut:]] = tokens
        limiter.settle(levels)
        self.rounds += 1
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.share()
