"""The embedded PostgreSQL stops when the last process using it exits, even after one
of them was killed without a chance to say it was leaving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace

from tequio.database import ConnectionInfo, Database

HOLD = """
import sys, time
from pathlib import Path
from tequio.database import start_embedded
start_embedded(Path(sys.argv[1]))
print("up", flush=True)
time.sleep(120)
"""

USE_AND_LEAVE = """
import sys
from pathlib import Path
from tequio.database import start_embedded
server, info = start_embedded(Path(sys.argv[1]))
server.cleanup()
"""


def test_a_killed_process_does_not_keep_the_embedded_server_running(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "up"
    finally:
        holder.kill()  # SIGKILL: it never removes itself from the server's handles
        holder.wait(timeout=30)
    running = tmp_path / "pg" / "postmaster.pid"
    assert running.exists()

    try:
        subprocess.run(
            [sys.executable, "-c", USE_AND_LEAVE, str(tmp_path)], check=True, timeout=120
        )
        assert not running.exists(), "the embedded server was left running"
    finally:
        if running.exists():  # never leave a server behind, even when this fails
            with suppress(ProcessLookupError, ValueError):
                os.kill(int(running.read_text().split()[0]), signal.SIGTERM)


def test_a_database_knows_when_the_embedded_server_it_started_has_stopped(
    tmp_path: Path,
) -> None:
    started = SimpleNamespace(pgdata=tmp_path)
    database = Database(ConnectionInfo("/run", 5432, "postgres", "", "tequio"), started)
    assert database.embedded_stopped()  # no postmaster.pid: nothing runs there
    # postmaster.pid as PostgreSQL writes it: pid, data folder, start, port, socket
    # folder, listen address, shared memory, status. This process stands in for it.
    (tmp_path / "postmaster.pid").write_text(
        f"{os.getpid()}\n{tmp_path}\n1795356378\n5432\n{tmp_path}\n\n  1 2\nready   \n"
    )
    assert not database.embedded_stopped()
    external = Database(ConnectionInfo("db.example", 5432, "tequio", "x", "tequio"))
    assert not external.embedded_stopped()  # a server Tequio did not start is not its to watch


def test_a_command_that_finds_no_database_in_its_folder_says_it_makes_a_new_one(
    tmp_path: Path,
) -> None:
    # The default folder is ./.tequio: run from the wrong folder, a command would
    # otherwise work on a new, empty database without a word.
    def use() -> str:
        done = subprocess.run(
            [sys.executable, "-c", USE_AND_LEAVE, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stderr

    first = use()
    assert f"no database in {tmp_path / 'pg'} yet: creating a new, empty one" in first
    assert "creating a new" not in use()
