"""``tequio serve --workers N``: several server processes on one port and one database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from api.auth import mint_token
from tequio.database import ConnectionInfo
from tequio.settings import Settings

ADD_AGENCY = (
    "mutation($id: ID!, $n: String!) { addAgency(id: $id, name: $n, level: MUNICIPAL) { id name } }"
)
AGENCIES = "{ agencies { id name } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(db: ConnectionInfo, settings: Settings) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": db.url(),
        "TEQUIO_MUNICIPALITY": settings.municipality,
        "TEQUIO_SECRET": settings.secret.get_secret_value(),
        "TEQUIO_RATE_LIMIT_PER_MINUTE": "0",
        "TEQUIO_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tequio.cli", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, "tequio serve --workers 2 exited"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("tequio serve --workers 2 was not ready within 90 s")
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def post(url: str, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    # A new connection each time, so the kernel hands requests to either process.
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


def test_two_server_processes_answer_and_each_reads_the_others_writes(
    served: tuple[str, subprocess.Popen[bytes]], settings: Settings
) -> None:
    url, process = served
    servers = [
        child
        for child in psutil.Process(process.pid).children(recursive=True)
        if "multiprocessing" in " ".join(child.cmdline())
        and "resource_tracker" not in " ".join(child.cmdline())
    ]
    assert len(servers) == 2, [c.cmdline() for c in servers]
    admin = mint_token(
        settings.secret.get_secret_value(),
        subject="admin:ana",
        roles=["admin"],
        municipality=settings.municipality,
    )
    for i in range(12):
        made = post(url, admin, ADD_AGENCY, {"id": f"agencia-{i}", "n": f"Agencia {i}"})
        assert made["addAgency"] == {"id": f"agencia-{i}", "name": f"Agencia {i}"}
        # Whichever process answers, the write is already in its read models.
        listed = post(url, admin, AGENCIES)["agencies"]
        assert {"id": f"agencia-{i}", "name": f"Agencia {i}"} in listed

    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(30) == 0
