"""One rate limit for the whole deployment, not one per process (ADR 0030).

Each process answers every request from its own buckets (``api.limits``), without a
round trip to the database. Every ``interval`` seconds it sends PostgreSQL what each
caller took from it since the last time, and takes back each bucket's level as the
deployment's processes have left it. A caller that spreads its requests over the
processes (``tequio serve --workers N``, replicas behind a load balancer) is held to
the limit's rate, not N times it. Within one round each process lets through what
the caller had left when it last heard; what they let through together beyond that
is a debt the caller pays back by waiting.

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


def _level(row: str, at: str, capacity: str, rate: str) -> str:
    """A bucket's level at ``at``: refilled at ``rate`` a second since it was last
    written, up to ``capacity``."""
    return (
        f"least({capacity}::float8, {row}.tokens + {rate}::float8"
        f" * greatest(0, extract(epoch FROM {at} - {row}.updated_at)::float8))"
    )


# One round trip: adds each caller's spending ($1, $2) to its bucket, refilled since it
# was last touched, and answers its level; answers the level now of every other
# bucket of this deployment ($6, the keys' prefix) changed since $5 (seconds since the
# epoch, the database's clock), so that a caller this process has not seen yet, or
# not lately, starts where the others left it; and, in a last row without a key, the
# database's time, for the next round's $5. Rows are locked in the keys' order, so
# two processes sharing at once do not deadlock. A level may go below zero (the
# processes together let through more than the bucket held): that debt is paid back
# by waiting, so over a long run a caller gets the limit's rate whatever it does.
SHARE = f"""
WITH spent AS (
  INSERT INTO {TABLE} AS b (key, tokens, updated_at)
  SELECT u.key, $3::float8 - u.spent, clock_timestamp()
  FROM unnest($1::text[], $2::int4[]) AS u(key, spent)
  ORDER BY u.key
  ON CONFLICT (key) DO UPDATE SET
    tokens = {_level("b", "excluded.updated_at", "$3", "$4")} - ($3::float8 - excluded.tokens),
    updated_at = greatest(b.updated_at, excluded.updated_at)
  RETURNING key, tokens
)
SELECT key, tokens FROM spent
UNION ALL
SELECT key, {_level(TABLE, "clock_timestamp()", "$3", "$4")}
FROM {TABLE}
WHERE updated_at > to_timestamp($5::float8) AND starts_with(key, $6) AND NOT key = ANY($1)
UNION ALL
SELECT NULL, extract(epoch FROM now())::float8
"""
# A transaction may commit a row a little after the time it wrote in it: each round
# reads back this far before the last one began (rows read twice are harmless).
OVERLAP = 5.0
# Deletes this deployment's ($1) buckets that are full again, the same as no row. Rows
# a round is writing are skipped, not waited for: no deadlock with SHARE.
FORGET = f"""
DELETE FROM {TABLE} WHERE key IN (
  SELECT key FROM {TABLE}
  WHERE starts_with(key, $1) AND {_level(TABLE, "clock_timestamp()", "$2", "$3")} >= $2::float8
  FOR UPDATE SKIP LOCKED
)
"""
FORGET_EVERY = 60  # rounds

log = logging.getLogger("tequio.api")


class SharedAllowances:
    """Shares ``limiter``'s spending with the other processes of the deployment that
    serve ``municipality``, every ``interval`` seconds, through ``pool``."""

    def __init__(
        self, limiter: RateLimiter, pool: asyncpg.Pool, municipality: str, interval: float
    ) -> None:
        self._limiter = limiter
        limiter.counts_spending = True
        self._pool = pool
        # Processes limited at another rate keep their own buckets: a level is counted
        # in the requests of one limit.
        self._prefix = f"{municipality}/{limiter.capacity:g}/"
        self._interval = interval
        self._budget = max(1.0, interval)  # seconds a round may take
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._heard_at: float | None = None
        self.rounds = 0  # rounds shared so far

    async def start(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # Processes starting at once would collide on CREATE TABLE IF NOT EXISTS.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tequio.rate_limits.ddl'))")
            await conn.execute(DDL)
        self._task = asyncio.create_task(self._run(), name="shared-allowances")

    async def close(self) -> None:
        """Stops sharing, after one last round: a restart forgives no one's requests."""
        if self._task is None:
            return
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with suppress(Exception):
            await self.share()

    async def share(self) -> bool:
        """One round: True if the deployment's levels were taken back."""
        limiter = self._limiter
        spent = limiter.unshared()
        keys = sorted(spent)
        try:
            conn = await self._pool.acquire(timeout=self._budget)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            limiter.unspend(spent)
            return self._failed(error)
        try:
            rows = await conn.fetch(
                SHARE,
                [self._prefix + key for key in keys],
                [spent[key] for key in keys],
                limiter.capacity,
                limiter.rate,
                # The first round reads every row; settle() skips the full ones.
                self._heard_at - OVERLAP if self._heard_at is not None else 0.0,
                self._prefix,
                timeout=self._budget,
            )
        except asyncpg.PostgresError as error:
            # Refused by PostgreSQL: the statement did nothing, so it is sent again.
            limiter.unspend(spent)
            return self._failed(error)
        except (OSError, TimeoutError, asyncpg.InterfaceError) as error:
            # The answer was lost: the round may have been recorded. It is not sent
            # again, so at most one round's requests are forgiven, none counted twice.
            return self._failed(error)
        finally:
            await self._pool.release(conn)
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
        if self.rounds % FORGET_EVERY == 1:
            await self.forget()
        return True

    async def forget(self) -> None:
        """Deletes this deployment's buckets that are full again (best effort)."""
        try:
            await self._pool.execute(
                FORGET,
                self._prefix,
                self._limiter.capacity,
                self._limiter.rate,
                timeout=self._budget,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.debug("rate limit: full buckets not deleted this time (%s)", error)

    def _failed(self, error: BaseException) -> bool:
        if not self._failing:
            log.warning(
                "rate limit: counted in this process only until the database answers (%s)",
                error,
            )
            self._failing = True
        return False

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.share()
            except Exception:  # a bug must not stop the sharing for the process's life
                log.exception("rate limit: a round of sharing failed")
