"""Mutations: authorise, translate, delegate to the application service, read the write back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import strawberry
from strawberry.types import Info

from api.errors import ApiError
from api.graphql.idempotency import field_position
from api.graphql.inputs import (
    CreateTableInput,
    HoldAssemblyInput,
    HoldSessionInput,
    MakeCommitmentInput,
    RaiseCaseInput,
)
from api.graphql.types import (
    Agency,
    Assembly,
    Case,
    Commitment,
    GovernmentLevel,
    Post,
    Priority,
    Session,
    Table,
    Territory,
    Theme,
)
from cases.application import CommandContext, CommandResult, TequioApplication

ID = strawberry.ID
Command = Callable[[TequioApplication, CommandContext], CommandResult]


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _path(info: Info) -> str:
    return str(info.path.key)


async def _case(info: Info, mutation: str, command: Command) -> Case:
    result = await info.context.execute(mutation, _path(info), field_position(info), command)
    return Case.from_row(await info.context.require_row(info.context.cases, result))


async def _commitment(info: Info, mutation: str, command: Command) -> Commitment:
    # Who may change a cabinet's commitment is the command's to decide (CommandContext's
    # cabinet_scope): asked here, it would cost a read before every write.
    result = await info.context.execute(mutation, _path(info), field_position(info), command)
    return Commitment.from_row(await info.context.require_row(info.context.commitments, result))


@strawberry.type
class Mutation:
    # -- cases ----------------------------------------------------------------------

    @strawberry.mutation
    async def raise_case(self, info: Info, input: RaiseCaseInput) -> Case:
        reporter = None
        if input.reporter is not None:
            reporter = {
                "name": input.reporter.name,
                "phone": input.reporter.phone,
                "email": input.reporter.email,
            }

        location = None
        if input.location is not None:
            location = {
                "lat": input.location.lat,
                "long": input.location.long,
                "address": input.location.address,
            }

        def command(app: TequioApplication, ctx: CommandContext) -> CommandResult:
            return app.raise_case(
                ctx,
                territory_id=str(input.territory_id),
                theme=input.theme,
                title=input.title,
                description=input.description,
                assembly_id=_opt(input.assembly_id),
                external_id=input.external_id,
                reporter=reporter,
                location=location,
            )

        return await _case(info, "raiseCase", command)

    @strawberry.mutation
    async def triage_case(
        self,
        info: Info,
        case_id: ID,
        expected_version: int,
        theme: Theme,  # type: ignore[valid-type]
        priority: Priority,  # type: ignore[valid-type]
    ) -> Case:
        return await _case(
            info,
            "triageCase",
            lambda app, ctx: app.triage_case(
                ctx,
                case_id=str(case_id),
                expected_version=expected_version,
                theme=theme,
                priority=priority,
            ),
        )

    @strawberry.mutation
    async def route_case(
        self, info: Info, case_id: ID, expected_version: int, table_ids: list[ID]
    ) -> Case:
        return await _case(
            info,
            "routeCase",
            lambda app, ctx: app.route_case(
                ctx,
                case_id=str(case_id),
                expected_version=expected_version,
                table_ids=[str(t) for t in table_ids],
            ),
        )

    @strawberry.mutation
    async def resolve_case(
        self, info: Info, case_id: ID, expected_version: int, summary: str
    ) -> Case:
        return await _case(
            info,
            "resolveCase",
            lambda app, ctx: app.resolve_case(
                ctx, case_id=str(case_id), expected_version=expected_version, summary=summary
            ),
        )

    @strawberry.mutation
    async def close_case(
        self, info: Info, case_id: ID, expected_version: int, assembly_id: ID | None = None
    ) -> Case:
        return await _case(
            info,
            "closeCase",
            lambda app, ctx: app.close_case(
                ctx,
                case_id=str(case_id),
                expected_version=expected_version,
                assembly_id=_opt(assembly_id),
            ),
        )

    @strawberry.mutation
    async def reopen_case(
        self, info: Info, case_id: ID, expected_version: int, reason: str
    ) -> Case:
        return await _case(
            info,
            "reopenCase",
            lambda app, ctx: app.reopen_case(
                ctx, case_id=str(case_id), expected_version=expected_version, reason=reason
            ),
        )

    @strawberry.mutation
    async def merge_case(
        self, info: Info, case_id: ID, expected_version: int, into_case_id: ID
    ) -> Case:
        return await _case(
            info,
            "mergeCase",
            lambda app, ctx: app.merge_case(
                ctx,
                case_id=str(case_id),
                expected_version=expected_version,
                into_case_id=str(into_case_id),
            ),
        )

    @strawberry.mutation
    async def decline_case(
        self,
        info: Info,
        case_id: ID,
        expected_version: int,
        reason: str,
        referred_to: str | None = None,
    ) -> Case:
        return await _case(
            info,
            "declineCase",
            lambda app, ctx: app.decline_case(
                ctx,
                case_id=str(case_id),
                expected_version=expected_version,
                reason=reason,
                referred_to=referred_to,
            ),
        )

    @strawberry.mutation(
        description="Erases the reporter's contact (crypto-shredding): it becomes unreadable "
        "everywhere, the rest of the history stays, and the erasure is recorded."
    )
    async def erase_reporter(self, info: Info, case_id: ID, reason: str) -> Case:
        return await _case(
            info,
            "eraseReporter",
            lambda app, ctx: app.erase_reporter(ctx, case_id=str(case_id), reason=reason),
        )

    # -- commitments ------------------------------------------------------------------

    @strawberry.mutation
    async def make_commitment(self, info: Info, input: MakeCommitmentInput) -> Commitment:
        return await _commitment(
            info,
            "makeCommitment",
            lambda app, ctx: app.make_commitment(
                ctx,
                case_id=str(input.case_id),
                responsible_agency_id=str(input.responsible_agency_id),
                description=input.description,
                due_on=input.due_on,
                table_id=_opt(input.table_id),
                session_id=_opt(input.session_id),
                assembly_id=_opt(input.assembly_id),
                post_id=_opt(input.post_id),
                agreed_on=input.agreed_on,
            ),
        )

    @strawberry.mutation
    async def report_progress(
        self, info: Info, commitment_id: ID, expected_version: int, progress: int, note: str
    ) -> Commitment:
        return await _commitment(
            info,
            "reportProgress",
            lambda app, ctx: app.report_progress(
                ctx,
                commitment_id=str(commitment_id),
                expected_version=expected_version,
                progress=progress,
                note=note,
            ),
        )

    @strawberry.mutation
    async def reschedule_commitment(
        self, info: Info, commitment_id: ID, expected_version: int, due_on: date, reason: str
    ) -> Commitment:
        return await _commitment(
            info,
            "rescheduleCommitment",
            lambda app, ctx: app.reschedule_commitment(
                ctx,
                commitment_id=str(commitment_id),
                expected_version=expected_version,
                due_on=due_on,
                reason=reason,
            ),
        )

    @strawberry.mutation
    async def reassign_commitment(
        self,
        info: Info,
        commitment_id: ID,
        expected_version: int,
        responsible_agency_id: ID,
        reason: str,
        post_id: ID | None = None,
    ) -> Commitment:
        return await _commitment(
            info,
            "reassignCommitment",
            lambda app, ctx: app.reassign_commitment(
                ctx,
                commitment_id=str(commitment_id),
                expected_version=expected_version,
                responsible_agency_id=str(responsible_agency_id),
                reason=reason,
                post_id=_opt(post_id),
            ),
        )

    @strawberry.mutation
    async def report_fulfilment(
        self,
        info: Info,
        commitment_id: ID,
        expected_version: int,
        evidence: str,
        reported_on: date | None = None,
    ) -> Commitment:
        return await _commitment(
            info,
            "reportFulfilment",
            lambda app, ctx: app.report_fulfilment(
                ctx,
                commitment_id=str(commitment_id),
                expected_version=expected_version,
                evidence=evidence,
                reported_on=reported_on,
            ),
        )

    @strawberry.mutation
    async def validate_fulfilment(
        self, info: Info, commitment_id: ID, expected_version: int, assembly_id: ID
    ) -> Commitment:
        return await _commitment(
            info,
            "validateFulfilment",
            lambda app, ctx: app.validate_fulfilment(
                ctx,
                commitment_id=str(commitment_id),
                expected_version=expected_version,
                assembly_id=str(assembly_id),
            ),
        )

    @strawberry.mutation
    async def dispute_fulfilment(
        self, info: Info, commitment_id: ID, expected_version: int, assembly_id: ID, reason: str
    ) -> Commitment:
        return await _commitment(
            info,
            "disputeFulfilment",
            lambda app, ctx: app.dispute_fulfilment(
                ctx,
                commitment_id=str(commitment_id),
                expected_version=expected_version,
                assembly_id=str(assembly_id),
                reason=reason,
            ),
        )

    @strawberry.mutation
    async def cancel_commitment(
        self, info: Info, commitment_id: ID, expected_version: int, reason: str
    ) -> Commitment:
        return await _commitment(
            info,
            "cancelCommitment",
            lambda app, ctx: app.cancel_commitment(
                ctx,
                commitment_id=str(commitment_id),
                expected_version=expected_version,
                reason=reason,
            ),
        )

    # -- directory and forums ---------------------------------------------------------

    @strawberry.mutation
    async def add_territory(
        self,
        info: Info,
        name: str,
        kind: str,
        id: ID | None = None,
        parent_id: ID | None = None,
    ) -> Territory:
        result = await info.context.execute(
            "addTerritory",
            _path(info),
            field_position(info),
            lambda app, ctx: app.add_territory(
                ctx, name=name, kind=kind, territory_id=_opt(id), parent_id=_opt(parent_id)
            ),
        )
        return Territory.from_row(await info.context.require_row(info.context.territories, result))

    @strawberry.mutation
    async def add_agency(
        self,
        info: Info,
        name: str,
        level: GovernmentLevel,  # type: ignore[valid-type]
        id: ID | None = None,
    ) -> Agency:
        result = await info.context.execute(
            "addAgency",
            _path(info),
            field_position(info),
            lambda app, ctx: app.add_agency(ctx, name=name, level=level, agency_id=_opt(id)),
        )
        return Agency.from_row(await info.context.require_row(info.context.agencies, result))

    @strawberry.mutation
    async def add_post(
        self,
        info: Info,
        title: str,
        agency_id: ID,
        id: ID | None = None,
    ) -> Post:
        result = await info.context.execute(
            "addPost",
            _path(info),
            field_position(info),
            lambda app, ctx: app.add_post(
                ctx, title=title, agency_id=str(agency_id), post_id=_opt(id)
            ),
        )
        return Post.from_row(await info.context.require_row(info.context.posts, result))

    @strawberry.mutation
    async def appoint_to_post(
        self,
        info: Info,
        post_id: ID,
        official_name: str,
        expected_version: int | None = None,
    ) -> Post:
        result = await info.context.execute(
            "appointToPost",
            _path(info),
            field_position(info),
            lambda app, ctx: app.appoint_to_post(
                ctx,
                post_id=str(post_id),
                official_name=official_name,
                expected_version=expected_version,
            ),
        )
        return Post.from_row(await info.context.require_row(info.context.posts, result))

    @strawberry.mutation
    async def create_table(self, info: Info, input: CreateTableInput) -> Table:
        result = await info.context.execute(
            "createTable",
            _path(info),
            field_position(info),
            lambda app, ctx: app.create_table(
                ctx,
                name=input.name,
                kind=input.kind,
                member_agency_ids=[str(a) for a in input.member_agency_ids],
                territory_id=_opt(input.territory_id),
                table_id=_opt(input.id),
            ),
        )
        return Table.from_row(await info.context.require_row(info.context.tables, result))

    @strawberry.mutation
    async def hold_assembly(self, info: Info, input: HoldAssemblyInput) -> Assembly:
        result = await info.context.execute(
            "holdAssembly",
            _path(info),
            field_position(info),
            lambda app, ctx: app.hold_assembly(
                ctx,
                territory_id=str(input.territory_id),
                kind=input.kind,
                held_on=input.held_on,
                attendance=input.attendance,
                facilitator=input.facilitator,
            ),
        )
        return Assembly.from_row(await info.context.require_row(info.context.assemblies, result))

    @strawberry.mutation
    async def hold_session(self, info: Info, input: HoldSessionInput) -> Session:
        result = await info.context.execute(
            "holdSession",
            _path(info),
            field_position(info),
            lambda app, ctx: app.hold_session(
                ctx,
                table_id=str(input.table_id),
                held_on=input.held_on,
                attending_agency_ids=[str(a) for a in input.attending_agency_ids],
                minutes=input.minutes,
            ),
        )
        rows = await info.context.runtime.queries.forums.sessions_by_ids(
            info.context.municipality, [result.id]
        )
        if not rows:
            raise ApiError("PENDING", "not_yet_visible", id=result.id)
        return Session.from_row(rows[0])
