"""Where problems are raised and agreed on: assemblies, working tables and cabinets."""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.domain import event

from cases.base import TequioAggregate
from cases.errors import BadInputError, RuleViolation
from cases.values import AssemblyKind, TableKind

# More people than this at one assembly is a typing slip (the borough's largest
# gatherings are in the tens of thousands), and would swamp the participation figures.
MAX_ATTENDANCE = 100_000


class Assembly(TequioAggregate):
    """A community assembly or dialogue held in a territory on a date."""

    KIND = "assembly"

    @classmethod
    def hold(cls, *, attendance: int, **kwargs: object) -> Assembly:
        if attendance < 0:
            raise BadInputError("attendance_negative", attendance=attendance)
        if attendance > MAX_ATTENDANCE:
            raise BadInputError("attendance_implausible", attendance=attendance, max=MAX_ATTENDANCE)
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
        self.held_on = held_on


class Table(TequioAggregate):
    """A working table, technical table or security cabinet, with its member agencies
    and the sessions it has held (a commitment names one of them)."""

    KIND = "table"
    # v2: knows the ids of its sessions.
    class_version = 2

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
        self.session_ids: list[str] | None = []

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # A snapshot taken before v2 does not list the sessions held until then: such a
        # table takes any session id (None), rather than refuse one it did hold.
        state.setdefault("session_ids", None)

    @property
    def is_security_cabinet(self) -> bool:
        return self.kind is TableKind.SECURITY_CABINET

    def change_members(self, *, member_agency_ids: list[str], actor: str) -> None:
        if not member_agency_ids:
            raise RuleViolation("table_needs_members")
        self._members_changed(member_agency_ids=sorted(set(member_agency_ids)), actor=actor)

    def require_session(self, session_id: str) -> None:
        """A commitment agreed "at a session" of this table names one it held."""
        if self.session_ids is not None and session_id not in self.session_ids:
            raise BadInputError(
                "session_not_of_table", session_id=session_id, table_id=self.public_id
            )

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
        if self.session_ids is not None:
            self.session_ids.append(session_id)
