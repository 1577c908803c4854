"""Reads of the directory read model (async, asyncpg)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from projections.directory.projection import AGENCIES, OFFICIALS, POST_TERMS, POSTS, TERRITORIES
from projections.spanish_order import sorted_by_name

TERRITORY_COLUMNS = "id, name, kind, parent_id"
AGENCY_COLUMNS = "id, name, level"
POST_COLUMNS = "id, title, agency_id, holder_id, version"


class DirectoryQueries:
    """Territories ``{id, name, kind, parent_id}``, agencies ``{id, name, level}``,
    posts ``{id, title, agency_id, holder_id}``, officials ``{id, name}``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def territories(self, municipality: str) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {TERRITORY_COLUMNS} FROM {TERRITORIES} WHERE municipality = $1",
            municipality,
        )
        return sorted_by_name(dict(r) for r in rows)

    async def territories_by_ids(
        self, municipality: str, ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {TERRITORY_COLUMNS} FROM {TERRITORIES}"
            " WHERE municipality = $1 AND id = any($2::text[])",
            municipality,
            list(ids),
        )
        return [dict(r) for r in rows]

    async def agencies(self, municipality: str) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {AGENCY_COLUMNS} FROM {AGENCIES} WHERE municipality = $1",
            municipality,
        )
        return sorted_by_name(dict(r) for r in rows)

    async def agencies_by_ids(self, municipality: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {AGENCY_COLUMNS} FROM {AGENCIES}"
            " WHERE municipality = $1 AND id = any($2::text[])",
            municipality,
            list(ids),
        )
        return [dict(r) for r in rows]

    async def posts(self, municipality: str, agency_id: str | None = None) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {POST_COLUMNS} FROM {POSTS}"
            " WHERE municipality = $1 AND ($2::text IS NULL OR agency_id = $2)",
            municipality,
            agency_id,
        )
        return sorted_by_name((dict(r) for r in rows), "title")

    async def posts_by_ids(self, municipality: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {POST_COLUMNS} FROM {POSTS} WHERE municipality = $1 AND id = any($2::text[])",
            municipality,
            list(ids),
        )
        return [dict(r) for r in rows]

    async def officials_by_ids(self, municipality: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT id, name FROM {OFFICIALS} WHERE municipality = $1 AND id = any($2::text[])",
            municipality,
            list(ids),
        )
        return [dict(r) for r in rows]

    async def holder_at(
        self, municipality: str, post_id: str, at: datetime
    ) -> dict[str, Any] | None:
        """The official ``{id, name}`` who held the post at that instant, or None."""
        row = await self._pool.fetchrow(
            f"SELECT o.id, o.name FROM {POST_TERMS} t"
            f" JOIN {OFFICIALS} o ON o.municipality = t.municipality AND o.id = t.official_id"
            " WHERE t.municipality = $1 AND t.post_id = $2 AND t.started_at <= $3"
            " AND (t.ended_at IS NULL OR t.ended_at > $3)"
            " ORDER BY t.started_at DESC, t.position DESC LIMIT 1",
            municipality,
            post_id,
            at,
        )
        return dict(row) if row else None

    async def post_terms(self, municipality: str, post_id: str) -> list[dict[str, Any]]:
        """The holders of a post over time: ``{official_id, name, started_at, ended_at}``."""
        rows = await self._pool.fetch(
            f"SELECT t.official_id, o.name, t.started_at, t.ended_at FROM {POST_TERMS} t"
            f" JOIN {OFFICIALS} o ON o.municipality = t.municipality AND o.id = t.official_id"
            " WHERE t.municipality = $1 AND t.post_id = $2 ORDER BY t.started_at, t.position",
            municipality,
            post_id,
        )
        return [dict(r) for r in rows]
