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
- ``start()`` returns once it has opened its read models (their tables exist);
- if it ends while the server runs, it is started again, after 1 s, then after
  twice as long each time (at most 30 s), back to 1 s once it has run a minute.
  While none runs, the read models wait and mutations answer once their wait for
  read-your-writes times out.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

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


def _find_prctl() -> Callable[..., int] | None:
    # Looked up here, in the parent: the child between fork and exec only calls it.
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):  # not Linux: the worker's own check remains
        return None


_prctl = _find_prctl()


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the thread that started it ends (the
    supervisor thread, which lives as long as the server)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


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

    # -- the supervisor thread (it starts every child: see _die_with_parent) --

    def _supervise(self) -> None:
        backoff = self._backoff_initial
        while not self._stopping.is_set():
            started = time.monotonic()
            process = self._spawn()
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
        read_end, write_end = os.pipe()
        env = {**self._env, READY_FD_ENV: str(write_end)}
        try:
            with self._lock:
                if self._stopping.is_set():
                    return None
                self._process = subprocess.Popen(
                    self._command,
                    env=env,
                    pass_fds=(write_end,),
                    start_new_session=True,
                    # Only a prctl call between fork and exec (nothing that takes a lock).
                    preexec_fn=_die_with_parent,
                )
                self.starts += 1
        except OSError as error:
            log.error("cannot start the projections worker: %s", error)
            os.close(read_end)
            self._first_answer.set()
            return None
        finally:
            os.close(write_end)
        process = self._process
        # Ready when it writes a line; the pipe closes (nothing read) if it ends first.
        with os.fdopen(read_end, "rb") as ready:
            if ready.readline():
                self._ready = True
        self._first_answer.set()
        return process


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
