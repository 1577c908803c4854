"""``tequio serve``'s read models, kept by a ``tequio worker`` child process (ADR 0021).

In the server's own process the projections thread and the API's event loop take
turns on one interpreter lock: a write then costs the server ~12 ms of CPU instead
of ~7.5 (plus ~2.3 in a worker), and one server process could not pass ~100 writes a
second. The child is the ``tequio worker`` that production runs (docker-compose.yml),
started and watched by the server:

- it is told the database (``DATABASE_URL``: the embedded server the parent
  started) and the parent's pid; it stops when the parent goes, even killed with
  SIGKILL (``PR_SET_PDEATHSIG`` on Linux, and the worker's own check of its parent);
- it runs in a session of its own, so a Ctrl-C in the terminal reaches the server,
  which stops it in order (a graceful stop finishes the batch in hand);
- ``start()`` returns once it says it is ready: each of its read models has made
  its first attempt to open (its tables are made, unless that attempt failed or
  another process runs it); a restarted child that is not ready within
  ``ready_timeout`` seconds is killed and started again;
- if it ends while the server runs, it is started again, after 1 s, then after
  twice as long each time (at most 30 s), back to 1 s once it has run a minute.
  While none runs, the read models wait and mutations answer once their wait for
  read-your-writes times out.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

log = logging.getLogger("tequio.worker")

# Set for the child: the pid it must outlive no longer than a second, and the pipe
# on which it says it is ready.
PARENT_ENV = "TEQUIO_WORKER_PARENT"
READY_FD_ENV = "TEQUIO_WORKER_READY_FD"

BACKOFF_INITIAL = 1.0
BACKOFF_CAP = 30.0
# A child that ran this long had started well: the next restart waits BACKOFF_INITIAL.
HEALTHY_AFTER = 60.0
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the worker started by a server: SIGTERM when that server ends (Linux), then a
    look at the parent in case it ended before this call. (Set here, in the child, not
    between fork and exec: the server is threaded.)"""
    if PARENT_ENV not in os.environ:
        return
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: parent_gone() remains
        pass
    if parent_gone():
        os.kill(os.getpid(), signal.SIGTERM)


def worker_command() -> list[str]:
    return [sys.executable, "-m", "tequio.cli", "worker"]


class WorkerNotReady(RuntimeError):
    """The worker child ended, or said nothing, before it was ready."""


class WorkerProcess:
    """One supervised ``tequio worker`` child; ``start()``, ``alive``, ``stop()``."""

    def __init__(
        self,
        database_url: str,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        self._env = {**(os.environ if env is None else env), "DATABASE_URL": database_url}
        self._env[PARENT_ENV] = str(os.getpid())
        self._command = [*worker_command(), *args]
        self._ready_timeout = ready_timeout
        self._backoff_initial = backoff_initial
        self._backoff_cap = backoff_cap
        self._stopping = threading.Event()
        # Set once the first child has said it is ready, or has ended without it.
        self._first_answer = threading.Event()
        self._ready = False
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    @property
    def alive(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    def start(self) -> None:
        """Starts the child and returns once it is ready (``WorkerNotReady`` if it ends
        first or is not ready within ``ready_timeout`` seconds)."""
        self._thread = threading.Thread(target=self._supervise, name="worker-process", daemon=True)
        self._thread.start()
        self._first_answer.wait(self._ready_timeout)
        if not self._ready or not self.alive:
            self.stop()
            raise WorkerNotReady(
                "the projections worker process did not start (its messages are above)"
            )

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, and SIGKILL if it has not ended within ``timeout`` seconds."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("the projections worker did not stop within %.0f s: killed", timeout)
                process.kill()
                process.wait()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the supervisor thread --

    def _supervise(self) -> None:
        backoff = self._backoff_initial
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                process = self._spawn()
            except Exception as error:  # never leave the server without its supervisor
                log.error("cannot start the projections worker: %s", error)
                process = None
            finally:
                self._first_answer.set()
            if process is not None:
                code = process.wait()
                if self._stopping.is_set():
                    return
                log.error("the projections worker ended (exit code %s); starting it again", code)
            if time.monotonic() - started >= HEALTHY_AFTER:
                backoff = self._backoff_initial
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self._backoff_cap)

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        """A new child, once it is ready; ``None`` if it could not start, ended first,
        or was not ready within ``ready_timeout`` seconds (then it is killed)."""
        read_end, write_end = os.pipe()
        try:
            with self._lock:
                if self._stopping.is_set():
                    return None
                self._process = process = subprocess.Popen(
                    self._command,
                    env={**self._env, READY_FD_ENV: str(write_end)},
                    pass_fds=(write_end,),
                    start_new_session=True,
                )
                self.starts += 1
            os.close(write_end)
            write_end = -1
            # Ready when it writes a line; the pipe closes (nothing to read) if it ends.
            readable, _, _ = select.select([read_end], [], [], self._ready_timeout)
            if readable and os.read(read_end, 64):
                self._ready = True
                return process
            if process.poll() is None:
                log.error(
                    "the projections worker was not ready within %.0f s: killed",
                    self._ready_timeout,
                )
                process.kill()
            return process
        finally:
            os.close(read_end)
            if write_end != -1:
                os.close(write_end)


def tell_ready() -> None:
    """In the worker: tells the server that started it (if any) that it is ready."""
    fd = os.environ.pop(READY_FD_ENV, None)
    if fd is None:
        return
    try:
        os.write(int(fd), b"ready\n")
        os.close(int(fd))
    except (OSError, ValueError):
        pass


def parent_gone() -> bool:
    """In the worker: true once the server that started it is no longer its parent."""
    parent = os.environ.get(PARENT_ENV)
    return parent is not None and str(os.getppid()) != parent
