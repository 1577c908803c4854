"""The command line as a newcomer uses it: serve on the embedded database, tokens, errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from eventsourcing.cryptography import AESCipher
from pydantic import SecretStr
from serve_helpers import eventually, free_port, postgres_processes_for, readyz, serving

from api.auth import decode_token
from cases.application import CommandContext
from cases.clock import FixedClock
from cases.values import GovernmentLevel
from tequio.application import build_application
from tequio.database import ConnectionInfo, Database, DatabaseUnavailable
from tequio.settings import DEVELOPMENT_SECRET, Settings


def tequio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tequio.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_serve_is_ready_on_the_embedded_database_and_leaves_no_server_behind(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "tequio-data"
    with serving(data_dir) as (server, port):
        ready = readyz(port)
        assert ready is not None
        assert ready.json()["checks"] == {"database": "ok", "projections": "ok"}
        assert postgres_processes_for(data_dir), "the embedded server should be running"

        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        eventually(lambda: not postgres_processes_for(data_dir), 10, "no server left behind")


def test_served_process_freezes_what_start_up_made_once_ready(tmp_path: Path) -> None:
    # Out of the collector's reach, start-up's objects no longer lengthen the pauses of
    # the full collections that requests set off (ADR 0022).
    with serving(tmp_path / "tequio-data") as (_, port):
        assert readyz(port) is not None
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines()
    frozen = [line for line in metrics if line.startswith("tequio_gc_frozen_objects ")]
    assert frozen, "the metrics should say how many objects are frozen"
    assert int(frozen[0].split()[1]) > 10_000, frozen


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


def test_token_command_takes_several_cabinets_after_one_table_option() -> None:
    result = tequio(
        "token",
        *("--sub", "jefe.sector", "--role", "cabinet_member"),
        *("--table", "gab-zonal", "gab-general"),
        env={"TEQUIO_SECRET": DEVELOPMENT_SECRET, "TEQUIO_MUNICIPALITY": "iztapalapa"},
    )
    assert result.returncode == 0, result.stderr
    caller = decode_token(DEVELOPMENT_SECRET, result.stdout.strip(), municipality="iztapalapa")
    assert caller.table_ids == {"gab-zonal", "gab-general"}


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (("--sub", "", "--role", "admin"), "--sub must name who acts"),
        (("--sub", "   ", "--role", "admin"), "--sub must name who acts"),
        (("--sub", "a\x1bb", "--role", "admin"), "--sub must name who acts"),
        (("--sub", "laura", "--role", "agency_staff"), "needs --agency"),
        (("--sub", "jefe", "--role", "cabinet_member"), "needs --table"),
        (("--sub", "laura", "--role", "admin", "--hours", "0"), "--hours must be from 1"),
        (("--sub", "laura", "--role", "admin", "--hours", "-5"), "--hours must be from 1"),
    ],
)
def test_token_command_refuses_a_token_that_would_be_useless_or_misleading(
    arguments: tuple[str, ...], said: str
) -> None:
    result = tequio("token", *arguments)
    assert result.returncode == 2 and said in result.stderr
    assert result.stdout == ""


def test_serve_refuses_a_port_out_of_range() -> None:
    result = tequio("serve", "--port", "99999")
    assert result.returncode == 2 and "is not a port" in result.stderr


def test_token_command_refuses_an_unknown_role() -> None:
    result = tequio("token", "--sub", "x", "--role", "mayor")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_served_websocket_messages_are_held_to_the_body_cap(tmp_path: Path) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with serving(tmp_path / "tequio-data", TEQUIO_MAX_BODY_BYTES="65536") as (_, port):
        url = f"ws://127.0.0.1:{port}/graphql"
        with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            ws.send(json.dumps({"type": "connection_init"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
            small = {"query": "{ __typename }"}
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": small}))
            assert json.loads(ws.recv(timeout=10))["type"] == "next"
            assert json.loads(ws.recv(timeout=10))["type"] == "complete"

            padded = {"query": "{ __typename }", "variables": {"padding": "x" * 100_000}}
            ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": padded}))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_serve_says_plainly_that_its_port_is_taken_before_starting_anything(
    tmp_path: Path,
) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = tequio(
            "serve", "--port", str(port), env={"TEQUIO_DATA_DIR": str(tmp_path / "data")}
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # no database was started for nothing


def test_a_misspelt_setting_is_warned_of() -> None:
    result = tequio("token", "--sub", "ana", "--role", "admin", env={"TEQUIO_LOGLEVEL": "DEBUG"})
    assert result.returncode == 0
    assert "TEQUIO_LOGLEVEL is not a Tequio setting" in result.stderr


def test_a_data_folder_that_cannot_be_made_is_said_without_a_log_that_does_not_exist() -> None:
    result = tequio("projections", "status", env={"TEQUIO_DATA_DIR": "/proc/tequio"})
    assert result.returncode == 2
    assert "could not start the embedded PostgreSQL in /proc/tequio/pg" in result.stderr
    assert "/proc/tequio/pg/log" not in result.stderr and "Traceback" not in result.stderr


def test_serve_fails_its_liveness_when_its_embedded_postgresql_dies(tmp_path: Path) -> None:
    # Nothing would start it again: a supervisor that watches /healthz restarts Tequio.
    data_dir = tmp_path / "tequio-data"
    with serving(data_dir) as (_, port):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        postmaster = min(postgres_processes_for(data_dir), key=lambda p: p.pid)
        postmaster.kill()

        def unhealthy() -> httpx.Response | None:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return answer if answer.status_code == 503 else None

        answer = eventually(unhealthy, 15, "/healthz answers 503")
        assert "embedded PostgreSQL has stopped" in answer.json()["status"]


def test_a_worker_with_a_key_that_does_not_open_the_events_stops_at_once(
    settings: Settings, db: ConnectionInfo, clock: FixedClock, ctx: CommandContext
) -> None:
    sealed = settings.model_copy(update={"cipher_key": SecretStr(AESCipher.create_key(32))})
    app = build_application(sealed, db, clock=clock)
    try:
        app.add_agency(ctx, name="Obras", level=GovernmentLevel.MUNICIPAL, agency_id="obras")
    finally:
        app.close()
    result = tequio(
        "worker",
        env={"DATABASE_URL": db.url(), "TEQUIO_CIPHER_KEY": AESCipher.create_key(32)},
    )
    assert result.returncode == 2, result.stderr
    assert "does not open the events already stored" in result.stderr
    assert "running" not in result.stderr
