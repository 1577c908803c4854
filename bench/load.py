"""The load: reads and writes through HTTP GraphQL, from this process, on loopback.

Every phase is bounded in time (and the open-loop one in count). Closed-loop phases
run ``concurrency`` virtual clients, each on its own keep-alive connection, each
sending its next request as soon as the previous one is answered.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import operator
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from api.auth import mint_token
from bench.client import GraphQL
from bench.cpu import CpuMeter
from bench.stats import Recorder, ms, percentile
from cases.commitment import Commitment
from cases.values import Theme
from projections.registry import PROJECTIONS, tracking_table
from tequio.demo import (
    CASE_TEMPLATES,
    NEIGHBOURHOODS,
    PROGRESS_NOTES,
    STREETS,
    fill,
    place_for,
)

BOARD = """
query Board($filter: CommitmentFilter, $first: Int!) {
  commitments(filter: $filter, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id description dueOn status progress overdue daysOverdue
      responsible { id name }
      accountable { name }
      case { id title territory { name } }
    } }
  }
}
"""

CASE_DETAIL = """
query CaseDetail($id: ID!) {
  case(id: $id) {
    id title description theme priority status raisedAt
    territory { id name }
    assembly { id }
    tables { id name }
    commitments {
      id description status progress dueOn overdue
      responsible { name }
      accountable { name }
      timeline { at type summary actor }
    }
    timeline { at type summary actor }
  }
}
"""

BRIEFING = """
query Briefing($cabinet: ID!, $since: DateTime!) {
  cabinetBriefing(cabinetId: $cabinet, since: $since) {
    cabinet { id name }
    newCases { id title status raisedAt territory { name } }
    dueSoon { id description dueOn responsible { name } accountable { name } }
    overdue { id description dueOn daysOverdue responsible { name } accountable { name } }
    hotSpots { territory { name } cases }
  }
}
"""

REPORT_PROGRESS = """
mutation Progress($id: ID!, $v: Int!, $p: Int!, $note: String!) {
  reportProgress(commitmentId: $id, expectedVersion: $v, progress: $p, note: $note) {
    id version progress status
  }
}
"""

RAISE_CASE = """
mutation Raise($input: RaiseCaseInput!) {
  raiseCase(input: $input) { id version status }
}
"""

VERSION = "query V($id: ID!) { commitment(id: $id) { version } }"


class Tokens:
    """Development tokens minted with the bench server's secret, one per caller."""

    def __init__(self, secret: str, municipality: str) -> None:
        self.secret = secret
        self.municipality = municipality
        self._cache: dict[tuple[str, ...], str] = {}

    def _mint(self, key: tuple[str, ...], **kwargs: Any) -> str:
        if key not in self._cache:
            self._cache[key] = mint_token(
                self.secret, municipality=self.municipality, lifetime_seconds=4 * 3600, **kwargs
            )
        return self._cache[key]

    def coordinator(self) -> str:
        return self._mint(("coordinator",), subject="coordinator:bench", roles=["coordinator"])

    def staff(self, agency_id: str) -> str:
        return self._mint(
            ("staff", agency_id),
            subject=f"agency_staff:{agency_id}:bench",
            roles=["agency_staff"],
            agency_id=agency_id,
        )

    def cabinet_member(self, cabinet_id: str) -> str:
        return self._mint(
            ("cabinet", cabinet_id),
            subject=f"cabinet_member:{cabinet_id}:bench",
            roles=["cabinet_member"],
            table_ids=[cabinet_id],
        )


@dataclass
class Target:
    """One commitment a writer may change, with the version it last saw."""

    id: str
    agency_id: str
    version: int
    busy: bool = False


@dataclass
class World:
    host: str
    port: int
    tokens: Tokens
    municipality: str
    agencies: list[str]
    case_ids: list[str]
    cabinets: list[str]
    commitments: list[Target]
    idempotency_keys: bool = True
    rng: random.Random = field(default_factory=lambda: random.Random(7))


async def closed_loop(
    world: World,
    request: Callable[[GraphQL, int, int], Awaitable[None]],
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
    meter: CpuMeter | None = None,
) -> dict[str, Any]:
    """``concurrency`` clients send ``request(client, worker, n)`` back to back for
    ``seconds`` (after ``warmup`` seconds that are not counted). With ``meter``, the
    CPU the counted requests cost is under ``"cpu"``."""
    recorder = Recorder()
    clients = [GraphQL(world.host, world.port) for _ in range(concurrency)]
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds

    async def start_meter() -> None:
        if meter is not None:
            await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
            meter.start()

    async def worker(index: int) -> None:
        client = clients[index]
        for n in itertools.count():
            began = time.perf_counter()
            if began >= stop_at:
                return
            try:
                await request(client, index, n)
            except Exception as error:
                if began >= start_at:
                    recorder.error(f"{type(error).__name__}: {error}")
                await asyncio.sleep(0.01)
                continue
            if began >= start_at:
                recorder.ok(time.perf_counter() - began)

    try:
        await asyncio.gather(start_meter(), *(worker(i) for i in range(concurrency)))
    finally:
        for client in clients:
            await client.close()
    summary = {"concurrency": concurrency, **recorder.summary(seconds)}
    if meter is not None:
        summary["cpu"] = meter.result(summary["requests"])
    return summary


# -- reads ---------------------------------------------------------------------------------


def board_request(world: World) -> Callable[[GraphQL, int, int], Awaitable[None]]:
    token = world.tokens.coordinator()
    filters: list[dict[str, Any] | None] = [None, {"overdue": True}]
    filters += [{"agencyId": a} for a in world.agencies]
    filters += [{"status": s} for s in ("OPEN", "IN_PROGRESS", "FULFILLED")]

    async def request(client: GraphQL, worker: int, n: int) -> None:
        variables = {"filter": filters[(worker * 7919 + n) % len(filters)], "first": 50}
        data = await client(BOARD, variables, token=token)
        if data["commitments"]["totalCount"] is None:
            raise RuntimeError("no board")

    return request


def case_request(world: World) -> Callable[[GraphQL, int, int], Awaitable[None]]:
    token = world.tokens.coordinator()
    ids = world.case_ids

    async def request(client: GraphQL, worker: int, n: int) -> None:
        case_id = ids[(worker * 104729 + n * 7907) % len(ids)]
        data = await client(CASE_DETAIL, {"id": case_id}, token=token)
        if data["case"] is None:
            raise RuntimeError("case not found")

    return request


def briefing_request(world: World) -> Callable[[GraphQL, int, int], Awaitable[None]]:
    since = (datetime.now(tz=UTC) - timedelta(days=7)).isoformat()
    cabinets = world.cabinets

    async def request(client: GraphQL, worker: int, n: int) -> None:
        cabinet = cabinets[(worker + n) % len(cabinets)]
        data = await client(
            BRIEFING,
            {"cabinet": cabinet, "since": since},
            token=world.tokens.cabinet_member(cabinet),
        )
        if data["cabinetBriefing"] is None:
            raise RuntimeError("no briefing")

    return request


# -- writes --------------------------------------------------------------------------------


def _case_input(rng: random.Random) -> dict[str, Any]:
    code, name, _, _ = rng.choice(NEIGHBOURHOODS)
    theme = rng.choice(list(Theme))
    title, description = rng.choice(CASE_TEMPLATES[theme])
    words = {
        "street": rng.choice(STREETS),
        "street2": rng.choice(STREETS),
        "place": place_for(title, rng),
        "colonia": name,
        "n": rng.randint(3, 12),
    }
    return {
        "territoryId": code,
        "theme": theme.name,
        "title": fill(title, words),
        "description": fill(description, words),
    }


async def report_progress(world: World, client: GraphQL, target: Target) -> dict[str, Any]:
    """One reportProgress by the commitment's agency staff; refreshes the version."""
    key = f"bench-{uuid.uuid4().hex}" if world.idempotency_keys else None
    try:
        data = await client(
            REPORT_PROGRESS,
            {
                "id": target.id,
                "v": target.version,
                "p": world.rng.randint(5, 95),
                "note": world.rng.choice(PROGRESS_NOTES),
            },
            token=world.tokens.staff(target.agency_id),
            idempotency_key=key,
        )
    except Exception:
        # Stale version (someone else wrote): read the current one and go on.
        with_version = await client(VERSION, {"id": target.id}, token=world.tokens.coordinator())
        if with_version.get("commitment"):
            target.version = with_version["commitment"]["version"]
        raise
    target.version = data["reportProgress"]["version"]
    return data


def write_request(
    world: World, concurrency: int, raise_share: float
) -> Callable[[GraphQL, int, int], Awaitable[None]]:
    """80 % reportProgress on the worker's own commitments, 20 % raiseCase."""
    own: list[list[Target]] = [world.commitments[i::concurrency] for i in range(concurrency)]
    coordinator = world.tokens.coordinator()

    async def request(client: GraphQL, worker: int, n: int) -> None:
        mine = own[worker]
        if not mine or world.rng.random() < raise_share:
            key = f"bench-{uuid.uuid4().hex}" if world.idempotency_keys else None
            await client(
                RAISE_CASE,
                {"input": _case_input(world.rng)},
                token=coordinator,
                idempotency_key=key,
            )
            return
        await report_progress(world, client, mine[n % len(mine)])

    return request


# -- write-to-visible lag --------------------------------------------------------------------


def _positions_sql() -> str:
    parts = [
        f"(SELECT notification_id FROM {tracking_table(name)} WHERE application_name = 'Tequio')"
        f" AS {name}"
        for name in PROJECTIONS
    ]
    # The log's head: when a write's event was committed (to tell a slow save from a
    # slow read model).
    parts.append("(SELECT max(notification_id) FROM tequio_events) AS head")
    return "SELECT " + ", ".join(parts)


async def lag(
    world: World,
    database_url: str,
    *,
    rate: float,
    seconds: float,
    poll_interval: float = 0.002,
) -> dict[str, Any]:
    """Open loop: ``rate`` reportProgress writes per second for ``seconds``.

    A poller reads every projection's tracking position every ``poll_interval``
    (one query). After the phase each write's notification id is looked up, and its
    lag is the time from sending it to the first poll that saw (a) the commitment
    board's position, (b) every read model's position at or past it. The mutation's
    own answer time (it waits for read-your-writes) is reported too.
    """
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=4)
    samples_t: list[float] = []
    samples_board: list[int] = []
    samples_all: list[int] = []
    samples_head: list[int] = []
    stop = asyncio.Event()
    sql = _positions_sql()

    async def poll() -> None:
        async with pool.acquire() as conn:
            statement = await conn.prepare(sql)
            while not stop.is_set():
                row = await statement.fetchrow()
                now = time.perf_counter()
                if row is None:
                    continue
                values = [int(row[name] or 0) for name in PROJECTIONS]
                samples_t.append(now)
                samples_board.append(int(row["commitments"] or 0))
                samples_all.append(min(values))
                samples_head.append(int(row["head"] or 0))
                await asyncio.sleep(poll_interval)

    poller = asyncio.create_task(poll())
    free = [t for t in world.commitments if not t.busy]
    world.rng.shuffle(free)
    sent: list[tuple[float, float | None, str, int | None, str | None]] = []
    clients: list[GraphQL] = []
    idle: list[GraphQL] = []
    outstanding: set[asyncio.Task[None]] = set()
    skipped = 0

    async def one(target: Target, at: float) -> None:
        client = idle.pop() if idle else GraphQL(world.host, world.port)
        if client not in clients:
            clients.append(client)
        target.busy = True
        try:
            await report_progress(world, client, target)
            sent.append((at, time.perf_counter(), target.id, target.version, None))
        except Exception as error:
            sent.append((at, None, target.id, None, f"{type(error).__name__}: {error}"))
        finally:
            target.busy = False
            idle.append(client)

    started = time.perf_counter()
    interval = 1.0 / max(rate, 0.1)
    count = int(seconds * rate)
    for k, target in zip(range(count), itertools.cycle(free), strict=False):
        at = started + k * interval
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if target.busy or len(outstanding) >= 64:
            skipped += 1
            continue
        task = asyncio.create_task(one(target, time.perf_counter()))
        outstanding.add(task)
        task.add_done_callback(outstanding.discard)
    if outstanding:
        await asyncio.wait(outstanding, timeout=30)
    await asyncio.sleep(0.3)
    stop.set()
    await poller
    for client in clients:
        await client.close()

    # Each write's position in the log: its commitment event.
    ack: list[float] = []
    board: list[float] = []
    everywhere: list[float] = []
    committed: list[float] = []
    slowest: list[tuple[float, float, float | None, float | None]] = []
    errors = Recorder()
    async with pool.acquire() as conn:
        for at, answered, commitment_id, version, error in sent:
            if error is not None or answered is None or version is None:
                errors.error(error or "no answer")
                continue
            ack.append(answered - at)
            notification_id = await conn.fetchval(
                "SELECT notification_id FROM tequio_events"
                " WHERE originator_id = $1 AND originator_version = $2",
                Commitment.id_for(world.municipality, commitment_id),
                version,
            )
            if notification_id is None:
                errors.error("event not found")
                continue
            board_at = _first_seen(samples_t, samples_board, notification_id, at)
            all_at = _first_seen(samples_t, samples_all, notification_id, at)
            head_at = _first_seen(samples_t, samples_head, notification_id, at)
            if board_at is not None:
                board.append(max(0.0, min(board_at, answered) - at))
            if all_at is not None:
                everywhere.append(max(0.0, min(all_at, answered) - at))
            commit = None if head_at is None else max(0.0, min(head_at, answered) - at)
            if commit is not None:
                committed.append(commit)
            visible = None if all_at is None else max(0.0, min(all_at, answered) - at)
            slowest.append((answered - at, at - started, commit, visible))
    await pool.close()
    elapsed = time.perf_counter() - started
    return {
        "rate_asked": round(rate, 1),
        "writes": len(ack),
        "per_second": round(len(ack) / elapsed, 1) if elapsed else None,
        "skipped": skipped,
        "errors": sum(errors.errors.values()),
        "error_kinds": dict(errors.errors.most_common(3)),
        "polls": len(samples_t),
        "poll_interval_ms": poll_interval * 1000,
        "visible_all_p50_ms": ms(percentile(everywhere, 50)),
        "visible_all_p99_ms": ms(percentile(everywhere, 99)),
        "visible_board_p50_ms": ms(percentile(board, 50)),
        "visible_board_p99_ms": ms(percentile(board, 99)),
        "ack_p50_ms": ms(percentile(ack, 50)),
        "ack_p99_ms": ms(percentile(ack, 99)),
        # Sent -> its event committed (the save, waits included), and the largest
        # gap between two polls (the load generator's own stalls).
        "committed_p50_ms": ms(percentile(committed, 50)),
        "committed_p99_ms": ms(percentile(committed, 99)),
        "poll_gap_max_ms": ms(max(map(operator.sub, samples_t[1:], samples_t), default=0.0)),
        # The five slowest answers: when in the phase, and where their time went.
        "slowest": [
            {
                "at_s": round(at_s, 2),
                "ack_ms": ms(answer),
                "committed_ms": ms(commit) if commit is not None else None,
                "visible_ms": ms(visible) if visible is not None else None,
            }
            for answer, at_s, commit, visible in sorted(slowest, reverse=True)[:5]
        ],
    }


def _first_seen(
    times: Sequence[float], positions: Sequence[int], notification_id: int, after: float
) -> float | None:
    """The first poll after ``after`` whose position reached ``notification_id``
    (positions only grow, so a bisection finds it)."""
    start = bisect.bisect_left(times, after)
    low, high = start, len(times)
    while low < high:
        mid = (low + high) // 2
        if positions[mid] >= notification_id:
            high = mid
        else:
            low = mid + 1
    return times[low] if low < len(times) else None
