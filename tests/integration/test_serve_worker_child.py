"""``tequio serve`` keeps its read models in a ``tequio worker`` child (ADR 0021): the
child answers for the read models, is started again when it dies, and never outlives
the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TypeVar

import psutil
import psycopg
import pytest
from serve_helpers import eventually, postgres_processes_for, readyz, serving

from tequio.database import ConnectionInfo
from tequio.worker_process import WorkerNotReady, WorkerProcess

T = TypeVar("T")


def worker_children(server: subprocess.Popen[str]) -> list[psutil.Process]:
    try:
        children = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:  # a child that just died (a zombie) has no command line
            if child.status() != psutil.STATUS_ZOMBIE and "worker" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def worker_processes_named(pid: int) -> list[psutil.Process]:
    try:
        process = psutil.Process(pid)
        alive = process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        return [process] if alive else []
    except psutil.NoSuchProcess:
        return []


def owners(data_dir: Path) -> set[str]:
    """Which processes (":pid") wrote the read models' latest heartbeats, on the
    embedded server the serve under test started in ``data_dir``."""
    pid_file = (data_dir / "pg" / "postmaster.pid").read_text().splitlines()
    port, socket_dir = int(pid_file[3]), pid_file[4]
    with psycopg.connect(host=socket_dir, port=port, user="postgres", dbname="tequio") as conn:
        rows = conn.execute("SELECT owner FROM projections_status").fetchall()
    return {":" + str(owner).rsplit(":", 1)[1] for (owner,) in rows}


def test_serve_keeps_the_read_models_in_a_child_it_starts_again_and_takes_down_with_it(
    tmp_path: Path,
) -> None:
    with serving(tmp_path / "data") as (server, port):
        ready = readyz(port)
        assert ready is not None
        assert ready.json()["checks"] == {"database": "ok", "projections": "ok"}
        [first] = worker_children(server)

        first.send_signal(signal.SIGKILL)
        second = eventually(
            lambda: [c for c in worker_children(server) if c.pid != first.pid],
            20,
            "a new worker child",
        )[0]
        eventually(
            lambda: (r := readyz(port)) is not None and r.status_code == 200,
            30,
            "ready again",
        )
        eventually(
            lambda: owners(tmp_path / "data") == {f":{second.pid}"},
            30,
            "every read model kept by the new child (its heartbeats)",
        )

        # Killed outright, the server takes its child with it.
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        eventually(
            lambda: not worker_processes_named(second.pid),
            15,
            "the worker child ended with its server",
        )


def test_serve_stopped_with_sigterm_stops_its_child_and_the_embedded_database(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir) as (server, _):
        [child] = worker_children(server)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert not worker_processes_named(child.pid)
    eventually(lambda: not postgres_processes_for(data_dir), 10, "the embedded server stopped")


def test_serve_with_projections_in_a_thread_starts_no_child(tmp_path: Path) -> None:
    with serving(tmp_path / "data", TEQUIO_PROJECTIONS="thread") as (server, port):
        ready = readyz(port)
        assert ready is not None
        assert ready.json()["checks"] == {"database": "ok", "projections": "ok"}
        assert worker_children(server) == []


def test_a_worker_signalled_twice_in_a_row_still_stops(db: ConnectionInfo) -> None:
    """A smoke test: the handler that deadlocked (a ``threading.Event`` set while the
    interrupted main thread held its lock) did so only on an unlucky timing."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "tequio.cli", "worker", "--no-webhooks", "directory"],
        env={**os.environ, "DATABASE_URL": db.url()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stderr is not None
        for line in worker.stderr:
            if "tequio worker: running" in line:
                break
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM):
            worker.send_signal(sig)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()


def test_a_worker_child_that_cannot_start_is_reported_at_once(db: ConnectionInfo) -> None:
    worker = WorkerProcess(db.url(), args=["--no-such-option"], ready_timeout=60)
    started = time.monotonic()
    with pytest.raises(WorkerNotReady, match="did not start"):
        worker.start()
    assert time.monotonic() - started < 30
    assert not worker.alive
