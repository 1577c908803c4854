"""The Commitment aggregate: its states, its rules and the events it records."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from domain_builders import AGREED_ON, DUE_ON, new_commitment
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Snapshot

from cases.commitment import Commitment
from cases.errors import BadInputError, RuleViolation, TequioError
from cases.values import CommitmentStatus as S

# An assembly of the case's community, held after any fulfilment these tests report.
JUDGED = {"held_on": date(2099, 1, 1), "of_the_community": True}

ACTOR = "staff:servicios-urbanos:lucia"


def event_names(commitment: Commitment) -> list[str]:
    return [type(e).__name__ for e in commitment.collect_events()]


def fulfilled(commitment: Commitment) -> Commitment:
    commitment.report_fulfilment(evidence="https://fotos.example/lamps.jpg", actor=ACTOR)
    commitment.collect_events()
    return commitment


def refuse(key: str, action, *args, **kwargs) -> TequioError:  # type: ignore[no-untyped-def]
    # Refused as bad input (BadInputError) or by a rule (RuleViolation).
    with pytest.raises((RuleViolation, BadInputError)) as info:
        action(*args, **kwargs)
    assert info.value.key == key
    return info.value


# -- making ----------------------------------------------------------------------------


def test_a_commitment_agreed_nowhere_is_refused() -> None:
    with pytest.raises(BadInputError) as info:
        new_commitment(table_id=None, assembly_id=None)
    assert info.value.key == "commitment_needs_forum"


def test_a_commitment_agreed_at_an_assembly_needs_no_table() -> None:
    assert new_commitment(table_id=None, assembly_id="asamblea-sabado").table_id is None


def test_made_commitment_is_open_at_version_one() -> None:
    c = new_commitment()
    assert c.status is S.OPEN
    assert c.version == 1
    assert event_names(c) == ["Made"]


def test_made_event_records_who_is_accountable_and_the_dates() -> None:
    (made,) = new_commitment(accountable_official_id="jorge").collect_events()
    assert made.accountable_official_id == "jorge"  # type: ignore[attr-defined]
    assert made.agreed_on == AGREED_ON  # type: ignore[attr-defined]
    assert made.due_on == DUE_ON  # type: ignore[attr-defined]


def test_commitment_due_before_it_was_agreed_is_refused() -> None:
    error = refuse(
        "due_before_agreed", new_commitment, agreed_on=AGREED_ON, due_on=AGREED_ON - timedelta(1)
    )
    assert error.params == {"due_on": "2026-11-16", "agreed_on": "2026-11-17"}


def test_commitment_due_the_day_it_is_agreed_is_accepted() -> None:
    assert new_commitment(agreed_on=AGREED_ON, due_on=AGREED_ON).due_on == AGREED_ON


def test_commitment_agreed_days_ago_with_past_due_date_is_accepted() -> None:
    # Secretaries enter minutes late: the due date may already have passed.
    c = new_commitment(agreed_on=date(2026, 11, 2), due_on=date(2026, 11, 5))
    assert c.status is S.OPEN


# -- progress ----------------------------------------------------------------------------


def test_progress_report_puts_an_open_commitment_in_progress(commitment: Commitment) -> None:
    commitment.report_progress(progress=40, note="5 of 12 lamps", actor=ACTOR)
    (reported,) = commitment.collect_events()
    assert type(reported).__name__ == "ProgressReported"
    assert reported.progress == 40  # type: ignore[attr-defined]
    assert commitment.status is S.IN_PROGRESS


def test_further_progress_keeps_commitment_in_progress(commitment: Commitment) -> None:
    commitment.report_progress(progress=40, note="5 of 12", actor=ACTOR)
    commitment.report_progress(progress=80, note="10 of 12", actor=ACTOR)
    assert commitment.status is S.IN_PROGRESS
    assert event_names(commitment) == ["ProgressReported", "ProgressReported"]


@pytest.mark.parametrize("progress", [0, 100])
def test_progress_at_the_bounds_is_accepted(commitment: Commitment, progress: int) -> None:
    commitment.report_progress(progress=progress, note="n", actor=ACTOR)
    assert event_names(commitment) == ["ProgressReported"]


@pytest.mark.parametrize("progress", [-1, 101, 250])
def test_progress_outside_zero_to_hundred_is_refused(commitment: Commitment, progress: int) -> None:
    error = refuse(
        "progress_out_of_range",
        commitment.report_progress,
        progress=progress,
        note="n",
        actor=ACTOR,
    )
    assert error.params == {"progress": progress}
    assert commitment.status is S.OPEN
    assert commitment.collect_events() == []


@pytest.mark.parametrize("progress", [40.5, True])
def test_progress_that_is_not_a_whole_number_is_refused(
    commitment: Commitment, progress: object
) -> None:
    refuse(
        "progress_out_of_range",
        commitment.report_progress,
        progress=progress,
        note="n",
        actor=ACTOR,
    )
    assert commitment.collect_events() == []


def test_no_progress_on_a_cancelled_commitment(commitment: Commitment) -> None:
    commitment.cancel(reason="duplicated", actor=ACTOR)
    commitment.collect_events()
    error = refuse(
        "commitment_not_open", commitment.report_progress, progress=10, note="n", actor=ACTOR
    )
    assert error.params == {"status": "CANCELLED", "action": "report progress"}


def test_no_progress_on_a_fulfilled_commitment(commitment: Commitment) -> None:
    fulfilled(commitment)
    refuse("commitment_not_open", commitment.report_progress, progress=10, note="n", actor=ACTOR)
    assert commitment.status is S.FULFILLED


def test_no_progress_on_a_validated_commitment(commitment: Commitment) -> None:
    fulfilled(commitment).validate(**JUDGED, assembly_id="asamblea-sabado", actor=ACTOR)
    commitment.collect_events()
    refuse("commitment_not_open", commitment.report_progress, progress=10, note="n", actor=ACTOR)
    assert commitment.status is S.VALIDATED


def test_out_of_range_progress_on_a_closed_commitment_reports_the_state_first(
    commitment: Commitment,
) -> None:
    commitment.cancel(reason="r", actor=ACTOR)
    refuse("commitment_not_open", commitment.report_progress, progress=500, note="n", actor=ACTOR)


# -- rescheduling -------------------------------------------------------------------------


def test_reschedule_records_the_previous_due_date(commitment: Commitment) -> None:
    monday = date(2026, 11, 23)
    commitment.reschedule(due_on=monday, reason="truck broke down", actor=ACTOR)
    (rescheduled,) = commitment.collect_events()
    assert type(rescheduled).__name__ == "Rescheduled"
    assert rescheduled.previous_due_on == DUE_ON  # type: ignore[attr-defined]
    assert rescheduled.due_on == monday  # type: ignore[attr-defined]
    assert rescheduled.reason == "truck broke down"  # type: ignore[attr-defined]
    assert commitment.due_on == monday


def test_reschedule_keeps_the_status(commitment: Commitment) -> None:
    commitment.report_progress(progress=10, note="n", actor=ACTOR)
    commitment.reschedule(due_on=date(2026, 11, 23), reason="r", actor=ACTOR)
    assert commitment.status is S.IN_PROGRESS


def test_second_reschedule_records_the_first_new_date_as_previous(commitment: Commitment) -> None:
    commitment.reschedule(due_on=date(2026, 11, 23), reason="r1", actor=ACTOR)
    commitment.reschedule(due_on=date(2026, 11, 30), reason="r2", actor=ACTOR)
    _, second = commitment.collect_events()
    assert second.previous_due_on == date(2026, 11, 23)  # type: ignore[attr-defined]


def test_reschedule_to_an_earlier_date_after_agreement_is_accepted(
    commitment: Commitment,
) -> None:
    commitment.reschedule(due_on=AGREED_ON, reason="urgent", actor=ACTOR)
    assert commitment.due_on == AGREED_ON


def test_reschedule_before_the_agreement_date_is_refused(commitment: Commitment) -> None:
    refuse(
        "due_before_agreed",
        commitment.reschedule,
        due_on=AGREED_ON - timedelta(1),
        reason="r",
        actor=ACTOR,
    )
    assert commitment.due_on == DUE_ON
    assert commitment.collect_events() == []


def test_reschedule_to_the_same_date_is_refused(commitment: Commitment) -> None:
    error = refuse("same_due_date", commitment.reschedule, due_on=DUE_ON, reason="r", actor=ACTOR)
    assert error.params == {"due_on": "2026-11-20"}
    assert commitment.collect_events() == []


@pytest.mark.parametrize("final", ["fulfilled", "cancelled"])
def test_reschedule_of_a_finished_commitment_is_refused(commitment: Commitment, final: str) -> None:
    if final == "fulfilled":
        fulfilled(commitment)
    else:
        commitment.cancel(reason="r", actor=ACTOR)
    refuse(
        "commitment_not_open",
        commitment.reschedule,
        due_on=date(2026, 12, 1),
        reason="r",
        actor=ACTOR,
    )


# -- fulfilment, validation and dispute ----------------------------------------------------


@pytest.mark.parametrize("start_in_progress", [False, True])
def test_fulfilment_report_marks_commitment_fulfilled(
    commitment: Commitment, start_in_progress: bool
) -> None:
    if start_in_progress:
        commitment.report_progress(progress=40, note="n", actor=ACTOR)
    commitment.report_fulfilment(evidence="https://fotos.example/1.jpg", actor=ACTOR)
    assert commitment.status is S.FULFILLED
    assert event_names(commitment)[-1] == "FulfilmentReported"


def test_fulfilment_cannot_be_reported_twice(commitment: Commitment) -> None:
    fulfilled(commitment)
    refuse("commitment_not_open", commitment.report_fulfilment, evidence="e", actor=ACTOR)


def test_validation_after_fulfilment_report_validates(commitment: Commitment) -> None:
    fulfilled(commitment).validate(
        **JUDGED, assembly_id="asamblea-sabado", actor="coordinator:rosa"
    )
    assert commitment.status is S.VALIDATED
    assert event_names(commitment) == ["Validated"]


@pytest.mark.parametrize("progress_first", [False, True])
def test_validation_without_fulfilment_report_is_refused(
    commitment: Commitment, progress_first: bool
) -> None:
    if progress_first:
        commitment.report_progress(progress=100, note="done, says the agency", actor=ACTOR)
        commitment.collect_events()
    error = refuse(
        "validation_needs_fulfilment", commitment.validate, **JUDGED, assembly_id="a", actor=ACTOR
    )
    assert error.params["action"] == "validated"
    assert commitment.collect_events() == []


def test_validation_cannot_happen_twice(commitment: Commitment) -> None:
    fulfilled(commitment).validate(**JUDGED, assembly_id="a", actor=ACTOR)
    refuse(
        "validation_needs_fulfilment", commitment.validate, **JUDGED, assembly_id="a", actor=ACTOR
    )


def test_dispute_returns_a_fulfilled_commitment_to_in_progress(commitment: Commitment) -> None:
    fulfilled(commitment).dispute(
        **JUDGED, assembly_id="asamblea-sabado", reason="seen only twice", actor="coordinator:rosa"
    )
    (disputed,) = commitment.collect_events()
    assert type(disputed).__name__ == "Disputed"
    assert disputed.reason == "seen only twice"  # type: ignore[attr-defined]
    assert commitment.status is S.IN_PROGRESS


def test_disputed_commitment_can_be_reported_fulfilled_again(commitment: Commitment) -> None:
    fulfilled(commitment).dispute(**JUDGED, assembly_id="a", reason="r", actor=ACTOR)
    commitment.report_fulfilment(evidence="new photos", actor=ACTOR)
    assert commitment.status is S.FULFILLED


@pytest.mark.parametrize("progress_first", [False, True])
def test_dispute_without_fulfilment_report_is_refused(
    commitment: Commitment, progress_first: bool
) -> None:
    if progress_first:
        commitment.report_progress(progress=30, note="n", actor=ACTOR)
        commitment.collect_events()
    error = refuse(
        "validation_needs_fulfilment",
        commitment.dispute,
        **JUDGED,
        assembly_id="a",
        reason="r",
        actor=ACTOR,
    )
    assert error.params["action"] == "disputed"
    assert commitment.collect_events() == []


def test_validated_commitment_cannot_be_disputed(commitment: Commitment) -> None:
    fulfilled(commitment).validate(**JUDGED, assembly_id="a", actor=ACTOR)
    refuse(
        "validation_needs_fulfilment",
        commitment.dispute,
        **JUDGED,
        assembly_id="a",
        reason="r",
        actor=ACTOR,
    )


# -- cancelling ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["open", "in_progress", "fulfilled"])
def test_cancel_is_allowed_while_not_validated(commitment: Commitment, state: str) -> None:
    if state == "in_progress":
        commitment.report_progress(progress=10, note="n", actor=ACTOR)
    elif state == "fulfilled":
        fulfilled(commitment)
    commitment.collect_events()
    commitment.cancel(reason="agreed elsewhere", actor=ACTOR)
    assert commitment.status is S.CANCELLED
    assert event_names(commitment) == ["Cancelled"]


def test_cancel_twice_is_refused(commitment: Commitment) -> None:
    commitment.cancel(reason="r", actor=ACTOR)
    commitment.collect_events()
    error = refuse("commitment_not_open", commitment.cancel, reason="again", actor=ACTOR)
    assert error.params == {"status": "CANCELLED", "action": "be cancelled"}
    assert commitment.collect_events() == []


def test_cancel_after_validation_is_refused(commitment: Commitment) -> None:
    fulfilled(commitment).validate(**JUDGED, assembly_id="a", actor=ACTOR)
    refuse("commitment_not_open", commitment.cancel, reason="r", actor=ACTOR)
    assert commitment.status is S.VALIDATED


def test_cancelled_commitment_cannot_be_reported_fulfilled(commitment: Commitment) -> None:
    commitment.cancel(reason="r", actor=ACTOR)
    refuse("commitment_not_open", commitment.report_fulfilment, evidence="e", actor=ACTOR)


# -- reassigning ---------------------------------------------------------------------------


def test_reassign_to_another_agency_changes_the_responsible_party(commitment: Commitment) -> None:
    commitment.reassign(
        responsible_agency_id="obras",
        post_id=None,
        accountable_official_id=None,
        reason="works has the crane",
        actor=ACTOR,
    )
    (reassigned,) = commitment.collect_events()
    assert type(reassigned).__name__ == "Reassigned"
    assert commitment.responsible_agency_id == "obras"
    assert commitment.post_id is None
    assert commitment.status is S.OPEN


def test_reassign_to_another_post_of_the_same_agency_is_accepted(commitment: Commitment) -> None:
    commitment.reassign(
        responsible_agency_id="servicios-urbanos",
        post_id="direccion-general",
        accountable_official_id="director",
        reason="r",
        actor=ACTOR,
    )
    assert commitment.post_id == "direccion-general"


def test_reassign_to_the_same_responsible_and_post_is_refused(commitment: Commitment) -> None:
    refuse(
        "same_responsible",
        commitment.reassign,
        responsible_agency_id="servicios-urbanos",
        post_id="jefatura-alumbrado",
        accountable_official_id="laura",
        reason="r",
        actor=ACTOR,
    )
    assert commitment.collect_events() == []


def test_reassign_of_a_fulfilled_commitment_is_refused(commitment: Commitment) -> None:
    fulfilled(commitment)
    refuse(
        "commitment_not_open",
        commitment.reassign,
        responsible_agency_id="obras",
        post_id=None,
        accountable_official_id=None,
        reason="r",
        actor=ACTOR,
    )


# -- every event says who acted, and the history rebuilds the state --------------------------


def test_every_event_carries_the_actor_who_caused_it() -> None:
    c = new_commitment(actor="secretary:ana")
    c.report_progress(progress=20, note="n", actor="staff:1")
    c.reschedule(due_on=date(2026, 11, 27), reason="r", actor="staff:2")
    c.reassign(
        responsible_agency_id="obras",
        post_id=None,
        accountable_official_id=None,
        reason="r",
        actor="coordinator:3",
    )
    c.report_fulfilment(evidence="e", actor="staff:4")
    c.dispute(**JUDGED, assembly_id="a", reason="r", actor="coordinator:5")
    c.report_fulfilment(evidence="e2", actor="staff:6")
    c.validate(**JUDGED, assembly_id="a", actor="coordinator:7")
    events = c.collect_events()
    assert [e.actor for e in events] == [  # type: ignore[attr-defined]
        "secretary:ana",
        "staff:1",
        "staff:2",
        "coordinator:3",
        "staff:4",
        "coordinator:5",
        "staff:6",
        "coordinator:7",
    ]
    rebuilt = project_aggregate(None, events)
    assert rebuilt is not None
    assert (rebuilt.status, rebuilt.due_on, rebuilt.responsible_agency_id, rebuilt.version) == (
        S.VALIDATED,
        date(2026, 11, 27),
        "obras",
        8,
    )


def test_cancel_event_carries_the_actor_and_reason(commitment: Commitment) -> None:
    commitment.cancel(reason="merged into another", actor="secretary:ana")
    (cancelled,) = commitment.collect_events()
    assert cancelled.actor == "secretary:ana"  # type: ignore[attr-defined]
    assert cancelled.reason == "merged into another"  # type: ignore[attr-defined]


def test_fulfilment_reported_before_the_agreement_date_is_refused(commitment: Commitment) -> None:
    error = refuse(
        "reported_before_agreed",
        commitment.report_fulfilment,
        evidence="foto",
        reported_on=AGREED_ON - timedelta(days=1),
        actor="staff",
    )
    assert error.params["agreed_on"] == AGREED_ON.isoformat()


def test_fulfilment_records_the_day_it_was_reported(commitment: Commitment) -> None:
    commitment.report_fulfilment(evidence="foto", reported_on=AGREED_ON, actor="staff")
    (event,) = [e for e in commitment.collect_events() if type(e).__name__ == "FulfilmentReported"]
    assert event.reported_on == AGREED_ON


# -- who may judge a fulfilment ------------------------------------------------------------


@pytest.mark.parametrize("judgement", ["validate", "dispute"])
def test_an_assembly_of_another_community_cannot_judge_a_fulfilment(judgement: str) -> None:
    commitment = fulfilled(new_commitment())
    extra = {"reason": "No se ve"} if judgement == "dispute" else {}
    error = refuse(
        "assembly_of_another_community",
        getattr(commitment, judgement),
        assembly_id="asamblea-quetzalcoatl",
        held_on=date(2099, 1, 1),
        of_the_community=False,
        actor=ACTOR,
        **extra,
    )
    assert error.params == {"assembly_id": "asamblea-quetzalcoatl"}
    assert commitment.status is S.FULFILLED
    assert commitment.collect_events() == []


@pytest.mark.parametrize("judgement", ["validate", "dispute"])
def test_an_assembly_held_before_the_work_was_reported_done_cannot_judge_it(
    judgement: str,
) -> None:
    commitment = new_commitment()
    done = AGREED_ON + timedelta(days=3)
    commitment.report_fulfilment(evidence="fotos", reported_on=done, actor=ACTOR)
    commitment.collect_events()
    extra = {"reason": "No se ve"} if judgement == "dispute" else {}
    judge = getattr(commitment, judgement)
    error = refuse(
        "assembly_before_fulfilment",
        judge,
        assembly_id="asamblea-anterior",
        held_on=done - timedelta(days=1),
        of_the_community=True,
        actor=ACTOR,
        **extra,
    )
    assert error.params["fulfilled_on"] == done.isoformat()
    assert commitment.collect_events() == []
    # The same day will do: the assembly that saw the work finished.
    judge(assembly_id="asamblea", held_on=done, of_the_community=True, actor=ACTOR, **extra)
    assert event_names(commitment) == ["Validated" if judgement == "validate" else "Disputed"]


def test_a_snapshot_from_before_the_fulfilment_day_was_kept_accepts_any_assembly() -> None:
    commitment = new_commitment()
    done = AGREED_ON + timedelta(days=3)
    commitment.report_fulfilment(evidence="fotos", reported_on=done, actor=ACTOR)
    commitment.collect_events()
    taken = Snapshot.take(commitment)
    # As a v1 snapshot was written: no class version, no fulfilment day.
    state = {k: v for k, v in taken.state.items() if k not in ("class_version", "fulfilled_on")}
    v1 = Snapshot(
        originator_id=taken.originator_id,
        originator_version=taken.originator_version,
        timestamp=taken.timestamp,
        topic=taken.topic,
        state=state,
    )
    restored = v1.mutate(None)
    assert isinstance(restored, Commitment) and restored.fulfilled_on is None
    # The day is not known: an assembly held before it is not refused.
    restored.validate(
        assembly_id="asamblea",
        held_on=done - timedelta(days=10),
        of_the_community=True,
        actor=ACTOR,
    )
    assert event_names(restored) == ["Validated"]
