"""A run of writes sent as one statement over JSON rows stores what psycopg's own
parameters would have stored, value for value (ADR 0027)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import bulk
from projections.base import jsonb
from tequio.database import ConnectionInfo

TABLE = "bulk_values_check"
COLUMNS = {
    "u": "uuid",
    "t": "text",
    "i": "integer",
    "b": "bigint",
    "f": "boolean",
    "d": "date",
    "ts": "timestamptz",
    "j": "jsonb",
    "a": "text[]",
    "x": "double precision",
}
INSERT = (
    f"INSERT INTO {TABLE} (k, {', '.join(COLUMNS)})"
    f" VALUES (%(k)s, {', '.join(f'%({c})s' for c in COLUMNS)})"
)
UPDATE = f"UPDATE {TABLE} SET t = %(t)s, i = coalesce(%(i)s, i) + 1, a = a || %(a)s WHERE k = %(k)s"


@pytest.fixture
def conn(db: ConnectionInfo) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db.url(), autocommit=True) as connection:
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        connection.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (k integer PRIMARY KEY, {columns})")
        yield connection
        connection.execute(f"DROP TABLE IF EXISTS {TABLE}")


def stored(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    # (JSON null and SQL NULL both load as None: asked apart.)
    return conn.execute(f"SELECT *, j IS NULL FROM {TABLE} ORDER BY k").fetchall()


def both_ways(
    conn: psycopg.Connection[Any], statement: str, rows: list[dict[str, Any]]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] | None:
    """The table after ``rows`` went as psycopg's parameters, and after they went as one
    statement's JSON rows (from the same table before); ``None`` if they cannot go so."""
    form = bulk.describe(conn, statement)
    assert form is not None
    payload = form.payload(rows)
    if payload is None:
        return None
    before = stored(conn)
    with conn.transaction(force_rollback=True):
        conn.cursor().executemany(statement, rows)
        as_parameters = stored(conn)
    with conn.transaction(force_rollback=True):
        conn.execute(form.query, (payload,))
        as_json = stored(conn)
    assert stored(conn) == before
    return as_parameters, as_json


TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
ROW = st.fixed_dictionaries(
    {
        "u": st.none() | st.uuids() | st.uuids().map(str),
        "t": st.none() | TEXT,
        "i": st.none() | st.integers(-(2**31), 2**31 - 1),
        "b": st.none() | st.integers(-(2**63), 2**63 - 1),
        "f": st.none() | st.booleans(),
        "d": st.none() | st.dates(),
        "ts": st.none()
        | st.datetimes(timezones=st.none() | st.just(UTC) | st.timezones())
        | st.datetimes(timezones=st.just(UTC))
        | st.datetimes(timezones=st.timezones()),
        "j": st.none() | JSON_VALUES.map(jsonb),
        "a": st.none() | st.lists(st.none() | TEXT, max_size=4),
        "x": st.none() | st.floats(allow_nan=False, allow_infinity=False),
    }
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(ROW, min_size=1, max_size=12))
def test_rows_inserted_as_json_are_stored_as_psycopgs_parameters_store_them(
    conn: psycopg.Connection[Any], rows: list[dict[str, Any]]
) -> None:
    keyed = [row | {"k": k} for k, row in enumerate(rows)]
    results = both_ways(conn, INSERT, keyed)
    if results is not None:  # refused: the run goes as psycopg's parameters
        as_parameters, as_json = results
        assert as_json == as_parameters


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.lists(
        st.fixed_dictionaries(
            {
                "k": st.integers(0, 3),
                "t": st.none() | TEXT,
                "i": st.none() | st.integers(-1000, 1000),
                "a": st.lists(TEXT, max_size=2),
            }
        ),
        min_size=1,
        max_size=10,
    )
)
def test_rows_updated_in_waves_end_as_one_update_at_a_time_leaves_them(
    conn: psycopg.Connection[Any], changes: list[dict[str, Any]]
) -> None:
    """A run that changes a row several times goes as several statements (waves)."""
    conn.execute(f"TRUNCATE {TABLE}")
    conn.execute(f"INSERT INTO {TABLE} (k, i, a) SELECT k, k, '{{}}' FROM generate_series(0, 3) k")
    form = bulk.describe(conn, UPDATE)
    assert form is not None
    waves = bulk.waves(changes, lambda change: change["k"])
    assert waves is not None
    assert all(len({c["k"] for c in wave}) == len(wave) for wave in waves)
    with conn.transaction(force_rollback=True):
        conn.cursor().executemany(UPDATE, changes)
        one_at_a_time = stored(conn)
    with conn.transaction(force_rollback=True):
        for wave in waves:
            payload = form.payload(wave)
            assert payload is not None
            assert conn.execute(form.query, (payload,)).rowcount == len(wave)
        in_waves = stored(conn)
    assert in_waves == one_at_a_time


def plain_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "k": 1,
        "u": UUID("0b8f4c1e-7d2a-4a57-9b1e-3c5f2d7e8a90"),
        "t": "Luminaria apagada en Camino Real",
        "i": 40,
        "b": 2**40,
        "f": True,
        "d": date(2026, 11, 22),
        "ts": datetime(2026, 11, 22, 8, 0, 12, 345678, tzinfo=UTC),
        "j": jsonb({"progress": 40, "note": "Se repararon 5 lámparas"}),
        "a": ["dgsu", "obras"],
        "x": 19.3553,
    }
    return row | changes


def test_the_values_read_models_write_go_as_json(conn: psycopg.Connection[Any]) -> None:
    results = both_ways(conn, INSERT, [plain_row(), plain_row(k=2, t=None, a=None, j=None)])
    assert results is not None
    as_parameters, as_json = results
    assert as_json == as_parameters


class Status(Enum):
    OPEN = "abierto"


@pytest.mark.parametrize(
    "changes",
    [
        {"t": Status.OPEN},  # psycopg sends an enum's name, orjson its value
        {"x": float("nan")},  # orjson writes null
        {"x": float("inf")},
        {"d": datetime(2026, 11, 22, 23, 30, tzinfo=UTC)},  # a datetime for a date
        {"ts": datetime(1900, 1, 1, tzinfo=timezone(timedelta(seconds=1172)))},  # rounded
        {"i": True},  # a boolean for an integer
        {"b": 2**64},  # beyond 64 bits
        {"a": ["dgsu", 7]},  # not text in a text array
        {"a": ("dgsu", "obras")},  # psycopg sends a tuple as a record
        {"t": "\ud800"},  # a lone surrogate
        {"j": jsonb(None)},  # json_to_recordset reads JSON null as SQL NULL
        {"ts": datetime(2026, 11, 22, 8, 0)},  # naive: psycopg sends a timestamp
        {"ts": datetime(2026, 11, 22, tzinfo=timezone(timedelta(hours=16)))},  # too far
        {"i": 2**31},  # psycopg sends a wider integer, which a comparison may take
    ],
    ids=repr,
)
def test_a_value_json_would_change_keeps_the_run_as_it_was(
    conn: psycopg.Connection[Any], changes: dict[str, Any]
) -> None:
    form = bulk.describe(conn, INSERT)
    assert form is not None
    assert form.payload([plain_row()]) is not None
    assert form.payload([plain_row(), plain_row(k=2, **changes)]) is None


@pytest.mark.parametrize(
    "statement",
    [
        f"INSERT INTO {TABLE} (k, t) VALUES (%s, %s) RETURNING k",
        f"INSERT INTO {TABLE} (k, t) VALUES (%s, %s), (%s, %s)",
        f"INSERT INTO {TABLE} (k, t) SELECT %s, %s",
        f"UPDATE {TABLE} SET t = %s FROM {TABLE} AS other WHERE {TABLE}.k = %s",
        f"UPDATE {TABLE} SET t = %(t)s WHERE k = %s",
        f"UPDATE {TABLE} SET t = t || '%%' WHERE k = %(k)s",
        f"DELETE FROM {TABLE} WHERE k = %s",
        f"UPDATE {TABLE} SET t = 'fijo'",
        f"UPDATE {TABLE} SET t = '$1 ' || %(t)s WHERE k = %(k)s",  # text, not a parameter
        f"UPDATE {TABLE} SET t = $$fijo$$ || %(t)s WHERE k = %(k)s",
        f"UPDATE {TABLE} SET t = %({'t' * 64})s WHERE k = %(k)s",  # PostgreSQL cuts it
    ],
)
def test_statements_without_a_one_statement_form_go_as_they_are(
    conn: psycopg.Connection[Any], statement: str
) -> None:
    assert bulk.describe(conn, statement) is None


def test_a_condition_inside_a_change_is_not_taken_for_the_statements_own(
    conn: psycopg.Connection[Any],
) -> None:
    statement = (
        f"UPDATE {TABLE} SET t = (SELECT string_agg(x, ',') FROM unnest(ARRAY['a', %(t)s]) AS x"
        " WHERE x IS NOT NULL), i = %(i)s WHERE k = %(k)s"
    )
    conn.execute(f"INSERT INTO {TABLE} (k, t) VALUES (1, 'uno'), (2, 'dos'), (3, 'tres')")
    changes = [{"k": 1, "i": 10, "t": "b"}, {"k": 3, "i": 30, "t": None}]
    results = both_ways(conn, statement, changes)
    assert results is not None
    as_parameters, as_json = results
    assert as_json == as_parameters
    assert [row[:3] for row in as_json] == [(1, None, "a,b"), (2, None, "dos"), (3, None, "a")]
