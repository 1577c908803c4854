"""``tequio import territories|agencies|posts FILE.csv``: the directory from a spreadsheet.

The whole file is checked before anything is written: a file with any bad row
writes nothing, and every bad row is reported with its line number and reason
(in English or Spanish). A good file is written through the application
service, parents before children, one command per change:

- ids are catalogue codes, so a row whose id exists is compared with what the
  write side holds: equal, nothing is written (re-importing a file writes no
  event); different, it is updated (``update_territory``, ``update_agency``) or,
  where the application has no such command (a post's title or agency), the
  row is refused;
- a post's optional ``holder`` appoints that person when they do not already
  hold the post.

Existence and current values are read from the write side (the events), never
from the read models, so an import needs no projection to be running.
Columns and an example: ``docs/integrations-csv.md``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from cases.application import (
    CONTROL_CHARACTERS,
    MAX_NAME,
    CommandContext,
    CommandResult,
    TequioApplication,
)
from cases.directory import Agency, Post, Territory
from cases.errors import BadInputError, TequioError
from cases.ids import check_public_id, official_id_for
from cases.values import GovernmentLevel
from tequio.console import choose_language, opened_database, progress_bar

Kind = Literal["territories", "agencies", "posts"]
KINDS: tuple[Kind, ...] = ("territories", "agencies", "posts")
# The same limit as ``TequioApplication.add_territory`` puts on a territory's kind.
MAX_KIND = 60
DEFAULT_ACTOR = "admin:csv-import"


@dataclass(frozen=True)
class Columns:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional


COLUMNS: dict[Kind, Columns] = {
    "territories": Columns(("id", "name", "kind"), ("parent_id",)),
    "agencies": Columns(("id", "name", "level")),
    "posts": Columns(("id", "title", "agency_id"), ("holder",)),
}

# -- messages -------------------------------------------------------------------------------

MESSAGES: dict[str, dict[str, str]] = {
    "not_utf8": {
        "en": 'the file is not UTF-8 text (save it as "CSV UTF-8")',
        "es": 'el archivo no es texto UTF-8 (guárdelo como "CSV UTF-8")',
    },
    "empty": {
        "en": "the file is empty: its first line must name the columns ({required})",
        "es": "el archivo está vacío: su primera línea debe nombrar las columnas ({required})",
    },
    "missing_column": {
        "en": "the header has no '{column}' column (required: {required})",
        "es": "al encabezado le falta la columna '{column}' (obligatorias: {required})",
    },
    "unknown_column": {
        "en": "unknown column '{column}' (known: {known})",
        "es": "columna desconocida '{column}' (conocidas: {known})",
    },
    "repeated_column": {
        "en": "the column '{column}' appears twice in the header",
        "es": "la columna '{column}' aparece dos veces en el encabezado",
    },
    "extra_fields": {
        "en": "the row has {found} fields; the header has {expected}",
        "es": "la fila tiene {found} campos; el encabezado tiene {expected}",
    },
    "unnamed_column": {
        "en": "column {number} has a value but no name in the header",
        "es": "la columna {number} tiene un valor pero no tiene nombre en el encabezado",
    },
    "csv_error": {
        "en": "the CSV cannot be read from here on: {reason}",
        "es": "el CSV no se puede leer a partir de aquí: {reason}",
    },
    "unknown_level": {
        "en": "'level' must be one of {allowed}; got '{value}'",
        "es": "'level' debe ser uno de {allowed}; se recibió '{value}'",
    },
    "duplicate_id": {
        "en": "the id '{id}' was already given on line {first}",
        "es": "el identificador '{id}' ya aparece en la línea {first}",
    },
    "unknown_parent": {
        "en": "the parent '{id}' is neither in the database nor in this file",
        "es": "el territorio padre '{id}' no está en la base de datos ni en este archivo",
    },
    "unknown_agency": {
        "en": "the agency '{id}' is not in the database (import the agencies first)",
        "es": "el área '{id}' no está en la base de datos (importe primero las áreas)",
    },
    "parent_cycle": {
        "en": "the territory '{id}' would end up inside itself ({chain})",
        "es": "el territorio '{id}' quedaría dentro de sí mismo ({chain})",
    },
    "post_changed": {
        "en": "the post '{id}' already exists as '{title}' of agency '{agency_id}'; "
        "an import cannot rename a post or move it to another agency",
        "es": "el cargo '{id}' ya existe como '{title}' del área '{agency_id}'; "
        "una importación no puede renombrar un cargo ni cambiarlo de área",
    },
}

MAX_ACTOR = 200

TEXTS: dict[str, dict[str, str]] = {
    "kind.territories": {"en": "territories", "es": "territorios"},
    "kind.agencies": {"en": "agencies", "es": "áreas"},
    "kind.posts": {"en": "posts", "es": "cargos"},
    "line": {"en": "line", "es": "línea"},
    "bad_file": {
        "en": "{file}: {count} line(s) with problems; nothing was written.",
        "es": "{file}: {count} línea(s) con problemas; no se escribió nada.",
    },
    "failed": {
        "en": "{file}, line {line}: {message} ({done} of {total} changes were written "
        "before it; fix the row and import the file again: rows already written "
        "are left as they are)",
        "es": "{file}, línea {line}: {message} (se escribieron {done} de {total} cambios "
        "antes; corrija la fila e importe el archivo de nuevo: las filas ya escritas "
        "quedan como están)",
    },
    "unreadable": {"en": "cannot read {file}: {reason}", "es": "no se puede leer {file}: {reason}"},
    "bad_actor": {
        "en": "--actor must be a name of 1 to {max} characters, without control characters",
        "es": "--actor debe ser un nombre de 1 a {max} caracteres, sin caracteres de control",
    },
    "progress": {"en": "import {kind}", "es": "importación de {kind}"},
    "rows": {"en": "rows", "es": "filas"},
    "summary": {
        "en": "Imported {kind} from {file} for {municipality}: {rows} rows read; "
        "{created} created, {updated} updated, {unchanged} unchanged; "
        "{events} events written.",
        "es": "Importación de {kind} desde {file} para {municipality}: {rows} filas leídas; "
        "{created} nuevas, {updated} actualizadas, {unchanged} sin cambios; "
        "{events} eventos escritos.",
    },
}


def text(key: str, lang: str, **params: Any) -> str:
    return TEXTS[key][lang].format(**params)


class Describable(Protocol):
    def message(self, language: str = "en") -> str: ...


class ImportIssue:
    """A problem only an import can have (the application's own are ``TequioError``s)."""

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key = key
        self.params = params

    def message(self, language: str = "en") -> str:
        lang = "es" if language.lower().startswith("es") else "en"
        # Sentences, like the application's own messages.
        return MESSAGES[self.key][lang].format(**self.params) + "."

    def __repr__(self) -> str:
        return f"ImportIssue({self.key!r}, {self.params!r})"


@dataclass(frozen=True)
class Problem:
    line: int
    issue: Describable

    def message(self, lang: str) -> str:
        return self.issue.message(lang)


# -- reading the file -----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    line: int
    # Known columns only: the raw cell ("" when blank or missing at the end of the row).
    values: dict[str, str]


@dataclass
class ParsedFile:
    kind: Kind
    columns: tuple[str, ...] = ()
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # A problem with the file as a whole (encoding, header): its rows were not read.
    fatal: bool = False


def parse_csv(data: bytes, kind: Kind) -> ParsedFile:
    """Reads a comma-separated UTF-8 file (a BOM is fine) whose first line names the
    columns (any order, any case). Blank lines and rows of empty cells are skipped."""
    parsed = ParsedFile(kind)
    spec = COLUMNS[kind]
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        parsed.problems.append(Problem(line, ImportIssue("not_utf8")))
        parsed.fatal = True
        return parsed
    reader = csv.reader(io.StringIO(content, newline=""))
    header: list[str] | None = None
    header_line = 1
    while header is None:
        header_line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            parsed.problems.append(
                Problem(1, ImportIssue("empty", required=", ".join(spec.required)))
            )
            parsed.fatal = True
            return parsed
        except csv.Error as error:
            parsed.problems.append(Problem(header_line, ImportIssue("csv_error", reason=error)))
            parsed.fatal = True
            return parsed
        if any(cell.strip() for cell in record):
            header = [cell.strip().lower() for cell in record]
    for problem in _header_problems(header, spec, header_line):
        parsed.problems.append(problem)
        parsed.fatal = True
    if parsed.fatal:
        return parsed
    parsed.columns = tuple(header)
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            parsed.problems.append(Problem(line, ImportIssue("csv_error", reason=error)))
            break
        if not any(cell.strip() for cell in record):
            continue
        if any(cell.strip() for cell in record[len(header) :]):
            issue = ImportIssue("extra_fields", found=len(record), expected=len(header))
            parsed.problems.append(Problem(line, issue))
        for i, column in enumerate(header[: len(record)]):
            if not column and record[i].strip():
                parsed.problems.append(Problem(line, ImportIssue("unnamed_column", number=i + 1)))
        values = {
            column: record[i] if i < len(record) else ""
            for i, column in enumerate(header)
            if column
        }
        parsed.rows.append(Row(line, values))
    return parsed


def _header_problems(header: list[str], spec: Columns, line: int) -> Iterable[Problem]:
    seen: set[str] = set()
    for column in header:
        if not column:  # an unnamed column (a trailing comma): its cells must stay empty
            continue
        if column in seen:
            yield Problem(line, ImportIssue("repeated_column", column=column))
        seen.add(column)
        if column not in spec.known:
            yield Problem(
                line, ImportIssue("unknown_column", column=column, known=", ".join(spec.known))
            )
    for column in spec.required:
        if column not in seen:
            yield Problem(
                line,
                ImportIssue("missing_column", column=column, required=", ".join(spec.required)),
            )


# -- checking rows (the application's own rules and messages) -----------------------------------


def checked_text(value: str, column: str, max_length: int) -> str:
    """The application's text rule (``cases.application``): stripped, not blank, not
    longer than the limit, no control characters; refused with its own messages."""
    stripped = value.strip()
    if not stripped:
        raise BadInputError("blank", field=column)
    if len(stripped) > max_length:
        raise BadInputError("too_long", field=column, max=max_length)
    if CONTROL_CHARACTERS.search(stripped):
        raise BadInputError("control_characters", field=column)
    return stripped


class _RowCheck:
    """Collects every problem of one row instead of stopping at the first."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.issues: list[Describable] = []

    def add(self, issue: Describable) -> None:
        self.issues.append(issue)

    def present(self, column: str) -> bool:
        return column in self.row.values

    def text(self, column: str, max_length: int) -> str | None:
        try:
            return checked_text(self.row.values.get(column, ""), column, max_length)
        except TequioError as error:
            self.add(error)
            return None

    def optional_text(self, column: str, max_length: int) -> str | None:
        if not self.row.values.get(column, "").strip():
            return None
        return self.text(column, max_length)

    def id(self, column: str, *, optional: bool = False) -> str | None:
        value = self.row.values.get(column, "").strip()
        if not value:
            if not optional:
                self.add(BadInputError("blank", field=column))
            return None
        try:
            return check_public_id(value, column)
        except TequioError as error:
            self.add(error)
            return None

    def problems(self) -> list[Problem]:
        return [Problem(self.row.line, issue) for issue in self.issues]


# -- what the write side holds ----------------------------------------------------------------


class WriteSide:
    """Current directory values read from the events (cached): what a row is compared with."""

    def __init__(self, app: TequioApplication, municipality: str) -> None:
        self.app = app
        self.municipality = municipality
        self._cache: dict[tuple[str, str], dict[str, Any] | None] = {}

    def territory(self, public_id: str) -> dict[str, Any] | None:
        return self._state(Territory, public_id)

    def agency(self, public_id: str) -> dict[str, Any] | None:
        return self._state(Agency, public_id)

    def post(self, public_id: str) -> dict[str, Any] | None:
        return self._state(Post, public_id)

    def _state(self, cls: type[Territory | Agency | Post], public_id: str) -> dict[str, Any] | None:
        key = (cls.KIND, public_id)
        if key not in self._cache:
            events = self.app.events.get(cls.id_for(self.municipality, public_id))
            state: dict[str, Any] | None = None
            for event in events:
                state = _fold(state or {}, type(event).__name__, event)
            self._cache[key] = state
        return self._cache[key]


def _fold(state: dict[str, Any], name: str, event: Any) -> dict[str, Any]:
    if name in ("Added", "Updated"):
        for attribute in ("name", "kind", "parent_id", "level", "title", "agency_id"):
            if hasattr(event, attribute):
                state[attribute] = getattr(event, attribute)
    elif name == "HolderAppointed":
        state["holder_id"] = event.official_id
    return state


# -- the plan -------------------------------------------------------------------------------

Outcome = Literal["created", "updated", "unchanged"]
Step = tuple[Callable[..., CommandResult], dict[str, Any]]


@dataclass
class Action:
    line: int
    outcome: Outcome
    steps: list[Step] = field(default_factory=list)
    depth: int = 0


@dataclass
class Plan:
    kind: Kind
    rows: int
    actions: list[Action] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for action in self.actions if action.outcome == outcome)

    @property
    def changes(self) -> list[Action]:
        return [action for action in self.actions if action.steps]


def plan_import(
    app: TequioApplication,
    municipality: str,
    parsed: ParsedFile,
    write_side: WriteSide | None = None,
) -> Plan:
    """Checks every row against the file and the write side; writes nothing. The plan's
    actions are in the order they must be written (parents first)."""
    side = write_side or WriteSide(app, municipality)
    planners = {"territories": _plan_territories, "agencies": _plan_agencies, "posts": _plan_posts}
    plan = Plan(parsed.kind, len(parsed.rows))
    planners[parsed.kind](app, side, parsed, plan)
    plan.problems = sorted([*parsed.problems, *plan.problems], key=lambda p: p.line)
    plan.actions.sort(key=lambda a: (a.depth, a.line))
    return plan


def _first_lines(check: _RowCheck, public_id: str | None, first: dict[str, int]) -> None:
    if public_id is None:
        return
    if public_id in first:
        check.add(ImportIssue("duplicate_id", id=public_id, first=first[public_id]))
    else:
        first[public_id] = check.row.line


def _plan_territories(
    app: TequioApplication, side: WriteSide, parsed: ParsedFile, plan: Plan
) -> None:
    first: dict[str, int] = {}
    checked: list[tuple[_RowCheck, str | None, str | None, str | None, str | None]] = []
    for row in parsed.rows:
        check = _RowCheck(row)
        public_id = check.id("id")
        name = check.text("name", MAX_NAME)
        kind = check.text("kind", MAX_KIND)
        parent_id = check.id("parent_id", optional=True) if check.present("parent_id") else None
        _first_lines(check, public_id, first)
        checked.append((check, public_id, name, kind, parent_id))
    # The tree as it will be: rows of the file over what the write side holds.
    parent_in_file: dict[str, str | None] = {}
    for check, public_id, _, _, parent_id in checked:
        if public_id is None or first.get(public_id) != check.row.line:
            continue
        if check.present("parent_id"):
            parent_in_file[public_id] = parent_id
        else:
            existing = side.territory(public_id)
            parent_in_file[public_id] = existing["parent_id"] if existing else None

    def parent_of(territory_id: str) -> str | None:
        if territory_id in parent_in_file:
            return parent_in_file[territory_id]
        existing = side.territory(territory_id)
        return existing["parent_id"] if existing else None

    depth: dict[str, int] = {}
    for check, public_id, name, kind, parent_id in checked:
        if parent_id is not None and parent_id not in first and side.territory(parent_id) is None:
            check.add(ImportIssue("unknown_parent", id=parent_id))
        if public_id is not None and not check.issues:
            chain = _cycle(public_id, parent_of)
            if chain:
                check.add(ImportIssue("parent_cycle", id=public_id, chain=" → ".join(chain)))
        if check.issues:
            plan.problems.extend(check.problems())
            continue
        assert public_id is not None and name is not None and kind is not None
        parent = parent_in_file[public_id]
        existing = side.territory(public_id)
        action = Action(check.row.line, "unchanged")
        if existing is None:
            action.outcome = "created"
            action.steps.append(
                (
                    app.add_territory,
                    {"territory_id": public_id, "name": name, "kind": kind, "parent_id": parent},
                )
            )
        elif (existing.get("name"), existing.get("kind"), existing.get("parent_id")) != (
            name,
            kind,
            parent,
        ):
            action.outcome = "updated"
            action.steps.append(
                (
                    app.update_territory,
                    {"territory_id": public_id, "name": name, "kind": kind, "parent_id": parent},
                )
            )
        action.depth = _depth(public_id, parent_in_file, depth)
        plan.actions.append(action)


def _cycle(start: str, parent_of: Callable[[str], str | None]) -> list[str]:
    """The chain ``start → ... → start`` if walking up from ``start`` comes back to it."""
    chain = [start]
    current = parent_of(start)
    while current is not None:
        chain.append(current)
        if current == start:
            return chain
        if current in chain[:-1]:  # a cycle above this row: that row reports it
            return []
        current = parent_of(current)
    return []


def _depth(territory_id: str, parents: dict[str, str | None], memo: dict[str, int]) -> int:
    """How many of the file's own territories are above this one (parents go first)."""
    path: list[str] = []
    current: str | None = territory_id
    while current is not None and current in parents and current not in memo:
        if current in path:  # refused as a cycle already; any order will do
            break
        path.append(current)
        current = parents[current]
    base = memo.get(current, -1) if current is not None and current in parents else -1
    for node in reversed(path):
        base += 1
        memo[node] = base
    return memo.get(territory_id, 0)


def _plan_agencies(app: TequioApplication, side: WriteSide, parsed: ParsedFile, plan: Plan) -> None:
    first: dict[str, int] = {}
    allowed = ", ".join(level.value for level in GovernmentLevel)
    for row in parsed.rows:
        check = _RowCheck(row)
        public_id = check.id("id")
        name = check.text("name", MAX_NAME)
        level: GovernmentLevel | None = None
        raw_level = row.values.get("level", "").strip()
        if not raw_level:
            check.add(BadInputError("blank", field="level"))
        elif raw_level.upper() in GovernmentLevel.__members__:
            level = GovernmentLevel[raw_level.upper()]
        else:
            check.add(ImportIssue("unknown_level", allowed=allowed, value=raw_level[:60]))
        _first_lines(check, public_id, first)
        if check.issues:
            plan.problems.extend(check.problems())
            continue
        assert public_id is not None and name is not None and level is not None
        existing = side.agency(public_id)
        action = Action(row.line, "unchanged")
        if existing is None:
            action.outcome = "created"
            action.steps.append(
                (app.add_agency, {"agency_id": public_id, "name": name, "level": level})
            )
        elif (existing.get("name"), existing.get("level")) != (name, level):
            action.outcome = "updated"
            action.steps.append(
                (app.update_agency, {"agency_id": public_id, "name": name, "level": level})
            )
        plan.actions.append(action)


def _plan_posts(app: TequioApplication, side: WriteSide, parsed: ParsedFile, plan: Plan) -> None:
    first: dict[str, int] = {}
    for row in parsed.rows:
        check = _RowCheck(row)
        public_id = check.id("id")
        title = check.text("title", MAX_NAME)
        agency_id = check.id("agency_id")
        holder = check.optional_text("holder", MAX_NAME)
        _first_lines(check, public_id, first)
        if agency_id is not None and side.agency(agency_id) is None:
            check.add(ImportIssue("unknown_agency", id=agency_id))
        existing = side.post(public_id) if public_id is not None else None
        if existing is not None and (existing.get("title"), existing.get("agency_id")) != (
            title,
            agency_id,
        ):
            check.add(
                ImportIssue(
                    "post_changed",
                    id=public_id,
                    title=existing.get("title"),
                    agency_id=existing.get("agency_id"),
                )
            )
        if check.issues:
            plan.problems.extend(check.problems())
            continue
        assert public_id is not None and title is not None and agency_id is not None
        action = Action(row.line, "unchanged")
        if existing is None:
            action.outcome = "created"
            action.steps.append(
                (app.add_post, {"post_id": public_id, "title": title, "agency_id": agency_id})
            )
        current_holder = existing.get("holder_id") if existing else None
        if holder is not None and official_id_for(side.municipality, holder) != current_holder:
            if existing is not None:
                action.outcome = "updated"
            action.steps.append(
                (app.appoint_to_post, {"post_id": public_id, "official_name": holder})
            )
        plan.actions.append(action)


# -- writing --------------------------------------------------------------------------------


class ImportFailed(Exception):
    """A command was refused while writing (e.g. someone changed the directory meanwhile)."""

    def __init__(self, line: int, error: TequioError, done: int, total: int) -> None:
        super().__init__(error.message("en"))
        self.line = line
        self.error = error
        self.done = done
        self.total = total


@dataclass(frozen=True)
class ImportSummary:
    kind: Kind
    rows: int
    created: int
    updated: int
    unchanged: int
    events: int


def write_plan(
    app: TequioApplication,
    ctx: CommandContext,
    plan: Plan,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Runs the plan's commands in order (no idempotency keys: each change is decided
    against the write side, so running a file again writes nothing more)."""
    changes = plan.changes
    position = app.current_position()
    show = progress or (lambda _done: None)
    show(0)
    for done, action in enumerate(changes):
        try:
            for method, kwargs in action.steps:
                method(ctx, **kwargs)
        except TequioError as error:
            raise ImportFailed(action.line, error, done, len(changes)) from error
        show(done + 1)
    return ImportSummary(
        kind=plan.kind,
        rows=plan.rows,
        created=plan.count("created"),
        updated=plan.count("updated"),
        unchanged=plan.count("unchanged"),
        events=app.current_position() - position,
    )


# -- command line ---------------------------------------------------------------------------


def add_import_command(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "import",
        help="import territories, agencies or posts from a CSV file (checked whole first)",
        description="Imports the directory from a UTF-8 CSV file whose first line names the "
        "columns. Nothing is written unless every row is good. Columns: "
        + "; ".join(
            f"{kind}: {', '.join(spec.required)}"
            + (f" [{', '.join(spec.optional)}]" if spec.optional else "")
            for kind, spec in COLUMNS.items()
        )
        + ". See docs/integrations-csv.md.",
    )
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help=" | ".join(KINDS))
    parser.add_argument("file", metavar="FILE.csv")
    parser.add_argument("--municipality", help="the tenant; defaults to TEQUIO_MUNICIPALITY")
    parser.add_argument(
        "--actor", default=DEFAULT_ACTOR, help=f"who the changes are recorded as ({DEFAULT_ACTOR})"
    )
    parser.add_argument(
        "--lang", choices=("en", "es"), help="language of the messages (default: from LANG)"
    )
    parser.set_defaults(func=cmd_import)
    return parser


def cmd_import(args: argparse.Namespace) -> int:
    from tequio.application import build_application

    lang = choose_language(args.lang)
    actor = args.actor.strip()
    if not actor or len(actor) > MAX_ACTOR or CONTROL_CHARACTERS.search(actor):
        # It goes into every event, the feed and webhooks: as checked as a token's subject.
        print(f"tequio import: {text('bad_actor', lang, max=MAX_ACTOR)}", file=sys.stderr)
        return 2
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as error:
        print(
            f"tequio import: {text('unreadable', lang, file=path, reason=error.strerror)}",
            file=sys.stderr,
        )
        return 2
    parsed = parse_csv(data, args.kind)
    if parsed.fatal:
        return _report(path, parsed.problems, lang)
    with opened_database("import", lang) as opened:
        if opened is None:
            return 2
        settings, db = opened
        municipality = args.municipality or settings.municipality
        app = build_application(settings, db.info)
        try:
            plan = plan_import(app, municipality, parsed)
            if plan.problems:
                return _report(path, plan.problems, lang)
            kind_name = text(f"kind.{args.kind}", lang)
            bar = progress_bar(
                text("progress", lang, kind=kind_name),
                text("rows", lang),
                total=len(plan.changes),
            )
            ctx = CommandContext(actor=actor, municipality=municipality)
            try:
                summary = write_plan(app, ctx, plan, bar)
            except ImportFailed as failure:
                print(file=sys.stderr)
                message = text(
                    "failed",
                    lang,
                    file=path.name,
                    line=failure.line,
                    message=failure.error.message(lang),
                    done=failure.done,
                    total=failure.total,
                )
                print(f"tequio import: {message}", file=sys.stderr)
                return 1
        finally:
            app.close()
    print(
        text(
            "summary",
            lang,
            kind=kind_name,
            file=path.name,
            municipality=municipality,
            rows=summary.rows,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
            events=summary.events,
        )
    )
    return 0


def _report(path: Path, problems: list[Problem], lang: str) -> int:
    lines = sorted({p.line for p in problems})
    print(
        f"tequio import: {text('bad_file', lang, file=path.name, count=len(lines))}",
        file=sys.stderr,
    )
    word = text("line", lang)
    for problem in sorted(problems, key=lambda p: p.line):
        print(f"  {word} {problem.line}: {problem.message(lang)}", file=sys.stderr)
    return 1
