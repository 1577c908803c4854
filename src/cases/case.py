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
    # v2: knows whether it holds a reporter's contact and whether it was erased.
    class_version = 2

    class Raised(TequioAggregate.Created):
        """v2: the reporter's contact arrives sealed (see ``cases.reporter_vault``).
        v3: an optional public location (lat, long, address), as Open311 requests carry."""

        class_version = 3
        municipality: str
        public_id: str
        territory_id: str
        theme: Theme
        title: str
        description: str
        assembly_id: str | None
        external_id: str | None
        reporter_sealed: dict[str, Any] | None
        location: dict[str, Any] | None
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # v1 carried the contact in clear as ``reporter``: keep it readable (and
            # erasable through the aggregate's flag) as a "plain" envelope.
            reporter = state.pop("reporter", None)
            state["reporter_sealed"] = {"plain": reporter} if reporter else None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["location"] = None

    @event(Raised)
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
        reporter_sealed: dict[str, Any] | None,
        location: dict[str, Any] | None,
        actor: str,
    ) -> None:
        # The sealed contact lives only in the event: it is personal data, and no
        # decision needs it. The state keeps only whether it exists and was erased.
        self.municipality = municipality
        self.public_id = public_id
        self.territory_id = territory_id
        self.theme = theme
        self.priority: Priority | None = None
        self.status = S.RAISED
        self.table_ids: list[str] = []
        self.merged_into: str | None = None
        self.has_reporter = reporter_sealed is not None
        self.reporter_erased = False

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # Snapshots taken before v2 do not say whether a contact was kept: assume one
        # was, so that an erasure request is never refused for lack of knowledge.
        state.setdefault("has_reporter", True)
        state.setdefault("reporter_erased", False)

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

    def start_attention(
        self, *, commitment_id: str, actor: str, table_id: str | None = None
    ) -> None:
        """The first commitment for a case puts it in attention. One agreed at a table
        is for a case routed there: else the table's board would list a commitment
        whose case is on neither its agenda nor its list of cases."""
        if not self.can_take_commitments:
            raise RuleViolation("case_not_committable", status=self.status.value)
        if table_id is not None and table_id not in self.table_ids:
            raise RuleViolation("case_not_routed_to_table", table_id=table_id)
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

    def erase_reporter(self, *, reason: str, actor: str) -> None:
        """Records that the reporter's contact was erased; erasing twice changes nothing."""
        if not self.has_reporter:
            raise RuleViolation("no_reporter")
        if not self.reporter_erased:
            self._reporter_erased(reason=reason, actor=actor)

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

    @event("ReporterErased")
    def _reporter_erased(self, *, reason: str, actor: str) -> None:
        self.reporter_erased = True

    def _require(self, allowed: frozenset[CaseStatus] | set[CaseStatus], action: str) -> None:
        if self.status not in allowed:
            raise RuleViolation("case_transition", status=self.status.value, action=action)
