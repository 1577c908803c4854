"""Reads of the commitment board (async, asyncpg).

Confidentiality: a commitment agreed at a ``SECURITY_CABINET`` table is visible
only to that cabinet's members. Every method that returns commitments takes
``cabinet_scope``: ``None`` means everything is visible (secretaries,
coordinators, admins); a set of table ids means cabinet commitments are
returned only when their ``table_id`` is in the set (the empty set hides them
all). The rule is applied in SQL.

Derived time facts are never stored: given ``today`` (the municipality's local
date), rows carry ``overdue`` and ``days_overdue``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg

from projections.commitments.projection import COMMITMENTS, TERRITORIES
from projections.pages import Page, Params, check_first, decode_cursor, encode_cursor
from projections.rules import OWED_STATUSES, CabinetScope, owed, visible
from projections.territory_tree import within

COMMITMENT_COLUMNS = (
    "c.id, c.version, c.case_id, c.description, c.responsible_agency_id, c.post_id,"
    " c.accountable_when_made_id, c.status, c.progress, c.due_on, c.agreed_on, c.made_at,"
    " c.updated_at, c.reschedules, c.disputes, c.last_dispute_reason, c.fulfilled_at,"
    " c.fulfilled_on, c.evidence, c.validated_at, c.cancelled_reason, c.table_id, c.table_kind,"
    " c.territory_id, c.assembly_id, c.session_id"
)
CURSOR_KIND = "commitment"


@dataclass
class DueLists:
    """Commitments still owed, due soon and overdue (soonest due first), and how many
    of each there are in all (the lists may hold only the first few)."""

    due_soon: list[dict[str, Any]] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)
    due_soon_count: int = 0
    overdue_count: int = 0


def derive(row: dict[str, Any], today: date) -> dict[str, Any]:
    """Adds ``overdue`` and ``days_overdue`` as of ``today`` (never stored)."""
    is_overdue = row["status"] in OWED_STATUSES and today > row["due_on"]
    row["overdue"] = is_overdue
    row["days_overdue"] = (today - row["due_on"]).days if is_overdue else 0
    return row


class CommitmentQueries:
    """Commitment rows: ``{id, version, case_id, description, responsible_agency_id,
    post_id, accountable_when_made_id, status, progress, due_on, agreed_on, made_at,
    updated_at, reschedules, disputes, last_dispute_reason, fulfilled_at, fulfilled_on, evidence,
    validated_at, cancelled_reason, table_id, table_kind, territory_id, assembly_id,
    session_id}``, plus ``overdue`` and ``days_overdue`` whenever ``today`` is known."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def commitments_by_ids(
        self,
        municipality: str,
        ids: Sequence[str],
        *,
        cabinet_scope: CabinetScope = None,
        today: date | None = None,
    ) -> list[dict[str, Any]]:
        p = Params(municipality, list(ids))
        rows = await self._pool.fetch(
            f"SELECT {COMMITMENT_COLUMNS} FROM {COMMITMENTS} c"
            " WHERE c.municipality = $1 AND c.id = any($2::text[])"
            f" AND {visible(p, cabinet_scope)}",
            *p.values,
        )
        return self._rows(rows, today)

    async def commitments_by_case_ids(
        self,
        municipality: str,
        case_ids: Sequence[str],
        *,
        cabinet_scope: CabinetScope = None,
        today: date | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Each case's commitments, in the order they were made."""
        p = Params(municipality, list(case_ids))
        rows = await self._pool.fetch(
            f"SELECT {COMMITMENT_COLUMNS} FROM {COMMITMENTS} c"
            " WHERE c.municipality = $1 AND c.case_id = any($2::text[])"
            f" AND {visible(p, cabinet_scope)} ORDER BY c.made_at, c.id",
            *p.values,
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self._rows(rows, today):
            found.setdefault(row["case_id"], []).append(row)
        return found

    async def list_commitments(
        self,
        municipality: str,
        *,
        today: date,
        status: str | None = None,
        agency_id: str | None = None,
        overdue: bool | None = None,
        territory_id: str | None = None,
        table_id: str | None = None,
        case_id: str | None = None,
        due_before: date | None = None,
        disputed: bool | None = None,
        cabinet_scope: CabinetScope = None,
        first: int = 50,
        after: str | None = None,
    ) -> Page:
        """The board, soonest due first (``due_on``, then ``id``).

        ``territory_id`` takes in every territory below it; ``due_before`` is strict
        (due on an earlier day); ``overdue`` is judged against ``today``; ``disputed``
        is whether the community disputed it at least once. A bad cursor is a
        ValueError.
        """
        check_first(first)
        p = Params(municipality)
        where = ["c.municipality = $1", visible(p, cabinet_scope)]
        if status is not None:
            where.append(f"c.status = {p(status)}")
        if agency_id is not None:
            where.append(f"c.responsible_agency_id = {p(agency_id)}")
        if overdue is not None:
            is_overdue = f"({owed(p)} AND c.due_on < {p(today)}::date)"
            where.append(is_overdue if overdue else f"NOT {is_overdue}")
        if territory_id is not None:
            where.append(f"c.territory_id IN {within(TERRITORIES, '$1', p([territory_id]))}")
        if table_id is not None:
            where.append(f"c.table_id = {p(table_id)}")
        if case_id is not None:
            where.append(f"c.case_id = {p(case_id)}")
        if due_before is not None:
            where.append(f"c.due_on < {p(due_before)}::date")
        if disputed is not None:
            where.append("c.disputes > 0" if disputed else "c.disputes = 0")
        count_sql = f"SELECT count(*) FROM {COMMITMENTS} c WHERE {' AND '.join(where)}"
        count_args = list(p.values)
        if after is not None:
            due_text, after_id = decode_cursor(CURSOR_KIND, after, 2)
            where.append(
                f"(c.due_on, c.id) > ({p(date.fromisoformat(due_text))}::date, {p(after_id)})"
            )
        limit = p(first + 1)
        page_sql = (
            f"SELECT {COMMITMENT_COLUMNS} FROM {COMMITMENTS} c WHERE {' AND '.join(where)}"
            f" ORDER BY c.due_on, c.id LIMIT {limit}"
        )
        async with self._pool.acquire() as conn:
            total = await conn.fetchval(count_sql, *count_args)
            records = await conn.fetch(page_sql, *p.values)
        rows = self._rows(records[:first], today)
        for row in rows:
            row["cursor"] = encode_cursor(CURSOR_KIND, row["due_on"].isoformat(), row["id"])
        return Page(
            rows=rows,
            total_count=int(total or 0),
            has_next_page=len(records) > first,
            end_cursor=rows[-1]["cursor"] if rows else None,
        )

    async def due_and_overdue(
        self,
        municipality: str,
        *,
        today: date,
        within_days: int,
        table_ids: Sequence[str] | None = None,
        territory_ids: Sequence[str] | None = None,
        cabinet_scope: CabinetScope = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """``{"due_soon": [...], "overdue": [...]}`` among commitments still owed.

        Due soon: due between ``today`` and ``today + within_days`` (inclusive).
        Overdue: due before ``today``. Both soonest due first. ``table_ids`` keeps
        commitments agreed at those tables, ``territory_ids`` those in (or below)
        those territories; given both, a commitment matching either is kept;
        given neither, all are.
        """
        found = await self.due_and_overdue_counted(
            municipality,
            today=today,
            within_days=within_days,
            table_ids=table_ids,
            territory_ids=territory_ids,
            cabinet_scope=cabinet_scope,
        )
        return {"due_soon": found.due_soon, "overdue": found.overdue}

    async def due_and_overdue_counted(
        self,
        municipality: str,
        *,
        today: date,
        within_days: int,
        table_ids: Sequence[str] | None = None,
        territory_ids: Sequence[str] | None = None,
        cabinet_scope: CabinetScope = None,
        first: int | None = None,
    ) -> DueLists:
        """:meth:`due_and_overdue`, at most ``first`` (1 or more) of each list if given,
        with each list's full size."""
        if first is not None and first < 1:
            raise ValueError(f"first must be 1 or more, not {first}")
        p = Params(municipality, today + timedelta(days=max(within_days, 0)))
        where = ["c.municipality = $1", owed(p), "c.due_on <= $2::date", visible(p, cabinet_scope)]
        scope = []
        if table_ids is not None:
            scope.append(f"c.table_id = any({p(list(table_ids))}::text[])")
        if territory_ids is not None:
            scope.append(f"c.territory_id IN {within(TERRITORIES, '$1', p(list(territory_ids)))}")
        if scope:
            where.append(f"({' OR '.join(scope)})")
        # Each list's first rows and its size, in one pass (overdue: owed, due before
        # today, as ``derive`` says; every row here is owed).
        late = f"c.due_on < {p(today)}::date"
        limit = "" if first is None else f" WHERE nth <= {p(first)}"
        rows = await self._pool.fetch(
            f"SELECT * FROM (SELECT {COMMITMENT_COLUMNS},"
            f" row_number() OVER (PARTITION BY {late} ORDER BY c.due_on, c.id) AS nth,"
            f" count(*) OVER (PARTITION BY {late}) AS of"
            f" FROM {COMMITMENTS} c WHERE {' AND '.join(where)}) x{limit}"
            " ORDER BY due_on, id",
            *p.values,
        )
        found = DueLists()
        for row in self._rows(rows, today):
            size = int(row.pop("of"))
            del row["nth"]
            if row["overdue"]:
                found.overdue.append(row)
                found.overdue_count = size
            else:
                found.due_soon.append(row)
                found.due_soon_count = size
        return found

    async def agenda(
        self, municipality: str, table_id: str, today: date, within_days: int
    ) -> dict[str, list[dict[str, Any]]]:
        """A table's next-session agenda: its commitments due soon and overdue (see
        :meth:`due_and_overdue`). The caller checks the table is visible to its reader."""
        return await self.due_and_overdue(
            municipality, today=today, within_days=within_days, table_ids=[table_id]
        )

    @staticmethod
    def _rows(records: Sequence[asyncpg.Record], today: date | None) -> list[dict[str, Any]]:
        rows = [dict(r) for r in records]
        if today is not None:
            for row in rows:
                derive(row, today)
        return rows
