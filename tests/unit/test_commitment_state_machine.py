"""Random command sequences against the Commitment aggregate, checked against a small model.

The model is written out here on purpose (not imported from the aggregate), so
that changing a rule in ``commitment.py`` without meaning to makes this fail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from domain_builders import AGREED_ON, DUE_ON, new_commitment
from eventsourcing.application import project_aggregate
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cases.errors import BadInputError, RuleViolation
from cases.values import CommitmentStatus as S

# An assembly of the case's community, held after any fulfilment these tests report.
JUDGED = {"held_on": date(2099, 1, 1), "of_the_community": True}

# status -> command -> status after it; a command missing from a row is refused.
TRANSITIONS: dict[S, dict[str, S]] = {
    S.OPEN: {
        "progress": S.IN_PROGRESS,
        "reschedule": S.OPEN,
        "reassign": S.OPEN,
        "fulfil": S.FULFILLED,
        "cancel": S.CANCELLED,
    },
    S.IN_PROGRESS: {
        "progress": S.IN_PROGRESS,
        "reschedule": S.IN_PROGRESS,
        "reassign": S.IN_PROGRESS,
        "fulfil": S.FULFILLED,
        "cancel": S.CANCELLED,
    },
    S.FULFILLED: {
        "validate": S.VALIDATED,
        "dispute": S.IN_PROGRESS,
        "cancel": S.CANCELLED,
    },
    S.VALIDATED: {},
    S.CANCELLED: {},
}

AGENCIES = ["servicios-urbanos", "obras", "colectivo-smt"]
POSTS: list[str | None] = [None, "jefatura-alumbrado", "direccion-general"]


class CommitmentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.commitment = new_commitment()
        self.history: list[Any] = list(self.commitment.collect_events())
        self.status = S.OPEN
        self.due_on = DUE_ON
        self.responsible: tuple[str, str | None] = ("servicios-urbanos", "jefatura-alumbrado")

    def attempt(self, command: str, call: Callable[[], None], *, valid_args: bool = True) -> bool:
        """Runs one command; checks it recorded one event, or nothing if refused."""
        version = self.commitment.version
        expected = TRANSITIONS[self.status].get(command) if valid_args else None
        if expected is None:
            try:
                call()
            except (RuleViolation, BadInputError):
                pass
            else:
                raise AssertionError(f"{command} accepted in {self.status.value}")
            assert self.commitment.collect_events() == []
            assert self.commitment.version == version
            return False
        call()
        new_events = self.commitment.collect_events()
        assert len(new_events) == 1
        assert new_events[0].originator_version == version + 1
        self.history.extend(new_events)
        self.status = expected
        return True

    @rule(progress=st.integers(min_value=-5, max_value=105))
    def report_progress(self, progress: int) -> None:
        self.attempt(
            "progress",
            lambda: self.commitment.report_progress(progress=progress, note="n", actor="a"),
            valid_args=0 <= progress <= 100,
        )

    @rule(offset=st.integers(min_value=-3, max_value=20))
    def reschedule(self, offset: int) -> None:
        due_on = AGREED_ON + timedelta(days=offset)
        if self.attempt(
            "reschedule",
            lambda: self.commitment.reschedule(due_on=due_on, reason="r", actor="a"),
            valid_args=due_on >= AGREED_ON and due_on != self.due_on,
        ):
            self.due_on = due_on

    @rule(agency=st.sampled_from(AGENCIES), post=st.sampled_from(POSTS))
    def reassign(self, agency: str, post: str | None) -> None:
        if self.attempt(
            "reassign",
            lambda: self.commitment.reassign(
                responsible_agency_id=agency,
                post_id=post,
                accountable_official_id=None,
                reason="r",
                actor="a",
            ),
            valid_args=(agency, post) != self.responsible,
        ):
            self.responsible = (agency, post)

    @rule()
    def report_fulfilment(self) -> None:
        self.attempt("fulfil", lambda: self.commitment.report_fulfilment(evidence="e", actor="a"))

    @rule()
    def validate(self) -> None:
        self.attempt(
            "validate", lambda: self.commitment.validate(**JUDGED, assembly_id="x", actor="a")
        )

    @rule()
    def dispute(self) -> None:
        self.attempt(
            "dispute",
            lambda: self.commitment.dispute(**JUDGED, assembly_id="x", reason="r", actor="a"),
        )

    @rule()
    def cancel(self) -> None:
        self.attempt("cancel", lambda: self.commitment.cancel(reason="r", actor="a"))

    @invariant()
    def state_follows_the_model(self) -> None:
        assert self.commitment.status is self.status
        assert self.commitment.due_on == self.due_on
        assert (self.commitment.responsible_agency_id, self.commitment.post_id) == self.responsible
        assert self.commitment.status is not S.DISPUTED  # reserved: a dispute means IN_PROGRESS

    @invariant()
    def history_rebuilds_the_same_commitment(self) -> None:
        rebuilt = project_aggregate(None, self.history)
        assert rebuilt is not None
        assert rebuilt.version == self.commitment.version == len(self.history)
        assert rebuilt.status is self.commitment.status
        assert rebuilt.due_on == self.commitment.due_on
        assert rebuilt.responsible_agency_id == self.commitment.responsible_agency_id
        assert rebuilt.post_id == self.commitment.post_id

    @invariant()
    def due_date_is_never_before_agreement(self) -> None:
        assert self.commitment.due_on >= self.commitment.agreed_on
        assert isinstance(self.commitment.due_on, date)


CommitmentMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_commitment_follows_its_transition_table = CommitmentMachine.TestCase
