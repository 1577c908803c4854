"""Where problems are raised and agreed on: assemblies, working tables and cabinets."""

from __future__ import annotations

from datetime import date

from eventsourcing.domain import event

from cases.base import TequioAggregate
from cases.errors import BadInputError, RuleViolation
from cases.values import AssemblyKind, TableKind


class Assembly(TequioAggregate):
    """A community assembly or dialogue held in a territory on a date."""

    KIND = "assembly"

    @classmethod
    def hold(cls, *, attendance: int, **kwargs: object) -> Assembly:
        if attendance < 0:
            raise BadInputError("attendance_negative", attendance=attendance)
        return cls(attendance=attendance, **kwargs)  # type: ignore[arg-type]

    @event("Held")
    def __init__(
        self,
        *,
        municipality: str,
        public_id: str,
        territory_id: str,
        kind: AssemblyKind,
        held_on: date,
        attendance: int,
        facilitator: str | None,
        actor: str,
    ) -> None:
        self.municipality = municipality
        self.public_id = public_id
        self.territory_id = territory_id


class Table(TequioAggregate):
    """A working table, technical table or security cabinet, with its member agencies."""

    KIND = "table"

    @classmethod
    def create(cls, *, member_agency_ids: list[str], **kwargs: object) -> Table:
        if not member_agency_ids:
            raise RuleViolation("table_needs_members")
        return cls(member_agency_ids=sorted(set(member_agency_ids)), **kwargs)  # type: ignore[arg-type]

    @event("Created")
    def __init__(
        self,
        *,
        municipality: str,
        public_id: str,
        name: str,
        kind: TableKind,
        territory_id: str | None,
        member_agency_ids: list[str],
        actor: str,
    ) -> None:
        self.municipality = municipality
        self.public_id = public_id
        self.kind = kind
        self.member_agency_ids = member_agency_ids

    @property
    def is_security_cabinet(self) -> bool:
        return self.kind is TableKind.SECURITY_CABINET

    def change_members(self, *, member_agency_ids: list[str], actor: str) -> None:
        if not member_agency_ids:
            raise RuleViolation("table_needs_members")
        self._members_changed(member_agency_ids=sorted(set(member_agency_ids)), actor=actor)

    def hold_session(
        self,
        *,
        session_id: str,
        held_on: date,
        attending_agency_ids: list[str],
        minutes: str | None,
        actor: str,
    ) -> None:
        self._session_held(
            session_id=session_id,
            held_on=held_on,
            attending_agency_ids=sorted(set(attending_agency_ids)),
            minutes=minutes,
            actor=actor,
        )

    @event("MembersChanged")
    def _members_changed(self, *, member_agency_ids: list[str], actor: str) -> None:
        self.member_agency_ids = member_agency_ids

    @event("SessionHeld")
    def _session_held(
        self,
        *,
        session_id: str,
        held_on: date,
        attending_agency_ids: list[str],
        minutes: str | None,
        actor: str,
    ) -> None:
        pass
