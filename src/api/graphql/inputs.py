"""The contract's input types."""

from __future__ import annotations

from datetime import date

import strawberry

from api.graphql.types import (
    AssemblyKind,
    CaseStatus,
    CommitmentStatus,
    TableKind,
    Theme,
)


@strawberry.input
class CaseFilter:
    territory_id: strawberry.ID | None = None
    theme: Theme | None = None  # type: ignore[valid-type]
    status: CaseStatus | None = None  # type: ignore[valid-type]
    table_id: strawberry.ID | None = None
    search: str | None = strawberry.field(
        default=None,
        description="Spanish full-text search of titles and descriptions: whole words,"
        " matched by their stem (luminaria, luminarias) with accents ignored, in web-search"
        ' syntax ("a phrase", -word, or). Words too common to index (de, la, el, a) and'
        " parts of words (lumin) match nothing.",
    )


@strawberry.input
class CommitmentFilter:
    status: CommitmentStatus | None = None  # type: ignore[valid-type]
    agency_id: strawberry.ID | None = None
    overdue: bool | None = None
    territory_id: strawberry.ID | None = None
    table_id: strawberry.ID | None = None
    case_id: strawberry.ID | None = None
    due_before: date | None = None
    disputed: bool | None = strawberry.field(
        default=None,
        description="true: commitments the community has disputed at least once; false:"
        " never disputed. (A dispute returns a commitment to IN_PROGRESS: the DISPUTED"
        " status is reserved, and no commitment has it.)",
    )


@strawberry.input
class ReporterInput:
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@strawberry.input(description="Where the problem is: WGS 84 degrees, an address, or both.")
class LocationInput:
    lat: float | None = None
    long: float | None = None
    address: str | None = None


@strawberry.input
class RaiseCaseInput:
    territory_id: strawberry.ID
    theme: Theme  # type: ignore[valid-type]
    title: str
    description: str
    assembly_id: strawberry.ID | None = None
    external_id: str | None = None
    reporter: ReporterInput | None = None
    location: LocationInput | None = None


@strawberry.input
class MakeCommitmentInput:
    case_id: strawberry.ID
    responsible_agency_id: strawberry.ID
    description: str
    due_on: date
    table_id: strawberry.ID | None = None
    assembly_id: strawberry.ID | None = None
    session_id: strawberry.ID | None = None
    post_id: strawberry.ID | None = None
    agreed_on: date | None = None


@strawberry.input
class CreateTableInput:
    name: str
    kind: TableKind  # type: ignore[valid-type]
    member_agency_ids: list[strawberry.ID]
    territory_id: strawberry.ID | None = None
    id: strawberry.ID | None = None


@strawberry.input
class HoldAssemblyInput:
    territory_id: strawberry.ID
    kind: AssemblyKind  # type: ignore[valid-type]
    held_on: date
    attendance: int
    facilitator: str | None = None


@strawberry.input
class HoldSessionInput:
    table_id: strawberry.ID
    held_on: date
    attending_agency_ids: list[strawberry.ID]
    minutes: str | None = None
