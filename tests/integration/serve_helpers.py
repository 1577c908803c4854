"""Starting ``tequio serve`` as a newcomer does (embedded PostgreSQL in a folder of its
own), for the command-line tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import psutil

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_processes_for(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "postgres" and str(data_dir) in cmdline:
            found.append(proc)
    return found


def eventually(check: Callable[[], T | None], seconds: float, what: str) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


def readyz(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    except httpx.TransportError:
        return None


@contextmanager
def serving(data_dir: Path, **env: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``tequio serve`` on an embedded server in ``data_dir``, until it is ready; stopped
    with SIGINT (and any PostgreSQL it left behind stopped) after the block."""
    port = free_port()
    full_env = {**os.environ, "TEQUIO_DATA_DIR": str(data_dir), **env}
    full_env.pop("DATABASE_URL", None)
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "tequio.cli", "serve", "--port", str(port)],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=output,
            text=True,
        )
    try:
        try:
            eventually(
                lambda: (r := readyz(port)) is not None and r.status_code == 200,
                60,
                "the server is ready",
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\n{log.read_text()[-3000:]}") from None
        yield server, port
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        for stray in postgres_processes_for(data_dir):
            stray.send_signal(signal.SIGINT)
