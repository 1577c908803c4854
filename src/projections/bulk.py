"""A run of one statement sent as one statement over its rows in JSON (ADR 0027).

A catch-up or a rebuild queues thousands of writes per batch, grouped into runs of
the same statement (ADR 0020). psycopg sends each row of an ``executemany`` as a
statement of its own, ~15 µs of the projections thread's Python per row: the
largest share of a replay. Sent as one statement that reads its rows from one JSON
parameter (``json_to_recordset``), a run costs ~1 µs per row to encode with orjson,
and PostgreSQL less work too.

The statement is rewritten from the one the handler wrote:

    UPDATE t SET a = %(a)s WHERE uuid = %(uuid)s
 -> UPDATE t SET a = tq.p1 FROM (SELECT r."a" AS p1, r."uuid" AS p2
        FROM json_to_recordset(%s) AS r("a" integer, "uuid" uuid)) AS tq
    WHERE uuid = tq.p2

    INSERT INTO t (a, b) VALUES (%s, (SELECT k FROM u WHERE id = %s)) [ON CONFLICT ...]
 -> INSERT INTO t (a, b) SELECT tq.p1, (SELECT k FROM u WHERE id = tq.p2)
    FROM (...) AS tq [ON CONFLICT ...]

The columns' types are the ones PostgreSQL gives the statement's parameters (asked
once per statement, :func:`describe`), and every value must be of a Python type whose
JSON text PostgreSQL reads as it reads what psycopg sends for it; a run with any
other value goes as before. One such statement changes each row at most once
(``UPDATE ... FROM`` and ``ON CONFLICT`` would apply only one of several), so a run
that writes a row several times goes as several statements (:func:`waves`), each
row's writes in their order.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from math import isfinite
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import orjson
import psycopg
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.types.json import Json, _JsonWrapper

# From this many writes of one statement in a row, they go as one statement.
BULK_MIN_ROWS = 8

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
_NUMBER = re.compile(r"(?<![\w$])\$(\d+)\b")
# A quoted string or name (doubled quotes inside), and what else may hide a ``$n``.
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_DOLLAR_QUOTE = re.compile(r"\$[A-Za-z_]*\$")
# PostgreSQL's longest name, in bytes: a longer JSON key would not match its column.
_LONGEST_NAME = 63
_NAME = r'(?:"[^"]+"|[\w.]+)'
_UPDATE = re.compile(rf"\s*UPDATE\s+{_NAME}\s+SET\s", re.IGNORECASE)
_INSERT = re.compile(
    rf"\s*INSERT\s+INTO\s+{_NAME}\s*\([^()]*\)\s*(?P<values>VALUES)\s*\(", re.IGNORECASE
)

_NONE = type(None)
# What each parameter type may hold to go by JSON: PostgreSQL reads these values'
# JSON text (orjson's) as it reads what psycopg sends for them. Not an enum (psycopg
# sends its name, orjson its value), not a datetime for a date, not a tuple for an
# array (psycopg sends a record); ``CHECKS`` looks at the values of some types too.
ACCEPTED: dict[str, frozenset[type]] = {
    "uuid": frozenset({UUID, str, _NONE}),
    "text": frozenset({str, _NONE}),
    "character varying": frozenset({str, _NONE}),
    "integer": frozenset({int, _NONE}),
    "bigint": frozenset({int, _NONE}),
    "smallint": frozenset({int, _NONE}),
    "boolean": frozenset({bool, _NONE}),
    "double precision": frozenset({float, int, _NONE}),
    "date": frozenset({date, _NONE}),
    "timestamp with time zone": frozenset({datetime, _NONE}),
    "jsonb": frozenset({*_JsonWrapper.__subclasses__(), _NONE}),
    "text[]": frozenset({list, _NONE}),
}


class BulkForm(NamedTuple):
    """A statement's one-statement form, and what its rows' parameters must hold."""

    query: bytes
    # The key of each parameter in a row's parameters: its name, or its position.
    keys: tuple[str | int, ...]
    accepted: tuple[frozenset[type], ...]
    # For some types, a look at the values themselves (see ``CHECKS``).
    checks: tuple[Callable[[list[Any]], bool] | None, ...]

    def payload(self, rows: Sequence[Any]) -> Json | None:
        """The rows as the statement's one parameter; ``None`` if a value cannot go so.

        Rows of named parameters go as they are (their names are the JSON keys; a key
        the statement does not use is ignored); rows of positional ones as objects
        keyed by position. Values are checked a column at a time: the set of the
        types in it and, for the few types that need it, the values."""
        keys = self.keys
        try:
            positional = isinstance(keys[0], int)
            if positional and {len(params) for params in rows} != {len(keys)}:
                return None
            for key, types, check in zip(keys, self.accepted, self.checks, strict=True):
                if check is None:
                    if not {type(params[key]) for params in rows} <= types:
                        return None
                    continue
                column = [params[key] for params in rows]
                if not set(map(type, column)) <= types or not check(column):
                    return None
            objects = (
                [dict(zip(_names(len(keys)), params, strict=True)) for params in rows]
                if positional
                else rows
            )
            encoded = orjson.dumps(objects, default=_fragment)
        except (LookupError, TypeError, orjson.JSONEncodeError):
            return None  # the statement as it was says what is wrong, if anything
        return Json(encoded, dumps=_as_is)


def numbered(query: str) -> tuple[str, tuple[str | int, ...]] | None:
    """``query`` with psycopg's placeholders as ``$1``, ``$2``... (a name used twice is
    one parameter, as psycopg sends it), and the key of each. ``None`` if it mixes
    named and positional placeholders, has none, or has a literal ``%``."""
    keys: list[str | int] = []
    parts: list[str] = []
    last = 0
    named = positional = False
    for match in _PLACEHOLDER.finditer(query):
        name = match.group(1)
        if match.group(0) == "%%":
            return None
        if name is not None:
            named = True
            if name not in keys:
                keys.append(name)
            number = keys.index(name) + 1
        else:
            positional = True
            keys.append(len(keys))
            number = len(keys)
        parts.append(query[last : match.start()])
        parts.append(f"${number}")
        last = match.end()
    if not keys or (named and positional):
        return None
    parts.append(query[last:])
    return "".join(parts), tuple(keys)


def rewritten(text: str, keys: Sequence[str | int], types: Sequence[str]) -> str | None:
    """The one-statement form of ``text`` (numbered, see :func:`numbered`) whose
    parameters have these keys and ``types``, with one placeholder for the JSON rows;
    ``None`` for a statement that is not a plain ``UPDATE ... SET ... WHERE`` or a
    one-row ``INSERT ... VALUES``. The rows' columns are renamed ``p1``, ``p2``...: a
    parameter named as a column of the table would make that column's name ambiguous."""
    names = _json_keys(keys)
    columns = ", ".join(f'r."{name}" AS p{n}' for n, name in enumerate(names, 1))
    record = ", ".join(f'"{name}" {kind}' for name, kind in zip(names, types, strict=True))
    rows = f"(SELECT {columns} FROM json_to_recordset(%s) AS r({record})) AS tq"
    if _top_level(text, "RETURNING") is not None:
        return None
    if _UPDATE.match(text):
        where = _top_level(text, "WHERE")
        if where is None or _top_level(text, "FROM") is not None:
            return None
        statement = f"{text[:where]}FROM {rows} {text[where:]}"
    elif (insert := _INSERT.match(text)) is not None:
        close = _closing(text, insert.end() - 1)
        if close is None or text[close + 1 :].lstrip().startswith(","):
            return None
        head, values = text[: insert.start("values")], text[insert.end() : close]
        tail = text[close + 1 :]
        statement = f"{head}SELECT {values} FROM {rows}{tail}"
    else:
        return None
    return _columns_for_numbers(statement)


def describe(connection: Connection[Any], query: str) -> BulkForm | None:
    """``query``'s one-statement form, with the types PostgreSQL gives its parameters;
    ``None`` if it has none (and then always goes as it is). The connection is one of
    its own: statements are prepared on it and dropped. A connection error is raised."""
    found = numbered(query)
    if found is None:
        return None
    text, keys = found
    if any(len(key.encode()) > _LONGEST_NAME for key in keys if isinstance(key, str)):
        return None  # PostgreSQL would cut the name short, and the key would not match
    types = _parameter_types(connection, text)
    if types is None or len(types) != len(keys):
        return None
    accepted = [ACCEPTED.get(kind) for kind in types]
    statement = rewritten(text, keys, types)
    if statement is None or None in accepted:
        return None
    # Prepared once to see that PostgreSQL takes it (an ambiguous name, say).
    if _parameter_types(connection, statement.replace("%s", "$1")) is None:
        return None
    return BulkForm(
        statement.encode(),
        keys,
        tuple(a for a in accepted if a is not None),
        tuple(CHECKS.get(kind) for kind in types),
    )


def _parameter_types(connection: Connection[Any], text: str) -> list[str] | None:
    """The types PostgreSQL gives ``text``'s parameters; ``None`` if it refuses it.
    Each probe has a name of its own: a prepared statement outlives a failed
    transaction, and one left behind must not refuse the next."""
    name = f"tequio_bulk_probe_{next(_PROBES)}"
    try:
        with connection.transaction(), connection.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(f"PREPARE {name} AS {text}".encode())
            cursor.execute(
                "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = %s",
                (name,),
            )
            row = cursor.fetchone()
            cursor.execute(f"DEALLOCATE {name}".encode())
    except (psycopg.ProgrammingError, psycopg.DataError, psycopg.NotSupportedError):
        return None
    return list(row[0]) if row is not None else None


_PROBES = itertools.count()


W = TypeVar("W")


def waves(writes: Sequence[W], row: Callable[[W], Hashable]) -> list[list[W]] | None:
    """``writes`` split so that none changes a row twice: each row's first write in the
    first, its second in the second, and so on. ``None`` if a write names no row."""
    result: list[list[W]] = []
    seen: dict[Hashable, int] = {}
    for write in writes:
        key = row(write)
        if key is None:
            return None
        wave = seen.get(key, 0)
        seen[key] = wave + 1
        if wave == len(result):
            result.append([])
        result[wave].append(write)
    return result


def _top_level(text: str, word: str) -> int | None:
    """Where ``word`` is, as a word, outside parentheses and quotes; ``None`` if not."""
    size = len(word)
    upper = text.upper()
    for index, _char, depth in _outside_quotes(text, 0):
        if (
            depth == 0
            and upper.startswith(word, index)
            and (index == 0 or not _word_char(text[index - 1]))
            and (index + size == len(text) or not _word_char(text[index + size]))
        ):
            return index
    return None


def _closing(text: str, opening: int) -> int | None:
    """The parenthesis that closes the one at ``opening``."""
    for index, char, depth in _outside_quotes(text, opening):
        if char == ")" and depth == 0:
            return index
    return None


def _outside_quotes(text: str, start: int) -> Iterator[tuple[int, str, int]]:
    """Each character from ``start`` that is outside quotes, with the depth of
    parentheses once it is read: an opening one counts itself, a closing one no
    longer does."""
    depth = 0
    quote = ""
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        yield index, char, depth


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _json_keys(keys: Sequence[str | int]) -> tuple[str, ...]:
    """The JSON key of each parameter: its name, or its position counted from 1."""
    return tuple(key if isinstance(key, str) else str(key + 1) for key in keys)


_NAMES: dict[int, tuple[str, ...]] = {}


def _names(count: int) -> tuple[str, ...]:
    names = _NAMES.get(count)
    if names is None:
        names = _NAMES[count] = tuple(str(n) for n in range(1, count + 1))
    return names


def _finite(column: list[Any]) -> bool:
    """orjson writes a NaN or an infinity as null."""
    return all(isfinite(value) for value in column if type(value) is float)


def _within(low: int, high: int) -> Callable[[list[Any]], bool]:
    """psycopg sends a large integer as a wider type, which a comparison may take; JSON
    read as the parameter's own type would refuse it."""

    def check(column: list[Any]) -> bool:
        return all(low <= value < high for value in column if value is not None)

    return check


def _plain_times(column: list[Any]) -> bool:
    """Times with an offset PostgreSQL reads as text as psycopg sends it: not naive
    (psycopg sends those as ``timestamp``, which a function may take otherwise), in
    whole minutes (orjson rounds seconds away) and under 16 hours (PostgreSQL's
    limit for an offset in text). Times in UTC, as the events' are, need no look at
    each one."""
    if {value.tzinfo for value in column if value is not None} <= _UTC:
        return True
    return all(_plain_offset(value) for value in column if value is not None)


_UTC = frozenset({UTC})


def _plain_offset(moment: datetime) -> bool:
    offset = moment.utcoffset()
    return (
        offset is not None
        and not (offset.seconds % 60 or offset.microseconds)
        and abs(offset) < timedelta(hours=16)
    )


def _texts(column: list[Any]) -> bool:
    return all(type(item) in _TEXT_ITEMS for value in column if value is not None for item in value)


_TEXT_ITEMS = frozenset({str, _NONE})


def _documents(column: list[Any]) -> bool:
    """``json_to_recordset`` reads a ``jsonb`` whose value is JSON ``null`` as SQL NULL."""
    return all(value.obj is not None for value in column if value is not None)


# Types whose values need a look of their own, beyond their Python type.
CHECKS: dict[str, Callable[[list[Any]], bool]] = {
    "integer": _within(-(2**31), 2**31),
    "smallint": _within(-(2**15), 2**15),
    "double precision": _finite,
    "timestamp with time zone": _plain_times,
    "text[]": _texts,
    "jsonb": _documents,
}


def _columns_for_numbers(statement: str) -> str | None:
    """``statement`` with each ``$n`` outside quotes as ``tq.pn``; ``None`` if a quoted
    string or name holds a ``$`` or there is a dollar-quoted string (where a ``$n``
    is text, not a parameter)."""
    if _DOLLAR_QUOTE.search(statement):
        return None
    parts: list[str] = []
    last = 0
    for quoted in _QUOTED.finditer(statement):
        if "$" in quoted.group(0):
            return None
        parts.append(_NUMBER.sub(_column, statement[last : quoted.start()]))
        parts.append(quoted.group(0))
        last = quoted.end()
    parts.append(_NUMBER.sub(_column, statement[last:]))
    return "".join(parts)


def _column(number: re.Match[str]) -> str:
    return f"tq.p{number.group(1)}"


def _fragment(value: Any) -> Any:
    """A ``jsonb`` parameter (psycopg's wrapper) as the JSON its own ``dumps`` writes."""
    if isinstance(value, _JsonWrapper) and value.dumps is not None:
        return orjson.Fragment(value.dumps(value.obj))
    # (One with psycopg's default encoder goes as it is: orjson would write it otherwise.)
    raise TypeError(type(value).__name__)


def _as_is(encoded: Any) -> Any:
    return encoded
