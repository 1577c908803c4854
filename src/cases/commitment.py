"""A commitment: what will be done, by which responsible party, accountable post, and date.

Its own aggregate, so that many agencies can update the commitments of one
case at the same time without contending for one stream.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.domain import event

from cases.base import TequioAggregate
from cases.errors import BadInputError, RuleViolation
from cases.values import CommitmentStatus

S = CommitmentStatus
ACTIVE = frozenset({S.OPEN, S.IN_PROGRESS})
CANCELLABLE = frozenset({S.OPEN, S.IN_PROGRESS, S.FULFILLED})


class Commitment(TequioAggregate):
    KIND = "commitment"
    # v2: knows the day its fulfilment was reported (``fulfilled_on``).
    class_version = 2

    @classmethod
    def make(cls, **kwargs: Any) -> Commitment:
        """Checks the rules of a new commitment, then records it as made."""
        agreed_on: date = kwargs["agreed_on"]
        due_on: date = kwargs["due_on"]
        if kwargs["table_id"] is None and kwargs["assembly_id"] is None:
            # Agreed somewhere: at a table's (or cabinet's) session, or at an assembly.
            raise BadInputError("commitment_needs_forum")
        if due_on < agreed_on:
            raise RuleViolation(
                "due_before_agreed", due_on=due_on.isoformat(), agreed_on=agreed_on.isoformat()
            )
        return cls(**kwargs)

    @event("Made")
    def __init__(
        self,
        *,
        municipality: str,
        public_id: str,
        case_id: str,
        table_id: str | None,
        session_id: str | None,
        assembly_id: str | None,
        responsible_agency_id: str,
        post_id: str | None,
        accountable_official_id: str | None,
        description: str,
        agreed_on: date,
        due_on: date,
        actor: str,
    ) -> None:
        self.municipality = municipality
        self.public_id = public_id
        self.case_id = case_id
        self.table_id = table_id
        self.responsible_agency_id = responsible_agency_id
        self.post_id = post_id
        self.agreed_on = agreed_on
        self.due_on = due_on
        self.status = S.OPEN
        self.fulfilled_on: date | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # A snapshot taken before v2 does not know the day of its fulfilment: any
        # validating assembly's date goes, as for an event that does not say.
        state.setdefault("fulfilled_on", None)

    # -- commands -------------------------------------------------------------

    def report_progress(self, *, progress: int, note: str, actor: str) -> None:
        self._require(ACTIVE, "report progress")
        # A whole percentage: bool is an int subclass, and 40.5 is not whole.
        if isinstance(progress, bool) or not isinstance(progress, int) or not 0 <= progress <= 100:
            # Outside the contract's range for the argument: bad input, not a rule.
            raise BadInputError("progress_out_of_range", progress=progress)
        self._progress_reported(progress=progress, note=note, actor=actor)

    def reschedule(self, *, due_on: date, reason: str, actor: str) -> None:
        self._require(ACTIVE, "be rescheduled")
        if due_on < self.agreed_on:
            raise RuleViolation(
                "due_before_agreed",
                due_on=due_on.isoformat(),
                agreed_on=self.agreed_on.isoformat(),
            )
        if due_on == self.due_on:
            raise RuleViolation("same_due_date", due_on=due_on.isoformat())
        self._rescheduled(previous_due_on=self.due_on, due_on=due_on, reason=reason, actor=actor)

    def reassign(
        self,
        *,
        responsible_agency_id: str,
        post_id: str | None,
        accountable_official_id: str | None,
        reason: str,
        actor: str,
    ) -> None:
        self._require(ACTIVE, "be reassigned")
        if (responsible_agency_id, post_id) == (self.responsible_agency_id, self.post_id):
            raise RuleViolation("same_responsible")
        self._reassigned(
            responsible_agency_id=responsible_agency_id,
            post_id=post_id,
            accountable_official_id=accountable_official_id,
            reason=reason,
            actor=actor,
        )

    def report_fulfilment(
        self, *, evidence: str, actor: str, reported_on: date | None = None
    ) -> None:
        """``reported_on`` is the day the work was reported done (staff often record it later)."""
        self._require(ACTIVE, "be reported fulfilled")
        if reported_on is not None and reported_on < self.agreed_on:
            raise RuleViolation(
                "reported_before_agreed",
                reported_on=reported_on.isoformat(),
                agreed_on=self.agreed_on.isoformat(),
            )
        self._fulfilment_reported(evidence=evidence, reported_on=reported_on, actor=actor)

    def validate(
        self, *, assembly_id: str, held_on: date, of_the_community: bool, actor: str
    ) -> None:
        """The community's word, given in ``assembly_id``: an assembly held in the case's
        territory, or one that contains or lies within it (``of_the_community``), on or
        after the day the work was reported done."""
        self._require_fulfilled("validated")
        self._require_judged_by(assembly_id, held_on, of_the_community)
        self._validated(assembly_id=assembly_id, actor=actor)

    def dispute(
        self,
        *,
        assembly_id: str,
        reason: str,
        held_on: date,
        of_the_community: bool,
        actor: str,
    ) -> None:
        self._require_fulfilled("disputed")
        self._require_judged_by(assembly_id, held_on, of_the_community)
        self._disputed(assembly_id=assembly_id, reason=reason, actor=actor)

    def _require_judged_by(self, assembly_id: str, held_on: date, of_the_community: bool) -> None:
        if not of_the_community:
            raise RuleViolation("assembly_of_another_community", assembly_id=assembly_id)
        if self.fulfilled_on is not None and held_on < self.fulfilled_on:
            raise RuleViolation(
                "assembly_before_fulfilment",
                assembly_id=assembly_id,
                held_on=held_on.isoformat(),
                fulfilled_on=self.fulfilled_on.isoformat(),
            )

    def cancel(self, *, reason: str, actor: str) -> None:
        self._require(CANCELLABLE, "be cancelled")
        self._cancelled(reason=reason, actor=actor)

    # -- events ---------------------------------------------------------------

    @event("ProgressReported")
    def _progress_reported(self, *, progress: int, note: str, actor: str) -> None:
        self.status = S.IN_PROGRESS

    @event("Rescheduled")
    def _rescheduled(self, *, previous_due_on: date, due_on: date, reason: str, actor: str) -> None:
        self.due_on = due_on

    @event("Reassigned")
    def _reassigned(
        self,
        *,
        responsible_agency_id: str,
        post_id: str | None,
        accountable_official_id: str | None,
        reason: str,
        actor: str,
    ) -> None:
        self.responsible_agency_id = responsible_agency_id
        self.post_id = post_id

    @event("FulfilmentReported")
    def _fulfilment_reported(
        self, *, evidence: str, actor: str, reported_on: date | None = None
    ) -> None:
        self.status = S.FULFILLED
        # Events recorded before reportedOn existed do not say: any assembly's date goes.
        self.fulfilled_on = reported_on

    @event("Validated")
    def _validated(self, *, assembly_id: str, actor: str) -> None:
        self.status = S.VALIDATED

    @event("Disputed")
    def _disputed(self, *, assembly_id: str, reason: str, actor: str) -> None:
        # The community says it is not done: work goes on (scenario, Saturday).
        self.status = S.IN_PROGRESS
        self.fulfilled_on = None

    @event("Cancelled")
    def _cancelled(self, *, reason: str, actor: str) -> None:
        self.status = S.CANCELLED

    def _require(self, allowed: frozenset[CommitmentStatus], action: str) -> None:
        if self.status not in allowed:
            raise RuleViolation("commitment_not_open", status=self.status.value, action=action)

    def _require_fulfilled(self, action: str) -> None:
        if self.status is not S.FULFILLED:
            raise RuleViolation(
                "validation_needs_fulfilment", status=self.status.value, action=action
            )
