"""Queries: every resolver asks a read model's query methods, never SQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from api import policy
from api.errors import ApiError
from api.graphql.inputs import CaseFilter, CommitmentFilter
from api.graphql.types import (
    Agency,
    AgencyScorecard,
    Assembly,
    CabinetBriefing,
    Case,
    CaseConnection,
    CaseEdge,
    Commitment,
    CommitmentConnection,
    CommitmentEdge,
    HotSpot,
    PageInfo,
    Post,
    ReporterRead,
    Table,
    TableAgenda,
    TableKind,
    Territory,
    local_time,
)

MAX_PAGE = 500
# The moments a `since` may name: any real briefing's, far from the calendar's ends.
EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(9000, 1, 1)
DEFAULT_PAGE = 50
DUE_SOON_DAYS = 3
AGENDA_DAYS = 7


def _page_size(first: int | None) -> int:
    """``first`` as the contract has it (``Int = 50``): null is the default page."""
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise ApiError("BAD_USER_INPUT", "page_size_out_of_range", max=MAX_PAGE, first=first)
    return first


def _id(value: Any) -> str | None:
    """An id or search text from the caller; NUL cannot reach PostgreSQL text."""
    if value is None:
        return None
    text = str(value)
    if "\x00" in text:
        raise ApiError("BAD_USER_INPUT", "bad_input", detail="NUL characters are not allowed.")
    return text


def _enum(value: Any) -> str | None:
    return None if value is None else str(value.value)


async def _visible_table(info: Info, table_id: str) -> dict[str, Any] | None:
    row = await info.context.tables.load(table_id)
    if row is None or not policy.may_see_table(info.context.caller, row["kind"], row["id"]):
        return None
    return row


async def _hidden_table(info: Info, table_id: str) -> bool:
    """A table that exists and that the caller may not see (another's cabinet)."""
    row = await info.context.tables.load(table_id)
    return row is not None and not policy.may_see_table(info.context.caller, row["kind"], row["id"])


_SPANISH_ORDER = (
    "in Spanish alphabetical order of name (accents and case do not decide before"
    " the letters; ñ after n)."
)


@strawberry.type
class Query:
    @strawberry.field(description=f"Every territory, {_SPANISH_ORDER}")
    async def territories(self, info: Info) -> list[Territory]:
        rows = await info.context.runtime.queries.directory.territories(info.context.municipality)
        return [Territory.from_row(r) for r in rows]

    @strawberry.field(description=f"Every agency, {_SPANISH_ORDER}")
    async def agencies(self, info: Info) -> list[Agency]:
        rows = await info.context.runtime.queries.directory.agencies(info.context.municipality)
        return [Agency.from_row(r) for r in rows]

    @strawberry.field(
        description="Every post, or one agency's (the postId makeCommitment takes), in"
        " Spanish alphabetical order of title."
    )
    async def posts(self, info: Info, agency_id: strawberry.ID | None = None) -> list[Post]:
        rows = await info.context.runtime.queries.directory.posts(
            info.context.municipality, _id(agency_id)
        )
        return [Post.from_row(r) for r in rows]

    @strawberry.field
    async def post(self, info: Info, id: strawberry.ID) -> Post | None:
        row = await info.context.posts.load(_id(id) or "")
        return Post.from_row(row) if row else None

    @strawberry.field
    async def case(self, info: Info, id: strawberry.ID) -> Case | None:
        row = await info.context.cases.load(_id(id) or "")
        return Case.from_row(row) if row else None

    @strawberry.field(
        description="Who read the reporter's contact of a case, and when (admin, coordinator)."
    )
    async def reporter_reads(self, info: Info, case_id: strawberry.ID) -> list[ReporterRead]:
        case = _id(case_id) or ""
        reads = await info.context.read_personal_data(
            lambda app, ctx: app.reporter_reads(ctx, case_id=case), audit=True
        )
        return [ReporterRead(actor=r["actor"], at=local_time(info, r["at"])) for r in reads]

    @strawberry.field
    async def cases(
        self,
        info: Info,
        filter: CaseFilter | None = None,
        first: int | None = DEFAULT_PAGE,
        after: str | None = None,
    ) -> CaseConnection:
        f = filter or CaseFilter()
        table_id = _id(f.table_id)
        if table_id is not None and await _hidden_table(info, table_id):
            # A cabinet the caller may not see: its cases are not listed by it, as
            # for a table that does not exist (no hint that it does).
            return CaseConnection(
                edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None), total_count=0
            )
        try:
            page = await info.context.runtime.queries.cases.list_cases(
                info.context.municipality,
                territory_id=_id(f.territory_id),
                theme=_enum(f.theme),
                status=_enum(f.status),
                table_id=table_id,
                search=_id(f.search),
                first=_page_size(first),
                after=after,
            )
        except ValueError:
            raise ApiError("BAD_USER_INPUT", "bad_cursor", cursor=after) from None
        edges = [CaseEdge(cursor=r["cursor"], node=Case.from_row(r)) for r in page.rows]
        return CaseConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            total_count=page.total_count,
        )

    @strawberry.field
    async def commitment(self, info: Info, id: strawberry.ID) -> Commitment | None:
        row = await info.context.commitments.load(_id(id) or "")
        return Commitment.from_row(row) if row else None

    @strawberry.field(
        description="The board, soonest due first (dueOn, then id), a page after a cursor."
        " A commitment rescheduled while you page moves in that order, so it can be"
        " missed or seen twice: to copy every change, follow the event feed."
    )
    async def commitments(
        self,
        info: Info,
        filter: CommitmentFilter | None = None,
        first: int | None = DEFAULT_PAGE,
        after: str | None = None,
    ) -> CommitmentConnection:
        f = filter or CommitmentFilter()
        if _enum(f.status) == "DISPUTED":
            # The contract's enum has it, but a dispute returns a commitment to work: an
            # empty list would tell a client there is nothing disputed.
            raise ApiError("BAD_USER_INPUT", "status_disputed_is_reserved")
        try:
            page = await info.context.runtime.queries.commitments.list_commitments(
                info.context.municipality,
                today=info.context.today,
                status=_enum(f.status),
                agency_id=_id(f.agency_id),
                overdue=f.overdue,
                territory_id=_id(f.territory_id),
                table_id=_id(f.table_id),
                case_id=_id(f.case_id),
                due_before=f.due_before,
                disputed=f.disputed,
                cabinet_scope=info.context.cabinet_scope,
                first=_page_size(first),
                after=after,
            )
        except ValueError:
            raise ApiError("BAD_USER_INPUT", "bad_cursor", cursor=after) from None
        edges = [CommitmentEdge(cursor=r["cursor"], node=Commitment.from_row(r)) for r in page.rows]
        return CommitmentConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            total_count=page.total_count,
        )

    @strawberry.field
    async def table(self, info: Info, id: strawberry.ID) -> Table | None:
        row = await _visible_table(info, _id(id) or "")
        return Table.from_row(row) if row else None

    @strawberry.field(description=f"The tables the caller may see, {_SPANISH_ORDER}")
    async def tables(self, info: Info, kind: TableKind | None = None) -> list[Table]:  # type: ignore[valid-type]
        rows = await info.context.runtime.queries.forums.tables(
            info.context.municipality, _enum(kind)
        )
        return [
            Table.from_row(r)
            for r in rows
            if policy.may_see_table(info.context.caller, r["kind"], r["id"])
        ]

    @strawberry.field
    async def assembly(self, info: Info, id: strawberry.ID) -> Assembly | None:
        row = await info.context.assemblies.load(_id(id) or "")
        return Assembly.from_row(row) if row else None

    @strawberry.field
    async def agency_scorecards(
        self, info: Info, territory_id: strawberry.ID | None = None
    ) -> list[AgencyScorecard]:
        rows = await info.context.runtime.queries.scorecards.agency_scorecards(
            info.context.municipality,
            today=info.context.today,
            territory_id=_id(territory_id),
            cabinet_scope=info.context.cabinet_scope,
        )
        return [
            AgencyScorecard(
                agency_id=r["agency_id"],
                made=r["made"],
                fulfilled=r["fulfilled"],
                validated=r["validated"],
                on_time=r["on_time"],
                overdue=r["overdue"],
                reschedules=r["reschedules"],
                median_days_to_fulfil=r["median_days_to_fulfil"],
            )
            for r in rows
        ]

    @strawberry.field
    async def table_agenda(self, info: Info, table_id: strawberry.ID) -> TableAgenda | None:
        """Open cases and commitments due (or overdue) for a table's next session."""
        ctx = info.context
        row = await _visible_table(info, str(table_id))
        if row is None:
            return None
        agenda = await ctx.runtime.queries.commitments.due_and_overdue(
            ctx.municipality,
            today=ctx.today,
            within_days=AGENDA_DAYS,
            table_ids=[row["id"]],
            territory_ids=None,
            cabinet_scope=ctx.cabinet_scope,
        )
        open_cases = await ctx.runtime.queries.cases.open_cases_of_table(
            ctx.municipality, row["id"]
        )
        return TableAgenda(
            table=Table.from_row(row),
            open_cases=[Case.from_row(r) for r in open_cases],
            due_commitments=[Commitment.from_row(r) for r in agenda["due_soon"]],
            overdue_commitments=[Commitment.from_row(r) for r in agenda["overdue"]],
        )

    @strawberry.field
    async def cabinet_briefing(
        self,
        info: Info,
        cabinet_id: strawberry.ID,
        since: datetime,
        first: Annotated[
            int | None,
            strawberry.argument(
                description="At most this many new cases, commitments due soon and "
                "overdue commitments (1 to 500; each list's size is in its count). "
                "Unset: every one (a briefing of a whole borough can be large)."
            ),
        ] = None,
    ) -> CabinetBriefing:
        ctx = info.context
        policy.require_briefing(ctx.caller, str(cabinet_id))
        if first is not None and not 1 <= first <= MAX_PAGE:
            raise ApiError(
                "BAD_USER_INPUT", "briefing_size_out_of_range", max=MAX_PAGE, first=first
            )
        row = await ctx.tables.load(str(cabinet_id))
        if row is None:
            raise ApiError("NOT_FOUND", "no_such_table", table_id=str(cabinet_id))
        if row["kind"] != "SECURITY_CABINET":
            raise ApiError("BAD_USER_INPUT", "not_a_cabinet", table_id=str(cabinet_id))
        if not EARLIEST <= since.replace(tzinfo=None) <= LATEST:
            # Clear of the ends of the calendar, where a shift to UTC overflows.
            raise ApiError("BAD_USER_INPUT", "since_out_of_range", since=since.isoformat())
        if since.tzinfo is None:
            since = since.replace(tzinfo=ctx.runtime.settings.zone)
        zone = [row["territory_id"]] if row["territory_id"] else None
        q = ctx.runtime.queries
        # A zonal cabinet's zone and what was brought to it wherever it is; a cabinet
        # without a zone (the general one) briefs on the whole borough.
        brought = row["id"] if zone else None
        new_cases, new_cases_count = await q.cases.new_cases_counted(
            ctx.municipality,
            since=since,
            territory_ids=zone,
            routed_to=brought,
            themes=["SAFETY"],
            first=first,
        )
        due = await q.commitments.due_and_overdue_counted(
            ctx.municipality,
            today=ctx.today,
            within_days=DUE_SOON_DAYS,
            table_ids=[row["id"]],
            territory_ids=zone,
            cabinet_scope=ctx.cabinet_scope,
            first=first,
        )
        spots = await q.cases.hot_spots(
            ctx.municipality,
            since=since,
            under_territory_id=row["territory_id"],
            routed_to=brought,
            theme="SAFETY",
        )
        return CabinetBriefing(
            cabinet=Table.from_row(row),
            since=since.astimezone(ctx.runtime.settings.zone),
            new_cases=[Case.from_row(r) for r in new_cases],
            due_soon=[Commitment.from_row(r) for r in due.due_soon],
            overdue=[Commitment.from_row(r) for r in due.overdue],
            new_cases_count=new_cases_count,
            due_soon_count=due.due_soon_count,
            overdue_count=due.overdue_count,
            hot_spots=[HotSpot(territory_id=s["territory_id"], cases=s["cases"]) for s in spots],
        )


__all__ = ["Query", "timedelta"]
