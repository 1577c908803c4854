"""The command line as a newcomer uses it: serve on the embedded database, tokens, errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from api.auth import decode_token
from tequio.database import Database, DatabaseUnavailable
from tequio.settings import DEVELOPMENT_SECRET, Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tequio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tequio.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def postgres_processes_for(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "postgres" and str(data_dir) in cmdline:
            found.append(proc)
    return found


def test_serve_is_ready_on_the_embedded_database_and_leaves_no_server_behind(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "tequio-data"
    port = free_port()
    env = {**os.environ, "TEQUIO_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "tequio.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        assert ready is not None and ready.status_code == 200, server.stderr
        assert ready.json()["checks"] == {"database": "ok", "projections": "ok"}
        assert postgres_processes_for(data_dir), "the embedded server should be running"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    deadline = time.monotonic() + 10
    while postgres_processes_for(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert postgres_processes_for(data_dir) == []


def test_unreachable_database_is_said_plainly_without_a_stack_trace() -> None:
    port = free_port()
    result = tequio(
        "serve",
        "--port",
        str(free_port()),
        env={"DATABASE_URL": f"postgresql://tequio:x@127.0.0.1:{port}/tequio"},
    )
    assert result.returncode == 2
    assert "cannot reach PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


def test_database_open_refuses_a_url_that_is_not_postgresql() -> None:
    with pytest.raises(DatabaseUnavailable, match="postgresql://"):
        Database.open(Settings(DATABASE_URL="mysql://localhost/tequio"))


def test_token_command_prints_a_token_the_server_accepts() -> None:
    result = tequio(
        "token",
        "--sub",
        "laura",
        "--role",
        "agency_staff",
        "--agency",
        "servicios-urbanos",
        env={"TEQUIO_SECRET": DEVELOPMENT_SECRET, "TEQUIO_MUNICIPALITY": "iztapalapa"},
    )
    assert result.returncode == 0, result.stderr
    caller = decode_token(DEVELOPMENT_SECRET, result.stdout.strip(), municipality="iztapalapa")
    assert caller.subject == "laura" and caller.agency_id == "servicios-urbanos"


def test_token_command_refuses_an_unknown_role() -> None:
    result = tequio("token", "--sub", "x", "--role", "mayor")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
