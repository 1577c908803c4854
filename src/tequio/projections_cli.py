"""``tequio worker`` and ``tequio projections status|rebuild``.

Wire into the main parser with ``add_projection_commands(subparsers)``; each
command returns an exit code and prints plain text (no stack traces).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from cases.application import TequioApplication
from integrations.webhooks.host import background as background_webhooks
from projections.base import ProjectionEventError
from projections.registry import PROJECTIONS, select
from projections.runtime import ProjectionBusy, ProjectionService, rebuild, status
from tequio.application import library_env
from tequio.database import Database, DatabaseUnavailable
from tequio.settings import Settings, freeze_startup_heap, tune_interpreter
from tequio.worker_process import die_with_parent, parent_gone, tell_ready

BAR_WIDTH = 10
# How long a stopping worker waits for its projections thread (see cmd_worker).
WORKER_STOP_SECONDS = 5.0


def add_projection_commands(subparsers: Any) -> None:
    """Adds ``worker [NAME ...]`` and ``projections status`` / ``projections rebuild [NAME]``."""
    known = ", ".join(PROJECTIONS)
    worker = subparsers.add_parser(
        "worker",
        help="run projections until SIGINT/SIGTERM (production: one process per projection)",
    )
    worker.add_argument("names", nargs="*", metavar="NAME", help=f"default: all of {known}")
    worker.add_argument(
        "--no-webhooks",
        action="store_true",
        help="do not send webhooks from this worker (by default every worker sends them; "
        "copies share the work safely)",
    )
    worker.set_defaults(func=cmd_worker)

    projections = subparsers.add_parser("projections", help="projection status and rebuilds")
    commands = projections.add_subparsers(
        dest="projections_command", required=True, metavar="COMMAND"
    )
    show = commands.add_parser("status", help="per projection: position, lag, errors")
    show.add_argument(
        "--check",
        action="store_true",
        help="for monitoring scripts: exit 1 unless every projection is running and no more"
        " than --max-lag seconds behind",
    )
    show.add_argument(
        "--max-lag",
        type=_positive,
        default=60,
        metavar="SECONDS",
        help="with --check: the most a projection may lag (default 60)",
    )
    show.set_defaults(func=cmd_status)
    again = commands.add_parser(
        "rebuild", help="drop a projection's tables and replay the event store (stop it first)"
    )
    again.add_argument("name", nargs="?", metavar="NAME", help=f"default: all of {known}")
    again.add_argument(
        "--processes",
        type=_positive,
        metavar="N",
        help="replay the read models in N processes (default: 2 on a machine with 2 or more"
        " CPUs for a log of 50,000 events or more, else 1)",
    )
    again.set_defaults(func=cmd_rebuild)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


# -- commands -----------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    die_with_parent()  # when a `tequio serve` started it (ADR 0021)
    try:
        names = select(list(args.names or []))
    except KeyError as error:
        return _fail("worker", error.args[0])
    with _database("worker") as opened:
        if opened is None:
            return 2
        settings, db = opened
        tune_interpreter(settings)
        # A key that does not open the stored events stops the worker here (exit 2), as
        # every command; its projection thread would retry it for good (ADR 0025).
        TequioApplication(_env(settings, db)).close()
        service = ProjectionService(_env(settings, db), names)
        webhooks = None if args.no_webhooks else background_webhooks(settings, db.info.url())
        stopping = _StopRequested()
        _on_signals(stopping.set)
        service.start()
        if webhooks is not None:
            webhooks.start()
        print(
            f"tequio worker: running {', '.join(names)} on {db.info.describe()} (Ctrl-C to stop)",
            file=sys.stderr,
        )
        freeze_startup_heap()
        tell_ready()
        try:
            # `tequio serve` that started it gone: stop too.
            while not stopping.requested and not parent_gone():
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        print("tequio worker: stopping", file=sys.stderr)
        if webhooks is not None:
            webhooks.stop()
        # Not the default 30 s: with PostgreSQL gone, the projections thread waits in
        # its pool's retries, and a stop should not take half a minute. A batch cut
        # short is rolled back and read again by the next worker.
        service.stop(timeout=WORKER_STOP_SECONDS)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _database("projections status") as opened:
        if opened is None:
            return 2
        settings, db = opened
        rows = status(_env(settings, db))
    print(format_status(rows))
    if args.check:
        behind = [
            row["name"]
            for row in rows
            if not row["running"] or (row["lag_seconds"] or 0) > args.max_lag
        ]
        if behind:
            print(
                f"tequio projections status: not running or over {args.max_lag} s behind:"
                f" {', '.join(behind)}",
                file=sys.stderr,
            )
            return 1
        return 0
    return 1 if any(row["last_error"] and not row["running"] for row in rows) else 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    try:
        names = select([args.name] if args.name else None)
    except KeyError as error:
        return _fail("projections rebuild", error.args[0])
    label = args.name or "all"
    with _database("projections rebuild") as opened:
        if opened is None:
            return 2
        settings, db = opened
        started = time.monotonic()
        try:
            events = rebuild(
                _env(settings, db), args.name, progress_bar(label), processes=args.processes
            )
        except ProjectionBusy as error:
            return _fail("projections rebuild", str(error))
        except ProjectionEventError as error:
            print(file=sys.stderr)
            return _fail("projections rebuild", f"{error} (nothing was half applied)")
    print(file=sys.stderr)
    print(
        f"rebuilt {', '.join(names)} from {events} events in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


# -- helpers ------------------------------------------------------------------------------


def progress_bar(label: str) -> Callable[[int, int], None]:
    """Writes ``rebuild cases [#####.....] 5120/10240 events`` over itself on stderr."""

    def show(done: int, total: int) -> None:
        filled = BAR_WIDTH if total <= 0 else min(BAR_WIDTH, done * BAR_WIDTH // total)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        sys.stderr.write(f"\rrebuild {label} [{bar}] {done}/{total} events")
        sys.stderr.flush()

    return show


def format_status(rows: list[dict[str, Any]]) -> str:
    header = ("PROJECTION", "POSITION", "HEAD", "LAG", "LAG(s)", "STATE", "RESTARTS", "ERRORS")
    lines = [header]
    errors = []
    for row in rows:
        state = "running" if row["running"] else ("standby" if row.get("standby") else "stopped")
        lag_seconds = row["lag_seconds"]
        lines.append(
            (
                row["name"],
                str(row["position"]),
                str(row["head"]),
                str(row["lag_events"]),
                "?" if lag_seconds is None else f"{lag_seconds:.1f}",
                state,
                str(row["restarts"]),
                str(row["error_count"]),
            )
        )
        if row["last_error"]:
            when = row.get("last_error_at")
            at = f" at {when:%Y-%m-%d %H:%M:%S %Z}" if isinstance(when, datetime) else ""
            errors.append(f"  {row['name']}: last error{at}: {row['last_error']}")
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
             for line in lines]  # fmt: skip
    return "\n".join(table + (["", "errors:", *errors] if errors else []))


class _database:  # a context manager, named like a function
    """Opens Settings and the Database, prints why not if it cannot, and closes it."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.db: Database | None = None

    def __enter__(self) -> tuple[Settings, Database] | None:
        try:
            settings = Settings()
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
            )
            _fail(self.command, f"bad configuration: {problems}")
            return None
        try:
            self.db = Database.open(settings)
        except DatabaseUnavailable as error:
            _fail(self.command, str(error))
            return None
        return settings, self.db

    def __exit__(self, *exc: object) -> None:
        if self.db is not None:
            self.db.close()


def _env(settings: Settings, db: Database) -> dict[str, str]:
    return library_env(settings, db.info)


def _fail(command: str, message: str) -> int:
    print(f"tequio {command}: {message}", file=sys.stderr)
    return 2


class _StopRequested:
    """Set by a signal handler. Not a ``threading.Event``: its ``set`` takes a lock that
    the interrupted main thread may hold (waiting on that event), and a second signal
    (Ctrl-C twice; SIGTERM from ``tequio serve`` and from its death) then deadlocked."""

    def __init__(self) -> None:
        self.requested = False

    def set(self) -> None:
        self.requested = True


def _on_signals(handler: Callable[[], None]) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: handler())
