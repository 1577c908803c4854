"""Live boards: ``commitmentChanged`` pushes each visible commitment when it changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.inputs import CommitmentFilter
from api.graphql.types import Commitment
from cases import values
from cases.clock import is_overdue
from projections.positions import positions, wait_for

POLL_SECONDS = 0.25


def matches(row: dict[str, Any], f: CommitmentFilter | None, today: Any) -> bool:
    if f is None:
        return True
    status = values.CommitmentStatus(row["status"])
    checks = [
        f.status is None or f.status == status,
        f.agency_id is None or str(f.agency_id) == row["responsible_agency_id"],
        f.case_id is None or str(f.case_id) == row["case_id"],
        f.table_id is None or str(f.table_id) == row.get("table_id"),
        f.due_before is None or row["due_on"] < f.due_before,
        f.disputed is None or f.disputed == (row.get("disputes", 0) > 0),
        f.overdue is None or f.overdue == is_overdue(status, row["due_on"], today),
    ]
    return all(checks)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Each commitment the caller may see, whenever it changes after subscribing."
    )
    async def commitment_changed(
        self,
        info: Info,
        filter: CommitmentFilter | None = None,
    ) -> AsyncGenerator[Commitment, None]:
        ctx = info.context
        q = ctx.runtime.queries
        pool = ctx.runtime.pool
        seen = (await positions(pool, ["timelines"])).get("timelines", 0)
        territory = str(filter.territory_id) if filter and filter.territory_id else None
        while True:
            changes = await q.timelines.changed_after(ctx.municipality, "commitment", seen)
            if not changes:
                await asyncio.sleep(POLL_SECONDS)
                continue
            seen = changes[-1][0]
            await wait_for(pool, seen, timeout=2.0, names=["commitments"])
            ctx.refresh()
            ids = list(dict.fromkeys(subject for _, subject in changes))
            rows = await q.commitments.commitments_by_ids(
                ctx.municipality, ids, cabinet_scope=ctx.cabinet_scope
            )
            by_id = {row["id"]: row for row in rows}
            for commitment_id in ids:
                row = by_id.get(commitment_id)
                if row is None or not matches(row, filter, ctx.today):
                    continue
                if territory and not await _within(info, row, territory):
                    continue
                yield Commitment.from_row(row)


async def _within(info: Info, row: dict[str, Any], territory_id: str) -> bool:
    current = row.get("territory_id")
    while current is not None:
        if current == territory_id:
            return True
        node = await info.context.territories.load(current)
        current = node["parent_id"] if node else None
    return False
