"""Reads of the forums read model (async, asyncpg)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from projections.forums.projection import ASSEMBLIES, FORUM_TABLES, SESSIONS
from projections.spanish_order import sorted_by_name

TABLE_COLUMNS = "id, name, kind, territory_id, member_agency_ids, version"
ASSEMBLY_COLUMNS = "id, kind, territory_id, held_on, attendance, facilitator"
SESSION_COLUMNS = (
    "s.id, s.table_id, t.kind AS table_kind, s.held_on, s.attending_agency_ids, s.minutes"
)
SESSION_FROM = (
    f"{SESSIONS} s JOIN {FORUM_TABLES} t ON t.municipality = s.municipality AND t.id = s.table_id"
)


class ForumQueries:
    """Tables ``{id, name, kind, territory_id, member_agency_ids, version}``, sessions
    ``{id, table_id, table_kind, held_on, attending_agency_ids, minutes}`` and assemblies
    ``{id, kind, territory_id, held_on, attendance, facilitator}``.

    A security cabinet's tables and sessions are returned with their ``kind`` /
    ``table_kind``: the caller decides who may see them.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def tables(self, municipality: str, kind: str | None = None) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {TABLE_COLUMNS} FROM {FORUM_TABLES}"
            " WHERE municipality = $1 AND ($2::text IS NULL OR kind = $2)",
            municipality,
            kind,
        )
        return sorted_by_name(dict(r) for r in rows)

    async def tables_by_ids(self, municipality: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {TABLE_COLUMNS} FROM {FORUM_TABLES}"
            " WHERE municipality = $1 AND id = any($2::text[])",
            municipality,
            list(ids),
        )
        return [dict(r) for r in rows]

    async def assemblies(
        self, municipality: str, territory_id: str | None = None
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {ASSEMBLY_COLUMNS} FROM {ASSEMBLIES}"
            " WHERE municipality = $1 AND ($2::text IS NULL OR territory_id = $2)"
            " ORDER BY held_on DESC, id",
            municipality,
            territory_id,
        )
        return [dict(r) for r in rows]

    async def assemblies_by_ids(
        self, municipality: str, ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {ASSEMBLY_COLUMNS} FROM {ASSEMBLIES}"
            " WHERE municipality = $1 AND id = any($2::text[])",
            municipality,
            list(ids),
        )
        return [dict(r) for r in rows]

    async def sessions_by_ids(self, municipality: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {SESSION_COLUMNS} FROM {SESSION_FROM}"
            " WHERE s.municipality = $1 AND s.id = any($2::text[])",
            municipality,
            list(ids),
        )
        return [dict(r) for r in rows]

    async def sessions_of_table(self, municipality: str, table_id: str) -> list[dict[str, Any]]:
        """A table's sessions, the latest first."""
        rows = await self._pool.fetch(
            f"SELECT {SESSION_COLUMNS} FROM {SESSION_FROM}"
            " WHERE s.municipality = $1 AND s.table_id = $2"
            " ORDER BY s.held_on DESC, s.position DESC",
            municipality,
            table_id,
        )
        return [dict(r) for r in rows]
