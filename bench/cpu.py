"""What one request costs in CPU, and the rate the machine could give at that cost.

During a load phase the bench reads the CPU time (user + system, from ``/proc``,
Linux) of three parties: the server's processes, PostgreSQL's (the embedded
server's postmaster and its children; not measurable when ``DATABASE_URL`` points
elsewhere) and the load generator (this process). Divided by the requests
answered, that is each party's CPU per request. All three share the machine's
cores, so ``cores / total CPU per request`` is the most requests per second the
machine could answer at that cost: the phase's *CPU ceiling*. A rate near its
ceiling is CPU-bound; a rate well under it is waiting (locks, I/O, round trips).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: Iterable[int], *, reaped_by: Iterable[int] = ()) -> float:
    """User + system CPU seconds of these processes so far (gone ones count 0), plus
    those of the children that the processes ``reaped_by`` have waited for (a
    PostgreSQL backend that ended with its connection is counted in its postmaster's
    children's times)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    for pid in reaped_by:
        fields = _stat(pid)
        if fields:
            total += int(fields[13]) + int(fields[14])
    return total / TICKS


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name (2nd field) may hold spaces: split after its ")".
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def postgres_pids(data_dir: Path | None) -> list[int] | None:
    """The embedded server's postmaster and its children, from its pid file."""
    if data_dir is None:
        return None
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        import psutil

        process = psutil.Process(postmaster)
        return [postmaster, *(child.pid for child in process.children(recursive=True))]
    except Exception:
        return None


def usable_cores() -> int:
    """The cores this process may run on (its affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class CpuMeter:
    """``start()`` before a phase, ``result(requests)`` after it."""

    def __init__(
        self,
        server_pids: Callable[[], list[int]],
        postgres_data_dir: Path | None,
        *,
        with_children: bool = False,
    ) -> None:
        """``with_children``: the client's CPU includes its child processes that have
        ended (a rebuild's processes); else only this process's own."""
        self._server_pids = server_pids
        self._postgres_data_dir = postgres_data_dir
        self._with_children = with_children
        self._start: tuple[float, float | None, float, float] | None = None

    def _client(self) -> float:
        if not self._with_children:
            return time.process_time()
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def _postgres(self) -> float | None:
        # PostgreSQL starts a process per connection: read the list at each look.
        pids = postgres_pids(self._postgres_data_dir)
        return None if pids is None else cpu_seconds(pids, reaped_by=pids[:1])

    def start(self) -> None:
        self._start = (
            cpu_seconds(self._server_pids()),
            self._postgres(),
            self._client(),
            time.perf_counter(),
        )

    def result(self, requests: int) -> dict[str, Any]:
        assert self._start is not None, "start() first"
        server0, postgres0, client0, wall0 = self._start
        server = cpu_seconds(self._server_pids()) - server0
        postgres_now = self._postgres()
        postgres = None if postgres0 is None or postgres_now is None else postgres_now - postgres0
        client = self._client() - client0
        wall = time.perf_counter() - wall0
        cores = usable_cores()
        out: dict[str, Any] = {
            "cores": cores,
            "seconds": round(wall, 2),
            "server_busy": round(server / wall, 2) if wall else None,
            "postgres_busy": round(postgres / wall, 2) if wall and postgres is not None else None,
            "client_busy": round(client / wall, 2) if wall else None,
        }
        if requests <= 0:
            return out
        per = {
            "server_ms": 1000 * server / requests,
            "postgres_ms": None if postgres is None else 1000 * postgres / requests,
            "client_ms": 1000 * client / requests,
        }
        total = sum(v for v in per.values() if v is not None)
        out.update({k: None if v is None else round(v, 3) for k, v in per.items()})
        out["total_ms"] = round(total, 3)
        out["ceiling_per_s"] = round(cores * 1000 / total, 1) if total else None
        return out
