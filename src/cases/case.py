"""A case: one problem or proposal raised by residents, tracked to its end."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from cases.base import TequioAggregate
from cases.errors import RuleViolation
from cases.values import CaseStatus, Priority, Theme

S = CaseStatus
OPEN_STATUSES = frozenset({S.RAISED, S.TRIAGED, S.ROUTED, S.IN_ATTENTION})
FINISHED_STATUSES = frozenset({S.RESOLVED, S.CLOSED, S.DECLINED})


class Case(TequioAggregate):
    KIND = "case"

    @event("Raised")
    def __init__(
        self,
        *,
        municipality: str,
        public_id: str,
        territory_id: str,
        theme: Theme,
        title: str,
        description: str,
        assembly_id: str | None,
        external_id: str | None,
        reporter: dict[str, Any] | None,
        actor: str,
    ) -> None:
        # ``reporter`` lives only in the event (never in state or projections'
        # public columns): it is personal data, shown to no one by default.
        self.municipality = municipality
        self.public_id = public_id
        self.territory_id = territory_id
        self.theme = theme
        self.priority: Priority | None = None
        self.status = S.RAISED
        self.table_ids: list[str] = []
        self.merged_into: str | None = None

    # -- commands -------------------------------------------------------------

    def triage(self, *, theme: Theme, priority: Priority, actor: str) -> None:
        self._require(OPEN_STATUSES, "triaged")
        self._triaged(theme=theme, priority=priority, actor=actor)

    def route(self, *, table_ids: list[str], actor: str) -> None:
        self._require(OPEN_STATUSES, "routed")
        if self.status is S.RAISED:
            raise RuleViolation("case_not_triaged")
        new = sorted(set(table_ids) - set(self.table_ids))
        if new:
            self._routed(table_ids=new, actor=actor)

    def start_attention(self, *, commitment_id: str, actor: str) -> None:
        """The first commitment for a case puts it in attention."""
        if not self.can_take_commitments:
            raise RuleViolation("case_not_committable", status=self.status.value)
        if self.status is not S.IN_ATTENTION:
            self._attention_started(commitment_id=commitment_id, actor=actor)

    def resolve(self, *, summary: str, actor: str) -> None:
        self._require({S.TRIAGED, S.ROUTED, S.IN_ATTENTION}, "resolved")
        self._resolved(summary=summary, actor=actor)

    def close(self, *, assembly_id: str | None, actor: str) -> None:
        self._require({S.RESOLVED}, "closed")
        self._closed(assembly_id=assembly_id, actor=actor)

    def reopen(self, *, reason: str, actor: str) -> None:
        self._require(FINISHED_STATUSES, "reopened")
        self._reopened(reason=reason, actor=actor)

    def merge_into(self, *, target_id: str, actor: str) -> None:
        self._require(OPEN_STATUSES, "merged")
        self._merged(target_id=target_id, actor=actor)

    def decline(self, *, reason: str, referred_to: str | None, actor: str) -> None:
        self._require(OPEN_STATUSES, "declined")
        self._declined(reason=reason, referred_to=referred_to, actor=actor)

    @property
    def can_take_commitments(self) -> bool:
        return self.status in OPEN_STATUSES

    # -- events ---------------------------------------------------------------

    @event("Triaged")
    def _triaged(self, *, theme: Theme, priority: Priority, actor: str) -> None:
        self.theme = theme
        self.priority = priority
        if self.status is S.RAISED:
            self.status = S.TRIAGED

    @event("Routed")
    def _routed(self, *, table_ids: list[str], actor: str) -> None:
        self.table_ids = sorted(set(self.table_ids) | set(table_ids))
        if self.status is S.TRIAGED:
            self.status = S.ROUTED

    @event("AttentionStarted")
    def _attention_started(self, *, commitment_id: str, actor: str) -> None:
        self.status = S.IN_ATTENTION

    @event("Resolved")
    def _resolved(self, *, summary: str, actor: str) -> None:
        self.status = S.RESOLVED

    @event("Closed")
    def _closed(self, *, assembly_id: str | None, actor: str) -> None:
        self.status = S.CLOSED

    @event("Reopened")
    def _reopened(self, *, reason: str, actor: str) -> None:
        if self.table_ids:
            self.status = S.ROUTED
        elif self.priority is not None:
            self.status = S.TRIAGED
        else:
            self.status = S.RAISED

    @event("MergedAsDuplicate")
    def _merged(self, *, target_id: str, actor: str) -> None:
        self.status = S.MERGED
        self.merged_into = target_id

    @event("Declined")
    def _declined(self, *, reason: str, referred_to: str | None, actor: str) -> None:
        self.status = S.DECLINED

    def _require(self, allowed: frozenset[CaseStatus] | set[CaseStatus], action: str) -> None:
        if self.status not in allowed:
            raise RuleViolation("case_transition", status=self.status.value, action=action)
