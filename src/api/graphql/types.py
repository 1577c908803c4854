"""The contract's GraphQL types: each wraps a read-model row; nested fields use DataLoaders."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api import policy
from cases import values
from cases.clock import days_overdue, is_overdue
from projections.timelines.summaries import summarize

Theme = strawberry.enum(values.Theme, name="Theme")
Priority = strawberry.enum(values.Priority, name="Priority")
CaseStatus = strawberry.enum(values.CaseStatus, name="CaseStatus")
CommitmentStatus = strawberry.enum(values.CommitmentStatus, name="CommitmentStatus")
TableKind = strawberry.enum(values.TableKind, name="TableKind")
GovernmentLevel = strawberry.enum(values.GovernmentLevel, name="GovernmentLevel")
AssemblyKind = strawberry.enum(values.AssemblyKind, name="AssemblyKind")

Row = dict[str, Any]


def local_time(info: Info, at: datetime) -> datetime:
    return at.astimezone(info.context.runtime.settings.zone)


@strawberry.type
class Territory:
    id: strawberry.ID
    name: str
    kind: str
    parent_id: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: Row) -> Territory:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            kind=row["kind"],
            parent_id=row["parent_id"],
        )

    @strawberry.field
    async def parent(self, info: Info) -> Territory | None:
        if self.parent_id is None:
            return None
        row = await info.context.territories.load(self.parent_id)
        return Territory.from_row(row) if row else None


@strawberry.type
class Agency:
    id: strawberry.ID
    name: str
    level: GovernmentLevel  # type: ignore[valid-type]

    @classmethod
    def from_row(cls, row: Row) -> Agency:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            level=values.GovernmentLevel(row["level"]),
        )


@strawberry.type
class Official:
    id: strawberry.ID
    name: str

    @classmethod
    def from_row(cls, row: Row) -> Official:
        return cls(id=strawberry.ID(row["id"]), name=row["name"])


async def _official(info: Info, official_id: str | None) -> Official | None:
    if official_id is None:
        return None
    row = await info.context.officials.load(official_id)
    return Official.from_row(row) if row else None


@strawberry.type
class Post:
    id: strawberry.ID
    title: str
    version: int = strawberry.field(
        description="Changes with each appointment: appointToPost's expectedVersion."
    )
    agency_id: strawberry.Private[str]
    holder_id: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: Row) -> Post:
        return cls(
            id=strawberry.ID(row["id"]),
            title=row["title"],
            version=row["version"],
            agency_id=row["agency_id"],
            holder_id=row["holder_id"],
        )

    @strawberry.field
    async def agency(self, info: Info) -> Agency:
        return Agency.from_row(await info.context.agencies.load(self.agency_id))

    @strawberry.field
    async def holder(self, info: Info) -> Official | None:
        return await _official(info, self.holder_id)


@strawberry.type
class Table:
    id: strawberry.ID
    name: str
    kind: TableKind  # type: ignore[valid-type]
    version: int
    territory_id: strawberry.Private[str | None]
    member_ids: strawberry.Private[list[str]]

    @classmethod
    def from_row(cls, row: Row) -> Table:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            kind=values.TableKind(row["kind"]),
            version=row["version"],
            territory_id=row["territory_id"],
            member_ids=list(row["member_agency_ids"]),
        )

    @strawberry.field
    async def territory(self, info: Info) -> Territory | None:
        if self.territory_id is None:
            return None
        row = await info.context.territories.load(self.territory_id)
        return Territory.from_row(row) if row else None

    @strawberry.field
    async def members(self, info: Info) -> list[Agency]:
        rows = await info.context.agencies.load_many(self.member_ids)
        return [Agency.from_row(r) for r in rows if r]


async def _tables(info: Info, table_ids: list[str]) -> list[Table]:
    rows = await info.context.tables.load_many(table_ids)
    return [
        Table.from_row(r)
        for r in rows
        if r and policy.may_see_table(info.context.caller, r["kind"], r["id"])
    ]


@strawberry.type
class Session:
    id: strawberry.ID
    held_on: date
    attending_agency_ids: strawberry.Private[list[str]]
    table_id: strawberry.Private[str]
    minutes: str | None

    @classmethod
    def from_row(cls, row: Row) -> Session:
        return cls(
            id=strawberry.ID(row["id"]),
            held_on=row["held_on"],
            attending_agency_ids=list(row["attending_agency_ids"]),
            table_id=row["table_id"],
            minutes=row.get("minutes"),
        )

    @strawberry.field
    async def table(self, info: Info) -> Table:
        return Table.from_row(await info.context.tables.load(self.table_id))

    @strawberry.field
    async def attending(self, info: Info) -> list[Agency]:
        rows = await info.context.agencies.load_many(self.attending_agency_ids)
        return [Agency.from_row(r) for r in rows if r]


@strawberry.type
class TimelineEntry:
    at: datetime
    type: str
    summary: str
    actor: str | None


async def _timeline(info: Info, rows: list[Row]) -> list[TimelineEntry]:
    show_actor = policy.may_see_actors(info.context.caller)
    language = info.context.language
    shown = await _with_agency_names(
        info, await _without_hidden_attention(info, await _without_hidden_tables(info, rows))
    )
    return [
        TimelineEntry(
            at=local_time(info, r["at"]),
            type=r["type"],
            summary=summarize(r["type"], r["data"], language),
            actor=r["actor"] if show_actor else None,
        )
        for r in shown
    ]


async def _with_agency_names(info: Info, rows: list[Row]) -> list[Row]:
    """A reassignment says which agency took the commitment on by its name, as the
    directory has it now, not by its id."""
    ids = sorted(
        {
            r["data"]["responsible_agency_id"]
            for r in rows
            if r["type"] == "Reassigned" and (r["data"] or {}).get("responsible_agency_id")
        }
    )
    if not ids:
        return rows
    agencies = await info.context.agencies.load_many(ids)
    names = {agency_id: row["name"] for agency_id, row in zip(ids, agencies, strict=True) if row}
    named = []
    for r in rows:
        name = (
            names.get((r["data"] or {}).get("responsible_agency_id", ""))
            if r["type"] == "Reassigned"
            else None
        )
        named.append({**r, "data": {**r["data"], "responsible_agency_name": name}} if name else r)
    return named


async def _without_hidden_attention(info: Info, rows: list[Row]) -> list[Row]:
    """A case goes into attention when a commitment is agreed for it. When the caller
    may not see that commitment (a security cabinet's), the entry stays, as on the
    case's status, but without the commitment or who agreed it: the secretary who
    did would name the cabinet."""
    started = sorted(
        {
            r["data"]["commitment_id"]
            for r in rows
            if r["type"] == "AttentionStarted" and (r["data"] or {}).get("commitment_id")
        }
    )
    if not started:
        return rows
    found = await info.context.commitments.load_many(started)
    hidden = {commitment for commitment, row in zip(started, found, strict=True) if row is None}
    if not hidden:
        return rows
    return [
        {
            **r,
            "actor": None,
            "data": {k: v for k, v in r["data"].items() if k != "commitment_id"},
        }
        if r["type"] == "AttentionStarted" and r["data"].get("commitment_id") in hidden
        else r
        for r in rows
    ]


async def _without_hidden_tables(info: Info, rows: list[Row]) -> list[Row]:
    """A routing names its tables; the security cabinets the caller may not see are
    left out (a routing only to such cabinets is left out whole), so "routed to 2
    tables" does not reveal a cabinet the case's own ``tables`` field hides."""
    named = sorted(
        {t for r in rows if r["type"] == "Routed" for t in (r["data"] or {}).get("table_ids", [])}
    )
    if not named:
        return rows
    found = await info.context.tables.load_many(named)
    hidden = {
        t["id"]
        for t in found
        if t and not policy.may_see_table(info.context.caller, t["kind"], t["id"])
    }
    if not hidden:
        return rows
    visible = []
    for r in rows:
        if r["type"] == "Routed":
            table_ids = [t for t in r["data"].get("table_ids", []) if t not in hidden]
            if not table_ids:
                continue
            r = {**r, "data": {**r["data"], "table_ids": table_ids}}
        visible.append(r)
    return visible


@strawberry.type
class Assembly:
    id: strawberry.ID
    kind: AssemblyKind  # type: ignore[valid-type]
    held_on: date
    attendance: int
    facilitator: str | None
    territory_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Row) -> Assembly:
        return cls(
            id=strawberry.ID(row["id"]),
            kind=values.AssemblyKind(row["kind"]),
            held_on=row["held_on"],
            attendance=row["attendance"],
            facilitator=row.get("facilitator"),
            territory_id=row["territory_id"],
        )

    @strawberry.field
    async def territory(self, info: Info) -> Territory:
        return Territory.from_row(await info.context.territories.load(self.territory_id))

    @strawberry.field
    async def cases(self, info: Info) -> list[Case]:
        ids = await info.context.assembly_cases.load(str(self.id))
        rows = await info.context.cases.load_many(ids)
        return [Case.from_row(r) for r in rows if r]


@strawberry.type
class Case:
    id: strawberry.ID
    version: int
    title: str
    description: str
    theme: Theme  # type: ignore[valid-type]
    priority: Priority | None  # type: ignore[valid-type]
    status: CaseStatus  # type: ignore[valid-type]
    external_id: str | None
    row: strawberry.Private[Row]

    @classmethod
    def from_row(cls, row: Row) -> Case:
        return cls(
            id=strawberry.ID(row["id"]),
            version=row["version"],
            title=row["title"],
            description=row["description"],
            theme=values.Theme(row["theme"]),
            priority=values.Priority(row["priority"]) if row["priority"] else None,
            status=values.CaseStatus(row["status"]),
            external_id=row.get("external_id"),
            row=row,
        )

    @strawberry.field(description="Where the problem is, when it was given.")
    def location(self) -> Location | None:
        row = self.row
        if row.get("lat") is None and not row.get("address"):
            return None
        return Location(lat=row.get("lat"), long=row.get("long"), address=row.get("address"))

    @strawberry.field
    def raised_at(self, info: Info) -> datetime:
        return local_time(info, self.row["raised_at"])

    @strawberry.field
    async def territory(self, info: Info) -> Territory:
        return Territory.from_row(await info.context.territories.load(self.row["territory_id"]))

    @strawberry.field
    async def assembly(self, info: Info) -> Assembly | None:
        if not self.row.get("assembly_id"):
            return None
        row = await info.context.assemblies.load(self.row["assembly_id"])
        return Assembly.from_row(row) if row else None

    @strawberry.field
    async def tables(self, info: Info) -> list[Table]:
        return await _tables(info, list(self.row["table_ids"]))

    @strawberry.field
    async def commitments(self, info: Info) -> list[Commitment]:
        rows = await info.context.case_commitments.load(str(self.id))
        return [Commitment.from_row(r) for r in rows]

    @strawberry.field
    async def timeline(self, info: Info) -> list[TimelineEntry]:
        return await _timeline(info, await info.context.case_timelines.load(str(self.id)))

    @strawberry.field(
        description="The case this one was merged into as a duplicate (null unless MERGED)."
    )
    async def merged_into(self, info: Info) -> Case | None:
        target = self.row.get("merged_into")
        if not target:
            return None
        row = await info.context.cases.load(target)
        return Case.from_row(row) if row else None

    @strawberry.field(
        description="Personal data: coordinators only, and every read is recorded. "
        "Null when no contact was given or it was erased."
    )
    async def reporter(self, info: Info) -> Reporter | None:
        case_id = str(self.id)
        contact = await info.context.read_personal_data(
            lambda app, ctx: app.reveal_reporter(ctx, case_id=case_id)
        )
        if contact is None:
            return None
        return Reporter(
            name=contact.get("name"), phone=contact.get("phone"), email=contact.get("email")
        )


@strawberry.type(description="A public place: WGS 84 degrees, an address, or both.")
class Location:
    lat: float | None
    long: float | None
    address: str | None


@strawberry.type(description="How to reach the resident who reported a case.")
class Reporter:
    name: str | None
    phone: str | None
    email: str | None


@strawberry.type(description="One disclosure of a reporter's contact: who read it, and when.")
class ReporterRead:
    actor: str
    at: datetime


@strawberry.type
class Commitment:
    id: strawberry.ID
    version: int
    description: str
    due_on: date
    agreed_on: date
    status: CommitmentStatus  # type: ignore[valid-type]
    progress: int
    reschedules: int
    disputes: int
    last_dispute_reason: str | None
    evidence: str | None
    row: strawberry.Private[Row]

    @classmethod
    def from_row(cls, row: Row) -> Commitment:
        return cls(
            id=strawberry.ID(row["id"]),
            version=row["version"],
            description=row["description"],
            due_on=row["due_on"],
            agreed_on=row["agreed_on"],
            status=values.CommitmentStatus(row["status"]),
            progress=row["progress"],
            reschedules=row["reschedules"],
            disputes=row.get("disputes", 0),
            last_dispute_reason=row.get("last_dispute_reason"),
            evidence=row.get("evidence"),
            row=row,
        )

    @strawberry.field
    def overdue(self, info: Info) -> bool:
        return is_overdue(self.status, self.due_on, info.context.today)

    @strawberry.field
    def days_overdue(self, info: Info) -> int:
        return days_overdue(self.status, self.due_on, info.context.today)

    @strawberry.field
    def made_at(self, info: Info) -> datetime:
        return local_time(info, self.row["made_at"])

    @strawberry.field
    async def case(self, info: Info) -> Case:
        return Case.from_row(await info.context.cases.load(self.row["case_id"]))

    @strawberry.field
    async def responsible(self, info: Info) -> Agency:
        return Agency.from_row(await info.context.agencies.load(self.row["responsible_agency_id"]))

    @strawberry.field
    async def post(self, info: Info) -> Post | None:
        if not self.row.get("post_id"):
            return None
        row = await info.context.posts.load(self.row["post_id"])
        return Post.from_row(row) if row else None

    @strawberry.field(description="Who holds the accountable post now.")
    async def accountable(self, info: Info) -> Official | None:
        if not self.row.get("post_id"):
            return None
        post = await info.context.posts.load(self.row["post_id"])
        return await _official(info, post["holder_id"] if post else None)

    @strawberry.field(description="Who held the accountable post when the commitment was made.")
    async def accountable_when_made(self, info: Info) -> Official | None:
        return await _official(info, self.row.get("accountable_when_made_id"))

    @strawberry.field
    async def table(self, info: Info) -> Table | None:
        if not self.row.get("table_id"):
            return None
        tables = await _tables(info, [self.row["table_id"]])
        return tables[0] if tables else None

    @strawberry.field
    async def assembly(self, info: Info) -> Assembly | None:
        if not self.row.get("assembly_id"):
            return None
        row = await info.context.assemblies.load(self.row["assembly_id"])
        return Assembly.from_row(row) if row else None

    @strawberry.field
    async def timeline(self, info: Info) -> list[TimelineEntry]:
        return await _timeline(info, await info.context.commitment_timelines.load(str(self.id)))


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class CaseEdge:
    cursor: str
    node: Case


TOTAL_COUNT = (
    "How many match the filter now. It is counted apart from the page, so while others"
    " write it can differ from what paging finds by what changed meanwhile."
)


@strawberry.type
class CaseConnection:
    edges: list[CaseEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description=TOTAL_COUNT)


@strawberry.type
class CommitmentEdge:
    cursor: str
    node: Commitment


@strawberry.type
class CommitmentConnection:
    edges: list[CommitmentEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description=TOTAL_COUNT)


@strawberry.type
class AgencyScorecard:
    made: int
    fulfilled: int
    validated: int
    on_time: int
    overdue: int
    reschedules: int
    median_days_to_fulfil: float | None
    agency_id: strawberry.Private[str]

    @strawberry.field
    async def agency(self, info: Info) -> Agency:
        return Agency.from_row(await info.context.agencies.load(self.agency_id))


@strawberry.type
class HotSpot:
    cases: int
    territory_id: strawberry.Private[str]

    @strawberry.field
    async def territory(self, info: Info) -> Territory:
        return Territory.from_row(await info.context.territories.load(self.territory_id))


@strawberry.type
class CabinetBriefing:
    cabinet: Table
    since: datetime
    new_cases: list[Case]
    due_soon: list[Commitment]
    overdue: list[Commitment]
    hot_spots: list[HotSpot]
    new_cases_count: int = strawberry.field(
        description="How many new cases there are, whether or not `first` left some out."
    )
    due_soon_count: int = strawberry.field(
        description="How many commitments are due soon, whether or not `first` left some out."
    )
    overdue_count: int = strawberry.field(
        description="How many commitments are overdue, whether or not `first` left some out."
    )


@strawberry.type
class TableAgenda:
    table: Table
    open_cases: list[Case]
    due_commitments: list[Commitment]
    overdue_commitments: list[Commitment]
