"""Reads of the cases read model (async, asyncpg)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from projections.cases.projection import CASES, TERRITORIES, search_query
from projections.pages import Page, Params, check_first, decode_cursor, encode_cursor
from projections.territory_tree import within

CASE_COLUMNS = (
    "c.id, c.version, c.title, c.description, c.theme, c.priority, c.status, c.territory_id,"
    " c.assembly_id, c.external_id, c.raised_at, c.updated_at, c.table_ids, c.merged_into,"
    " c.referred_to, c.lat, c.long, c.address"
)
OPEN_STATUSES = ("RAISED", "TRIAGED", "ROUTED", "IN_ATTENTION")
CURSOR_KIND = "case"


class CaseQueries:
    """Case rows: ``{id, version, title, description, theme, priority, status,
    territory_id, assembly_id, external_id, raised_at, updated_at, table_ids,
    merged_into, referred_to, lat, long, address}`` (no reporter, ever)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def cases_by_ids(self, municipality: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        # PostgreSQL text cannot hold NUL: an id with one names no case (and would be
        # refused by the server as an encoding error).
        rows = await self._pool.fetch(
            f"SELECT {CASE_COLUMNS} FROM {CASES} c"
            " WHERE c.municipality = $1 AND c.id = any($2::text[])",
            municipality,
            [i for i in ids if "\x00" not in i],
        )
        return [dict(r) for r in rows]

    async def list_cases(
        self,
        municipality: str,
        *,
        territory_id: str | None = None,
        theme: str | None = None,
        status: str | None = None,
        table_id: str | None = None,
        search: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Page:
        """Cases, newest first (``raised_at`` desc, then ``id``), ``first`` after ``after``.

        ``territory_id`` takes in every territory below it; ``search`` is Spanish
        full-text (web-search syntax, accents ignored). A bad cursor is a ValueError.
        """
        check_first(first)
        p = Params(municipality)
        where = ["c.municipality = $1"]
        if territory_id is not None:
            where.append(f"c.territory_id IN {within(TERRITORIES, '$1', p([territory_id]))}")
        if theme is not None:
            where.append(f"c.theme = {p(theme)}")
        if status is not None:
            where.append(f"c.status = {p(status)}")
        if table_id is not None:
            where.append(f"c.table_ids @> ARRAY[{p(table_id)}::text]")
        if search is not None and search.strip():
            where.append(f"c.search @@ {search_query(p(search.strip()) + '::text')}")
        count_sql = f"SELECT count(*) FROM {CASES} c WHERE {' AND '.join(where)}"
        count_args = list(p.values)
        if after is not None:
            raised_text, after_id = decode_cursor(CURSOR_KIND, after, 2)
            raised_at = datetime.fromisoformat(raised_text)
            t, i = p(raised_at), p(after_id)
            where.append(f"(c.raised_at < {t} OR (c.raised_at = {t} AND c.id > {i}))")
        limit = p(first + 1)
        page_sql = (
            f"SELECT {CASE_COLUMNS} FROM {CASES} c WHERE {' AND '.join(where)}"
            f" ORDER BY c.raised_at DESC, c.id LIMIT {limit}"
        )
        async with self._pool.acquire() as conn:
            total = await conn.fetchval(count_sql, *count_args)
            records = await conn.fetch(page_sql, *p.values)
        rows = [dict(r) for r in records[:first]]
        for row in rows:
            row["cursor"] = encode_cursor(CURSOR_KIND, row["raised_at"].isoformat(), row["id"])
        return Page(
            rows=rows,
            total_count=int(total or 0),
            has_next_page=len(records) > first,
            end_cursor=rows[-1]["cursor"] if rows else None,
        )

    async def open_cases_of_table(self, municipality: str, table_id: str) -> list[dict[str, Any]]:
        """Open cases routed to a table (its agenda), oldest first."""
        rows = await self._pool.fetch(
            f"SELECT {CASE_COLUMNS} FROM {CASES} c"
            " WHERE c.municipality = $1 AND c.table_ids @> ARRAY[$2::text]"
            " AND c.status = any($3::text[]) ORDER BY c.raised_at, c.id",
            municipality,
            table_id,
            list(OPEN_STATUSES),
        )
        return [dict(r) for r in rows]

    async def case_ids_by_assembly(
        self, municipality: str, assembly_ids: Sequence[str]
    ) -> dict[str, list[str]]:
        rows = await self._pool.fetch(
            f"SELECT c.assembly_id, array_agg(c.id ORDER BY c.raised_at, c.id) AS ids"
            f" FROM {CASES} c WHERE c.municipality = $1 AND c.assembly_id = any($2::text[])"
            " GROUP BY c.assembly_id",
            municipality,
            list(assembly_ids),
        )
        return {r["assembly_id"]: list(r["ids"]) for r in rows}

    async def new_cases(
        self,
        municipality: str,
        *,
        since: datetime,
        territory_ids: Sequence[str] | None = None,
        themes: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Cases raised at or after ``since`` (merged duplicates left out), newest first;
        ``territory_ids`` take in every territory below them."""
        cases, _ = await self.new_cases_counted(
            municipality, since=since, territory_ids=territory_ids, themes=themes
        )
        return cases

    async def new_cases_counted(
        self,
        municipality: str,
        *,
        since: datetime,
        territory_ids: Sequence[str] | None = None,
        routed_to: str | None = None,
        themes: Sequence[str] | None = None,
        first: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """:meth:`new_cases`, at most ``first`` of them (1 or more) if given, and how many
        there are in all. With both ``territory_ids`` and ``routed_to`` (a table), a case
        in those territories or routed to that table."""
        if first is not None and first < 1:
            raise ValueError(f"first must be 1 or more, not {first}")
        p = Params(municipality, since)
        where = ["c.municipality = $1", "c.raised_at >= $2", "c.status <> 'MERGED'"]
        scope = _scope(p, territory_ids, routed_to)
        if scope:
            where.append(scope)
        if themes is not None:
            where.append(f"c.theme = any({p(list(themes))}::text[])")
        limit = "" if first is None else f" LIMIT {p(first)}"
        rows = await self._pool.fetch(
            f"SELECT {CASE_COLUMNS}, count(*) OVER () AS of FROM {CASES} c"
            f" WHERE {' AND '.join(where)} ORDER BY c.raised_at DESC, c.id{limit}",
            *p.values,
        )
        cases = [dict(r) for r in rows]
        total = int(cases[0]["of"]) if cases else 0  # no row: none at all (first >= 1)
        for case in cases:
            del case["of"]
        return cases, total

    async def hot_spots(
        self,
        municipality: str,
        *,
        since: datetime,
        under_territory_id: str | None = None,
        routed_to: str | None = None,
        theme: str | None = None,
    ) -> list[dict[str, Any]]:
        """``[{territory_id, cases}]``: cases raised since then per neighbourhood (the
        case's own territory), most first; merged duplicates are not counted. With
        ``routed_to`` (a table), also the cases routed to it, wherever they are."""
        p = Params(municipality, since)
        where = ["c.municipality = $1", "c.raised_at >= $2", "c.status <> 'MERGED'"]
        under = [under_territory_id] if under_territory_id is not None else None
        scope = _scope(p, under, routed_to)
        if scope:
            where.append(scope)
        if theme is not None:
            where.append(f"c.theme = {p(theme)}")
        rows = await self._pool.fetch(
            f"SELECT c.territory_id, count(*)::int AS cases FROM {CASES} c"
            f" WHERE {' AND '.join(where)} GROUP BY c.territory_id"
            " ORDER BY cases DESC, c.territory_id",
            *p.values,
        )
        return [dict(r) for r in rows]

    async def cases_raised_between(
        self,
        municipality: str,
        *,
        since: datetime,
        until: datetime,
        themes: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Cases raised from ``since`` to ``until`` (both included), newest first, at most
        ``limit`` of them (the Open311 window: a span of days and a cap)."""
        p = Params(municipality, since, until)
        where = ["c.municipality = $1", "c.raised_at >= $2", "c.raised_at <= $3"]
        if themes is not None:
            where.append(f"c.theme = any({p(list(themes))}::text[])")
        if statuses is not None:
            where.append(f"c.status = any({p(list(statuses))}::text[])")
        rows = await self._pool.fetch(
            f"SELECT {CASE_COLUMNS} FROM {CASES} c WHERE {' AND '.join(where)}"
            f" ORDER BY c.raised_at DESC, c.id LIMIT {p(limit)}",
            *p.values,
        )
        return [dict(r) for r in rows]


def _scope(p: Params, territory_ids: Sequence[str] | None, routed_to: str | None) -> str:
    """Cases in (or under) these territories, or routed to this table: either, or both."""
    scope = []
    if territory_ids is not None:
        scope.append(f"c.territory_id IN {within(TERRITORIES, '$1', p(list(territory_ids)))}")
    if routed_to is not None:
        scope.append(f"c.table_ids @> ARRAY[{p(routed_to)}::text]")
    return f"({' OR '.join(scope)})" if scope else ""
