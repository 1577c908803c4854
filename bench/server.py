"""``tequio serve`` as a separate process on loopback, pointed at the bench's database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

SECRET = "tequio-bench-secret-0123456789abcdef0123456789"
# Production refuses to start without TEQUIO_CIPHER_KEY, so the bench seals every event
# too (a fixed key: the bench's database is its own, thrown away).
CIPHER_KEY = "dGVxdWlvLWJlbmNoLWNpcGhlci1rZXktMzItYnl0ZXM="
MUNICIPALITY = "iztapalapa"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tequio_command() -> list[str]:
    script = Path(sys.executable).parent / "tequio"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "tequio.cli"]


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (uvicorn's worker processes and their helpers)."""
    try:
        import psutil

        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except Exception:
        return []


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, from /proc (Linux)."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    found[name] = int(value.split()[0])
    except OSError:
        pass
    if not found:
        try:
            import psutil

            found["VmRSS"] = int(psutil.Process(pid).memory_info().rss // 1024)
        except Exception:
            pass
    return found


class Server:
    """One ``tequio serve`` process (with ``worker``, also ``tequio worker`` processes
    that keep the read models, the API serving only: docker-compose.yml's shape; one
    worker per group of ``worker_groups``, else one for all); ``stop()`` ends them
    (SIGTERM, then SIGKILL)."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        extra_env: dict[str, str] | None = None,
        projections: bool = True,
        workers: int = 1,
        worker: bool = False,
        worker_groups: list[list[str]] | None = None,
    ) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.log_path = log_path
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url,
            TEQUIO_SECRET=SECRET,
            TEQUIO_MUNICIPALITY=MUNICIPALITY,
            TEQUIO_ENV="development",
            # The load comes from one caller per role: the per-caller limit is off.
            TEQUIO_RATE_LIMIT_PER_MINUTE="0",
            # No access log line per request (it is not what is measured).
            TEQUIO_LOG_LEVEL="WARNING",
        )
        env.update(extra_env or {})
        command = [*_tequio_command(), "serve", "--host", self.host, "--port", str(self.port)]
        if not projections or worker:
            command.append("--no-projections")
        if workers > 1:
            command += ["--workers", str(workers)]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.workers: list[subprocess.Popen[bytes]] = []
        for group in (worker_groups or [[]]) if worker else []:
            self.workers.append(
                subprocess.Popen(
                    [*_tequio_command(), "worker", *group],
                    env=env,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        self.peak_rss_sampled_kb = 0
        self._sampling = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        """The server and, with ``--workers``, the processes it started (and the
        projection workers, if any)."""
        pids = [self.pid, *children(self.pid)]
        for worker in self.workers:
            pids += [worker.pid, *children(worker.pid)]
        return pids

    def projections_pid(self, timeout: float = 15.0) -> int:
        """The process that keeps the read models: the worker child ``tequio serve``
        starts (ADR 0021), a ``tequio worker`` of this server's, or the server itself
        (``--workers N`` keeps them in each server process)."""
        if self.workers:
            return self.workers[0].pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in children(self.pid):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                        arguments = cmdline.read().split(b"\0")
                except OSError:
                    continue
                if b"worker" in arguments:
                    return pid
            time.sleep(0.1)
        return self.pid

    def _sample(self) -> None:
        while not self._sampling.wait(0.25):
            rss = sum(memory_kb(pid).get("VmRSS", 0) for pid in self.pids())
            self.peak_rss_sampled_kb = max(self.peak_rss_sampled_kb, rss)

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        url = f"http://{self.host}:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def wait_ready(self, timeout: float = 120.0, *, ready: bool = True) -> float:
        """Seconds until /healthz answers (and /readyz says ready, if ``ready``)."""
        deadline = time.perf_counter() + timeout
        path = "/readyz" if ready else "/healthz"
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"tequio serve exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                status, _ = self.get(path, timeout=2)
                if status == 200:
                    return time.perf_counter() - self.started_at
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"tequio serve not ready after {timeout:.0f} s; see {self.log_path}")

    def memory(self) -> dict[str, Any]:
        """Summed over the server's processes; the peak is the sum of each one's peak
        (an upper bound when they peak at different moments) or the sampled peak."""
        found = [memory_kb(pid) for pid in self.pids()]
        rss = sum(f.get("VmRSS", 0) for f in found)
        peak = sum(f.get("VmHWM", 0) for f in found)
        return {
            "processes": len(found),
            "rss_mb": round(rss / 1024, 1),
            "peak_rss_mb": round(max(peak, self.peak_rss_sampled_kb) / 1024, 1),
        }

    def stop(self, timeout: float = 30.0) -> int | None:
        self._sampling.set()
        for process in (self.process, *self.workers):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        self._log.close()
        return self.process.returncode
