"""Sending deliveries: claim, sign, POST, record; and the service that keeps doing it.

A delivery is *claimed* by setting a lease on it in a short transaction
(``FOR UPDATE SKIP LOCKED``), so several processes share the work and never take the
same delivery; the POST happens outside any transaction; the result is written back
only while this process still holds the lease. If a process dies mid-send, the lease
runs out and another process sends it again: delivery is at least once, and the
``webhook-id`` (the event's id) lets a receiver drop the repeat.

Order per aggregate: a delivery is not claimed while an earlier delivery (by log
position) of the same subscription and the same ``subject`` is still open (pending or
retrying). Dead-lettered and delivered ones do not hold anything back, and different
aggregates proceed independently.

Only subscription URLs are ever called: the URL comes from the subscription row, which
only an admin can write (validated on the way in), and redirects are not followed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from integrations.webhooks import outbox
from integrations.webhooks.config import WebhookConfig
from integrations.webhooks.retention import prune_delivered
from integrations.webhooks.secrets import SecretBox
from integrations.webhooks.signing import headers
from integrations.webhooks.tables import DELIVERIES, OPEN_SQL, SUBSCRIPTIONS, create_tables

log = logging.getLogger("tequio.webhooks")

MAX_ERROR = 300
USER_AGENT = "Tequio-Webhooks/1"


@dataclass(frozen=True)
class Claimed:
    id: int
    subscription_id: uuid.UUID
    event_id: str
    body: bytes
    attempts: int
    give_up_after: datetime
    url: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        box: SecretBox,
        config: WebhookConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._pool = pool
        self._box = box
        self.config = config
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                config.read_timeout, connect=config.connect_timeout, pool=config.connect_timeout
            ),
            follow_redirects=False,
            transport=transport,
            headers={"user-agent": USER_AGENT},
            # Receivers are registered URLs, not whatever the environment's proxy says.
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    def _now(self) -> datetime:
        return self.config.clock.now()

    async def claim(self, limit: int) -> list[Claimed]:
        """Up to ``limit`` due deliveries, leased to this process."""
        if limit <= 0:
            return []
        now = self._now()
        rows = await self._pool.fetch(
            f"WITH due AS (SELECT d.id FROM {DELIVERIES} d"
            f" JOIN {SUBSCRIPTIONS} s ON s.id = d.subscription_id AND s.active"
            f" WHERE d.status IN {OPEN_SQL} AND d.next_attempt_at <= $1"
            " AND (d.lease_until IS NULL OR d.lease_until <= $1)"
            f" AND NOT EXISTS (SELECT 1 FROM {DELIVERIES} o"
            "   WHERE o.subscription_id = d.subscription_id AND o.subject = d.subject"
            f"   AND o.status IN {OPEN_SQL} AND o.position < d.position)"
            " ORDER BY d.next_attempt_at, d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED)"
            f" UPDATE {DELIVERIES} d SET lease_owner = $3, lease_until = $4"
            f" FROM due, {SUBSCRIPTIONS} s WHERE d.id = due.id AND s.id = d.subscription_id"
            " RETURNING d.id, d.subscription_id, d.event_id, d.body, d.attempts,"
            " d.give_up_after, s.url, s.secret, s.previous_secret, s.previous_secret_until",
            now,
            limit,
            self.owner,
            now + self.config.lease,
        )
        claimed = []
        for row in sorted(rows, key=lambda r: r["id"]):
            secrets = [self._box.open(row["secret"])]
            until = row["previous_secret_until"]
            if row["previous_secret"] is not None and until is not None and until > now:
                secrets.append(self._box.open(row["previous_secret"]))
            claimed.append(
                Claimed(
                    id=row["id"],
                    subscription_id=row["subscription_id"],
                    event_id=row["event_id"],
                    body=bytes(row["body"]),
                    attempts=row["attempts"],
                    give_up_after=row["give_up_after"],
                    url=row["url"],
                    secrets=tuple(secrets),
                )
            )
        return claimed

    async def send(self, delivery: Claimed) -> Outcome:
        """One attempt. Only a 2xx answer counts as delivered."""
        timestamp = int(self._now().timestamp())
        request_headers = headers(delivery.event_id, timestamp, delivery.body, delivery.secrets)
        try:
            # Streamed and never read: a receiver cannot make us hold a large answer.
            async with self._client.stream(
                "POST", delivery.url, content=delivery.body, headers=request_headers
            ) as response:
                code = response.status_code
        except httpx.HTTPError as error:
            return Outcome(False, None, _describe(error))
        if 200 <= code < 300:
            return Outcome(True, code, None)
        if 300 <= code < 400:
            return Outcome(False, code, f"HTTP {code} (redirects are not followed)")
        return Outcome(False, code, f"HTTP {code}")

    async def record(self, delivery: Claimed, outcome: Outcome) -> str | None:
        """Writes the attempt's result; the new status, or None if the lease was lost."""
        now = self._now()
        attempts = delivery.attempts + 1
        if outcome.delivered:
            status, next_at = "DELIVERED", None
        else:
            next_at = self.config.backoff.next_attempt(attempts, now, delivery.give_up_after)
            status = "RETRYING" if next_at is not None else "DEAD_LETTERED"
        updated = await self._pool.fetchval(
            f"UPDATE {DELIVERIES} SET status = $3::text, attempts = $4,"
            " last_attempt_at = $5::timestamptz, last_status_code = $6, last_error = $7,"
            " next_attempt_at = $8,"
            " delivered_at = CASE WHEN $3 = 'DELIVERED' THEN $5 END,"
            " dead_lettered_at = CASE WHEN $3 = 'DEAD_LETTERED' THEN $5 END,"
            " lease_owner = NULL, lease_until = NULL"
            " WHERE id = $1 AND lease_owner = $2 RETURNING status",
            delivery.id,
            self.owner,
            status,
            attempts,
            now,
            outcome.status_code,
            outcome.error,
            next_at,
        )
        if updated is None:
            log.warning(
                "webhook delivery %s: lease lost before its result was recorded", delivery.id
            )
            return None
        if status != "DELIVERED":
            log.info(
                "webhook delivery %s (subscription %s) attempt %s failed: %s; %s",
                delivery.id,
                delivery.subscription_id,
                attempts,
                outcome.error,
                f"next at {next_at:%Y-%m-%d %H:%M:%S %Z}" if next_at else "dead-lettered",
            )
        return status

    async def deliver(self, delivery: Claimed) -> str | None:
        return await self.record(delivery, await self.send(delivery))


def _describe(error: httpx.HTTPError) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:MAX_ERROR]


class WebhookService:
    """The outbox step and the dispatcher, looping until stopped, on one event loop.

    Runs in ``tequio serve`` (started by the API's lifespan when the projections run
    in-process) and in ``tequio worker``; any number of copies may run at once.
    """

    def __init__(
        self,
        dsn: str,
        box: SecretBox,
        config: WebhookConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._dsn = dsn
        self._box = box
        self.config = config
        self._transport = transport
        self._pool: asyncpg.Pool | None = None
        self.dispatcher: Dispatcher | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._failing = False
        self._pruned_at: datetime | None = None

    async def start(self, *, loop: bool = True) -> None:
        """Opens the pool and the tables; with ``loop``, keeps working until stopped
        (without, only :meth:`run_once` sends: for tests and tools)."""
        pool = await asyncpg.create_pool(
            self._dsn, min_size=1, max_size=min(4, self.config.concurrency + 1)
        )
        try:
            await create_tables(pool)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self.dispatcher = Dispatcher(pool, self._box, self.config, transport=self._transport)
        self._stopping = False
        if loop:
            self._task = asyncio.create_task(self._run(), name="tequio-webhooks")

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a shutdown budget
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inflight:
            # Unfinished sends keep their lease, which runs out: another process retries.
            _, pending = await asyncio.wait(self._inflight, timeout=timeout)
            for task in pending:
                task.cancel()
        if self.dispatcher is not None:
            await self.dispatcher.close()
            self.dispatcher = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def pump(self) -> int:
        """Outbox steps until the feed is caught up; the deliveries offered."""
        assert self._pool is not None
        offered = 0
        async with self._pool.acquire() as conn:
            while True:
                seen, made = await outbox.step(
                    conn,
                    now=self.config.clock.now(),
                    window=self.config.backoff.window,
                    batch=self.config.batch,
                )
                offered += made
                if seen < self.config.batch:
                    return offered

    async def prune(self) -> int:
        """Deletes the delivered deliveries past the retention, at most once every
        ``prune_every`` (every process may do it: a second one finds nothing)."""
        assert self._pool is not None
        now = self.config.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < self.config.prune_every:
            return 0
        async with self._pool.acquire() as conn:
            removed = await prune_delivered(conn, now - self.config.keep)
        self._pruned_at = now
        if removed:
            log.info("webhooks: %s delivered deliveries past the retention deleted", removed)
        return removed

    async def run_once(self) -> int:
        """One outbox pump, then every due delivery sent and recorded before returning
        (for tests and tools; the loop does not wait for a batch to finish)."""
        assert self.dispatcher is not None
        await self.pump()
        await self.prune()
        sent = 0
        while True:
            claimed = await self.dispatcher.claim(self.config.concurrency)
            if not claimed:
                return sent
            await asyncio.gather(*(self.dispatcher.deliver(c) for c in claimed))
            sent += len(claimed)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._tick()
                if self._failing:
                    log.info("webhooks: working again")
                self._failing = False
            except Exception as error:
                if not self._failing:
                    log.exception("webhooks: a dispatch round failed; retrying every poll")
                else:
                    log.debug("webhooks: still failing: %s", error)
                self._failing = True
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.config.poll_seconds)

    async def _tick(self) -> None:
        assert self.dispatcher is not None
        await self.pump()
        await self.prune()
        free = self.config.concurrency - len(self._inflight)
        for delivery in await self.dispatcher.claim(free):
            task = asyncio.create_task(self.dispatcher.deliver(delivery))
            self._inflight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhooks: a delivery failed to record", exc_info=task.exception())
        # A free slot, and maybe the next delivery of the same aggregate is due now.
        self._wake.set()


class BackgroundWebhooks:
    """A :class:`WebhookService` on its own event loop in a thread, for synchronous
    hosts (``tequio worker``)."""

    def __init__(self, make: Callable[[], WebhookService]) -> None:
        self._make = make
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 30.0) -> None:
        self._thread = threading.Thread(target=self._main, name="tequio-webhooks", daemon=True)
        self._thread.start()
        self._started.wait(timeout)
        if self._error is not None:
            raise self._error

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None:
            with suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        service = self._make()
        try:
            await service.start()
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await service.stop()
