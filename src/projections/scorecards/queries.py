"""Reads of the agency scorecards (async, asyncpg)."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from projections.pages import Params
from projections.rules import FULFILLED_STATUSES, CabinetScope, owed, visible
from projections.scorecards.projection import COMMITMENTS, TERRITORIES
from projections.territory_tree import within


class ScorecardQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def agency_scorecards(
        self,
        municipality: str,
        *,
        today: date,
        territory_id: str | None = None,
        cabinet_scope: CabinetScope = None,
    ) -> list[dict[str, Any]]:
        """Per responsible agency with at least one commitment in scope:
        ``{agency_id, made, fulfilled, validated, on_time, overdue, reschedules,
        median_days_to_fulfil}``, by agency id.

        ``made`` counts every commitment (cancelled ones too); ``fulfilled`` those whose
        fulfilment report stands (FULFILLED or VALIDATED), once each; ``on_time`` those
        of them reported on or before their due date; ``overdue`` those still owed and
        due before ``today``; ``median_days_to_fulfil`` (float or None) from the day
        agreed to the day reported. ``territory_id`` takes in every territory below
        it; ``cabinet_scope`` as in the commitment board.
        """
        p = Params(municipality, FULFILLED_STATUSES, today)
        where = ["c.municipality = $1", visible(p, cabinet_scope)]
        if territory_id is not None:
            where.append(f"c.territory_id IN {within(TERRITORIES, '$1', p([territory_id]))}")
        fulfilled = "c.status = any($2::text[])"
        rows = await self._pool.fetch(
            "SELECT c.agency_id,"
            " count(*)::int AS made,"
            f" (count(*) FILTER (WHERE {fulfilled}))::int AS fulfilled,"
            " (count(*) FILTER (WHERE c.status = 'VALIDATED'))::int AS validated,"
            f" (count(*) FILTER (WHERE {fulfilled} AND c.on_time))::int AS on_time,"
            f" (count(*) FILTER (WHERE {owed(p)} AND c.due_on < $3::date))::int AS overdue,"
            " coalesce(sum(c.reschedules), 0)::int AS reschedules,"
            " percentile_cont(0.5) WITHIN GROUP"
            "  (ORDER BY greatest(c.fulfilled_on - c.agreed_on, 0))"
            f"  FILTER (WHERE {fulfilled} AND c.fulfilled_on IS NOT NULL)"
            "  AS median_days_to_fulfil"
            f" FROM {COMMITMENTS} c WHERE {' AND '.join(where)}"
            " GROUP BY c.agency_id ORDER BY c.agency_id",
            *p.values,
        )
        return [
            {
                **dict(r),
                "median_days_to_fulfil": (
                    None
                    if r["median_days_to_fulfil"] is None
                    else float(r["median_days_to_fulfil"])
                ),
            }
            for r in rows
        ]
