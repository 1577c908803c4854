"""A read model's own copy of the territory tree, so a territory filter takes in its descendants.

Each read model that filters by territory keeps its own small tree (from the
Territory events it sees like every other event), so it never reads another
projection's tables and can be rebuilt alone.
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow

from cases.directory import Territory
from projections.base import event_class, index

TERRITORY_ADDED = event_class(Territory, "Added")
TERRITORY_UPDATED = event_class(Territory, "Updated")


def territory_ddl(table: str) -> tuple[str, ...]:
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ("
        " municipality text NOT NULL,"
        " id text NOT NULL,"
        " uuid uuid NOT NULL UNIQUE,"
        " parent_id text,"
        " PRIMARY KEY (municipality, id))",
        index(table, "parent", "municipality, parent_id"),
    )


def add_territory(curs: Cursor[DictRow], table: str, e: Any) -> None:
    curs.execute(
        f"INSERT INTO {table} (municipality, id, uuid, parent_id) VALUES (%s, %s, %s, %s)",
        (e.municipality, e.public_id, e.originator_id, e.parent_id),
    )


def move_territory(curs: Cursor[DictRow], table: str, e: Any) -> None:
    curs.execute(
        f"UPDATE {table} SET parent_id = %s WHERE uuid = %s",
        (e.parent_id, e.originator_id),
    )


def within(table: str, municipality: str, roots: str) -> str:
    """SQL for a subquery: the ids of the ``roots`` (a text[] parameter) and all below them.

    ``municipality`` and ``roots`` are placeholders (``$1``, ``$3``...). ``UNION``
    (not ``UNION ALL``) keeps a mistaken cycle from looping forever.
    """
    return (
        "(WITH RECURSIVE scope(id) AS ("
        f" SELECT unnest({roots}::text[])"
        " UNION"
        f" SELECT t.id FROM {table} t JOIN scope s ON t.parent_id = s.id"
        f" WHERE t.municipality = {municipality}"
        ") SELECT id FROM scope)"
    )
