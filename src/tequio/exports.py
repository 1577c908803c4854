"""``tequio export cases|commitments|scorecards|decidim-results``: the public view as open data.

An export is what an anonymous caller of the API may see, and nothing else:

- it reads the read models (``projections.*.queries``) with the public's cabinet
  scope (the empty set), so no commitment agreed at a security cabinet, and no
  count or name that comes from one, is ever exported; security cabinets are
  also left out of a case's tables;
- every column is listed here explicitly (``CASE_FIELDS`` ...): a column added to a
  read model is not exported until someone adds it here. The read models never
  hold a reporter's name or contact, and neither does any export.

Before reading, the read models are brought up to the head of the event log:
the projections are run in this process until every one of them has reached
the last event (when a server or a worker already runs them, this process
stands by and waits for them instead), for at most ``--wait`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import asyncpg

from cases.application import TequioApplication
from cases.clock import SystemClock
from cases.clock import today as local_today
from projections.cases.queries import CaseQueries
from projections.commitments.queries import CommitmentQueries
from projections.directory.queries import DirectoryQueries
from projections.forums.queries import ForumQueries
from projections.registry import tracking_table
from projections.rules import SECURITY_CABINET
from projections.runtime import EVENTS_TABLE, ProjectionService, connect
from projections.scorecards.queries import ScorecardQueries
from tequio import decidim
from tequio.console import choose_language, opened_database, progress_bar

EXPORT_KINDS = ("cases", "commitments", "scorecards", "decidim-results")
# The read models an export reads (the timelines are never exported).
READ_MODELS = ["directory", "forums", "cases", "commitments", "scorecards"]
# The public's cabinet scope: no security cabinet's commitments.
PUBLIC: frozenset[str] = frozenset()
PAGE = 500

CASE_FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "description",
    "theme",
    "priority",
    "status",
    "territory_id",
    "territory_name",
    "assembly_id",
    "raised_at",
    "updated_at",
    "table_ids",
    "table_names",
    "merged_into",
    "referred_to",
)
COMMITMENT_FIELDS: tuple[str, ...] = (
    "id",
    "case_id",
    "case_title",
    "description",
    "status",
    "progress",
    "agreed_on",
    "due_on",
    "made_at",
    "updated_at",
    "overdue",
    "days_overdue",
    "reschedules",
    "disputes",
    "fulfilled_on",
    "validated_at",
    "responsible_agency_id",
    "responsible_agency_name",
    "responsible_agency_level",
    "post_id",
    "post_title",
    "accountable_name",
    "accountable_when_made_name",
    "table_id",
    "table_name",
    "table_kind",
    "territory_id",
    "territory_name",
    "assembly_id",
)
SCORECARD_FIELDS: tuple[str, ...] = (
    "agency_id",
    "agency_name",
    "agency_level",
    "made",
    "fulfilled",
    "validated",
    "on_time",
    "overdue",
    "reschedules",
    "median_days_to_fulfil",
)
# A spreadsheet takes a cell starting with one of these for a formula: such text
# cells get a leading apostrophe in CSV exports (as Decidim's own exports do).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

TEXTS: dict[str, dict[str, str]] = {
    "catching_up": {"en": "read models catching up", "es": "vistas poniéndose al día"},
    "events": {"en": "events", "es": "eventos"},
    "rows": {"en": "rows", "es": "filas"},
    "reading": {"en": "export {kind}", "es": "exportación de {kind}"},
    "behind": {
        "en": "the read models are still {lag} events behind after {seconds:.0f} s; "
        "nothing was exported (see `tequio projections status`, or give --wait more time)",
        "es": "las vistas de lectura siguen {lag} eventos atrás tras {seconds:.0f} s; "
        "no se exportó nada (vea `tequio projections status` o dé más tiempo con --wait)",
    },
    "bad_delimiter": {
        "en": "--delimiter must be one character other than a quote or a line break; got {value}",
        "es": "--delimiter debe ser un carácter que no sea comillas ni salto de línea; "
        "se recibió {value}",
    },
    "bad_locale": {
        "en": "--locales: not a locale: {value}",
        "es": "--locales: no es un idioma: {value}",
    },
    "bad_status_pair": {
        "en": "--status-map: {pair!r} is not STATUS=ID (statuses: {known})",
        "es": "--status-map: {pair!r} no es ESTADO=ID (estados: {known})",
    },
    "bad_status_id": {
        "en": "--status-map: {pair!r}: a Decidim status id is a positive integer",
        "es": "--status-map: {pair!r}: el id de un estado de Decidim es un entero positivo",
    },
    "json_decidim": {
        "en": "decidim-results is a CSV layout: use --format csv",
        "es": "decidim-results es un formato CSV: use --format csv",
    },
    "cannot_write": {
        "en": "cannot write {file}: {reason}",
        "es": "no se puede escribir {file}: {reason}",
    },
    "kind.cases": {"en": "cases", "es": "casos"},
    "kind.commitments": {"en": "commitments", "es": "acuerdos"},
    "kind.scorecards": {"en": "scorecards", "es": "indicadores de áreas"},
    "kind.decidim-results": {"en": "Decidim results", "es": "resultados de Decidim"},
    "bad_wait": {
        "en": "--wait is a number of seconds, 0 or more; got {value}",
        "es": "--wait es un número de segundos, 0 o más; se recibió {value}",
    },
    "done": {
        "en": "exported {count} {kind} of {municipality} (as of {as_of}) to {where}",
        "es": "se exportaron {count} {kind} de {municipality} (al {as_of}) a {where}",
    },
}


def text(key: str, lang: str, **params: Any) -> str:
    return TEXTS[key][lang].format(**params)


@dataclass(frozen=True)
class Export:
    kind: str
    municipality: str
    as_of: date
    fields: tuple[str, ...]
    rows: list[dict[str, Any]]


# -- the read models up to date ---------------------------------------------------------------


def read_positions(env: Mapping[str, str], names: Sequence[str]) -> tuple[int, dict[str, int]]:
    """(head of the event log, each projection's position): 0 before any event, -1 for
    a projection whose tables do not exist yet (it has never run here)."""
    with connect(env) as conn:

        def exists(table: str) -> bool:
            row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (table,)).fetchone()
            return bool(row and row["present"])

        head = 0
        if exists(EVENTS_TABLE):
            row = conn.execute(
                f"SELECT coalesce(max(notification_id), 0) AS head FROM {EVENTS_TABLE}"
            ).fetchone()
            head = int(row["head"]) if row else 0
        positions: dict[str, int] = {}
        for name in names:
            table = tracking_table(name)
            position = -1
            if exists(table):
                row = conn.execute(
                    f"SELECT notification_id FROM {table} WHERE application_name = %s",
                    (TequioApplication.name,),
                ).fetchone()
                position = int(row["notification_id"]) if row and row["notification_id"] else 0
            positions[name] = position
    return head, positions


def catch_up(
    env: Mapping[str, str],
    names: Sequence[str],
    *,
    timeout: float,
    progress: Callable[[int], Callable[[int], None]] | None = None,
) -> tuple[bool, int]:
    """Brings the named read models to the head of the event log as it is now.

    Nothing runs when they are there already. Otherwise the projections run in this
    process (a process that already runs them keeps them; this one stands by and
    waits) until all have reached the head, or ``timeout`` seconds pass. Returns
    (caught up, events still to process)."""
    head, positions = read_positions(env, names)
    start = min(positions.values(), default=head)
    if start >= head:
        return True, 0
    show = progress(head - start) if progress else (lambda _done: None)
    service = ProjectionService(env, list(names), check_interval=0.5)
    deadline = time.monotonic() + timeout
    reached = start
    try:
        service.start(timeout=max(1.0, timeout))
        while True:
            with suppress(Exception):  # a position read can race a table being created
                reached = min(service.positions().values(), default=start)
            show(min(reached, head) - start)
            if reached >= head:
                return True, 0
            if time.monotonic() >= deadline:
                return False, head - max(reached, 0)
            time.sleep(0.05)
    finally:
        service.stop()


# -- reading ------------------------------------------------------------------------------------


class _Reader:
    """The public view, read through the read models' own query methods."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        municipality: str,
        today: date,
        zone: ZoneInfo,
        progress: Callable[[int], Callable[[int], None]],
    ) -> None:
        self.municipality = municipality
        self.today = today
        self.zone = zone
        self.progress = progress
        self.directory = DirectoryQueries(pool)
        self.forums = ForumQueries(pool)
        self.cases = CaseQueries(pool)
        self.commitments = CommitmentQueries(pool)
        self.scorecards = ScorecardQueries(pool)

    async def lookups(self) -> dict[str, dict[str, dict[str, Any]]]:
        m = self.municipality
        return {
            "territories": {r["id"]: r for r in await self.directory.territories(m)},
            "agencies": {r["id"]: r for r in await self.directory.agencies(m)},
            "posts": {r["id"]: r for r in await self.directory.posts(m)},
            "tables": {r["id"]: r for r in await self.forums.tables(m)},
        }

    async def all_cases(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        after: str | None = None
        show: Callable[[int], None] | None = None
        while True:
            page = await self.cases.list_cases(self.municipality, first=PAGE, after=after)
            show = show or self.progress(page.total_count)
            rows.extend(page.rows)
            show(len(rows))
            if not page.has_next_page:
                return rows
            after = page.end_cursor

    async def public_commitments(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        after: str | None = None
        show: Callable[[int], None] | None = None
        while True:
            page = await self.commitments.list_commitments(
                self.municipality,
                today=self.today,
                cabinet_scope=PUBLIC,
                first=PAGE,
                after=after,
            )
            show = show or self.progress(page.total_count)
            # The query already hides them; a second look costs nothing.
            rows.extend(r for r in page.rows if r["table_kind"] != SECURITY_CABINET)
            show(len(rows))
            if not page.has_next_page:
                return rows
            after = page.end_cursor

    async def officials(self, ids: set[str]) -> dict[str, str]:
        found = await self.directory.officials_by_ids(self.municipality, sorted(ids))
        return {r["id"]: r["name"] for r in found}

    async def case_titles(self, ids: set[str]) -> dict[str, str]:
        titles: dict[str, str] = {}
        ordered = sorted(ids)
        for start in range(0, len(ordered), 1000):
            for r in await self.cases.cases_by_ids(
                self.municipality, ordered[start : start + 1000]
            ):
                titles[r["id"]] = r["title"]
        return titles

    def local(self, at: datetime | None) -> datetime | None:
        return at.astimezone(self.zone) if at is not None else None


async def read_export(
    url: str,
    kind: str,
    *,
    municipality: str,
    today: date,
    zone: ZoneInfo,
    progress: Callable[[int], Callable[[int], None]] | None = None,
    locales: Sequence[str] = decidim.DEFAULT_LOCALES,
    status_ids: Mapping[str, int] | None = None,
) -> Export:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        reader = _Reader(pool, municipality, today, zone, progress or (lambda _t: lambda _d: None))
        if kind == "cases":
            fields, rows = CASE_FIELDS, await _cases(reader)
        elif kind == "commitments":
            fields, rows = COMMITMENT_FIELDS, await _commitments(reader)
        elif kind == "scorecards":
            fields, rows = SCORECARD_FIELDS, await _scorecards(reader)
        elif kind == "decidim-results":
            fields = decidim.columns(locales)
            rows = await _decidim(reader, locales, status_ids or {})
        else:  # pragma: no cover - argparse offers only the kinds above
            raise ValueError(f"unknown export {kind!r}")
    finally:
        await pool.close()
    return Export(kind, municipality, today, fields, rows)


async def _cases(reader: _Reader) -> list[dict[str, Any]]:
    found = await reader.lookups()
    territories, tables = found["territories"], found["tables"]
    rows = []
    for c in await reader.all_cases():
        shown = [t for t in c["table_ids"] if t in tables and tables[t]["kind"] != SECURITY_CABINET]
        rows.append(
            {
                "id": c["id"],
                "title": c["title"],
                "description": c["description"],
                "theme": c["theme"],
                "priority": c["priority"],
                "status": c["status"],
                "territory_id": c["territory_id"],
                "territory_name": _name(territories, c["territory_id"]),
                "assembly_id": c["assembly_id"],
                "raised_at": reader.local(c["raised_at"]),
                "updated_at": reader.local(c["updated_at"]),
                "table_ids": shown,
                "table_names": [tables[t]["name"] for t in shown],
                "merged_into": c["merged_into"],
                "referred_to": c["referred_to"],
            }
        )
    return rows


async def _commitments(reader: _Reader) -> list[dict[str, Any]]:
    found = await reader.lookups()
    territories, agencies, posts, tables = (
        found["territories"],
        found["agencies"],
        found["posts"],
        found["tables"],
    )
    commitments = await reader.public_commitments()
    holders = {p["holder_id"] for p in posts.values() if p["holder_id"]}
    made_by = {c["accountable_when_made_id"] for c in commitments if c["accountable_when_made_id"]}
    officials = await reader.officials(holders | made_by)
    titles = await reader.case_titles({c["case_id"] for c in commitments})
    rows = []
    for c in commitments:
        agency = agencies.get(c["responsible_agency_id"], {})
        post = posts.get(c["post_id"]) if c["post_id"] else None
        table = tables.get(c["table_id"]) if c["table_id"] else None
        rows.append(
            {
                "id": c["id"],
                "case_id": c["case_id"],
                "case_title": titles.get(c["case_id"]),
                "description": c["description"],
                "status": c["status"],
                "progress": c["progress"],
                "agreed_on": c["agreed_on"],
                "due_on": c["due_on"],
                "made_at": reader.local(c["made_at"]),
                "updated_at": reader.local(c["updated_at"]),
                "overdue": c["overdue"],
                "days_overdue": c["days_overdue"],
                "reschedules": c["reschedules"],
                "disputes": c["disputes"],
                "fulfilled_on": c["fulfilled_on"],
                "validated_at": reader.local(c["validated_at"]),
                "responsible_agency_id": c["responsible_agency_id"],
                "responsible_agency_name": agency.get("name"),
                "responsible_agency_level": agency.get("level"),
                "post_id": c["post_id"],
                "post_title": post["title"] if post else None,
                "accountable_name": (
                    officials.get(post["holder_id"]) if post and post["holder_id"] else None
                ),
                "accountable_when_made_name": officials.get(c["accountable_when_made_id"] or ""),
                "table_id": c["table_id"],
                "table_name": table["name"] if table else None,
                "table_kind": c["table_kind"],
                "territory_id": c["territory_id"],
                "territory_name": _name(territories, c["territory_id"]),
                "assembly_id": c["assembly_id"],
            }
        )
    return rows


async def _scorecards(reader: _Reader) -> list[dict[str, Any]]:
    agencies = (await reader.lookups())["agencies"]
    cards = await reader.scorecards.agency_scorecards(
        reader.municipality, today=reader.today, cabinet_scope=PUBLIC
    )
    show = reader.progress(len(cards))
    rows = []
    for card in cards:
        agency = agencies.get(card["agency_id"], {})
        rows.append(
            {
                "agency_id": card["agency_id"],
                "agency_name": agency.get("name"),
                "agency_level": agency.get("level"),
                "made": card["made"],
                "fulfilled": card["fulfilled"],
                "validated": card["validated"],
                "on_time": card["on_time"],
                "overdue": card["overdue"],
                "reschedules": card["reschedules"],
                "median_days_to_fulfil": card["median_days_to_fulfil"],
            }
        )
    show(len(rows))
    return rows


async def _decidim(
    reader: _Reader, locales: Sequence[str], status_ids: Mapping[str, int]
) -> list[dict[str, Any]]:
    agencies = (await reader.lookups())["agencies"]
    commitments = await reader.public_commitments()
    titles = await reader.case_titles({c["case_id"] for c in commitments})
    return [
        decidim.result_row(
            c,
            case_title=titles.get(c["case_id"], ""),
            agency_name=_name(agencies, c["responsible_agency_id"]) or "",
            locales=locales,
            status_ids=status_ids,
        )
        for c in sorted(commitments, key=lambda c: (c["made_at"], c["id"]))
    ]


def _name(rows: Mapping[str, Mapping[str, Any]], key: str | None) -> str | None:
    row = rows.get(key) if key else None
    return row["name"] if row else None


# -- writing ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _cell(value: Any, guard: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(_plain(v)) for v in value)
    plain = _plain(value)
    if guard and isinstance(value, str) and plain.startswith(FORMULA_STARTS):
        return "'" + plain
    return str(plain)


def write_csv(
    out: TextIO, export: Export, *, delimiter: str = ",", formula_guard: bool = True
) -> None:
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(export.fields)
    for row in export.rows:
        writer.writerow([_cell(row.get(f), formula_guard) for f in export.fields])


def write_json(out: TextIO, export: Export, exported_at: datetime) -> None:
    """``exported_at`` in the municipality's time zone, as every date-time exported."""
    document = {
        "kind": export.kind,
        "municipality": export.municipality,
        "as_of": export.as_of.isoformat(),
        "exported_at": exported_at.isoformat(timespec="seconds"),
        "count": len(export.rows),
        "fields": list(export.fields),
        "rows": [{f: _plain(row.get(f)) for f in export.fields} for row in export.rows],
    }
    json.dump(document, out, ensure_ascii=False, default=str)
    out.write("\n")


# -- command line ---------------------------------------------------------------------------


def add_export_command(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export",
        help="open-data export of the public view (cases, commitments, scorecards, Decidim)",
        description="Exports what the public may see, from the read models (brought up to "
        "date first). Never a reporter's data, never a security cabinet's commitments. "
        "See docs/integrations-csv.md.",
    )
    parser.add_argument("kind", choices=EXPORT_KINDS, metavar="KIND", help=" | ".join(EXPORT_KINDS))
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--output", "-o", metavar="FILE", help="default: standard output")
    parser.add_argument("--municipality", help="the tenant; defaults to TEQUIO_MUNICIPALITY")
    parser.add_argument(
        "--wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to let the read models catch up before giving up (120)",
    )
    parser.add_argument(
        "--lang", choices=("en", "es"), help="language of the messages (default: from LANG)"
    )
    group = parser.add_argument_group("decidim-results")
    group.add_argument(
        "--locales",
        help="title/description columns to fill, comma-separated (default: es; e.g. es,en "
        "or es-MX); every one carries the same Spanish text",
    )
    group.add_argument(
        "--delimiter",
        default=decidim.DECIDIM_DELIMITER,
        help="column separator: Decidim's default_csv_col_sep (default ';')",
    )
    group.add_argument(
        "--status-map",
        action="append",
        metavar="STATUS=ID",
        help="Decidim status id for a commitment status, e.g. OPEN=1,IN_PROGRESS=2 (repeatable)",
    )
    parser.set_defaults(func=cmd_export)
    return parser


def cmd_export(args: argparse.Namespace) -> int:
    from tequio.application import library_env

    lang = choose_language(args.lang)
    if not args.wait >= 0:  # also refuses nan
        return _fail(text("bad_wait", lang, value=args.wait))
    locales: tuple[str, ...] = decidim.DEFAULT_LOCALES
    status_ids: dict[str, int] = {}
    if args.kind == "decidim-results":
        if args.format == "json":
            return _fail(text("json_decidim", lang))
        if len(args.delimiter) != 1 or args.delimiter in '"\r\n':
            return _fail(text("bad_delimiter", lang, value=repr(args.delimiter)))
        try:
            locales = decidim.parse_locales(args.locales)
            status_ids = decidim.parse_status_map(args.status_map)
        except decidim.OptionError as error:
            return _fail(text(error.key, lang, **error.params))
    with opened_database("export", lang) as opened:
        if opened is None:
            return 2
        settings, db = opened
        municipality = args.municipality or settings.municipality
        started = time.monotonic()

        def catching_up(total: int) -> Callable[[int], None]:
            return progress_bar(text("catching_up", lang), text("events", lang), total=total)

        caught, lag = catch_up(
            library_env(settings, db.info), READ_MODELS, timeout=args.wait, progress=catching_up
        )
        if not caught:
            print(file=sys.stderr)
            seconds = time.monotonic() - started
            return _fail(text("behind", lang, lag=lag, seconds=seconds), code=1)

        def reading(total: int) -> Callable[[int], None]:
            label = text("reading", lang, kind=args.kind)
            return progress_bar(label, text("rows", lang), total=total)

        export = asyncio.run(
            read_export(
                db.info.url(),
                args.kind,
                municipality=municipality,
                today=local_today(SystemClock(), settings.zone),
                zone=settings.zone,
                progress=reading,
                locales=locales,
                status_ids=status_ids,
            )
        )
    try:
        where = _write(export, args, datetime.now(settings.zone))
    except BrokenPipeError:
        # The reader stopped reading (`tequio export cases | head`): it has what it wanted,
        # as from any tool of the shell. Nothing more is written to that pipe, not even
        # the interpreter's flush at exit.
        if not args.output or args.output == "-":
            with suppress(OSError, ValueError, AttributeError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as error:
        target = args.output if args.output and args.output != "-" else "stdout"
        return _fail(text("cannot_write", lang, file=target, reason=error.strerror))
    print(
        text(
            "done",
            lang,
            count=len(export.rows),
            kind=text(f"kind.{args.kind}", lang),
            municipality=municipality,
            as_of=export.as_of.isoformat(),
            where=where,
        ),
        file=sys.stderr,
    )
    return 0


def _write(export: Export, args: argparse.Namespace, now: datetime) -> str:
    def write(out: TextIO) -> None:
        if args.format == "json":
            write_json(out, export, now)
        elif export.kind == "decidim-results":
            write_csv(out, export, delimiter=args.delimiter, formula_guard=False)
        else:
            write_csv(out, export)

    if not args.output or args.output == "-":
        write(sys.stdout)
        sys.stdout.flush()
        return "stdout"
    target = Path(args.output)
    in_place = str(target).startswith(("/dev/", "/proc/self/fd/"))
    if in_place or (target.exists() and not target.resolve().is_file()):
        # A pipe, a terminal or a device, never replaced: /dev/stdout too, even when it
        # is a shell's redirection to a file (`>> all.csv` must keep what it holds).
        with target.open("w", encoding="utf-8", newline="") as out:
            write(out)
        return str(target)
    # A link is followed: the file it names is replaced, and the link stays.
    target = target.resolve()
    # Written next to the target and renamed: a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        # mkstemp makes the file private (0600); an export is meant to be read by
        # others (a web server publishing open data): the usual mode under the umask,
        # or the mode of the file it replaces.
        os.chmod(temporary, _mode_of(target))
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            write(out)
        os.replace(temporary, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    return str(target)


def _mode_of(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fail(message: str, code: int = 2) -> int:
    print(f"tequio export: {message}", file=sys.stderr)
    return code
