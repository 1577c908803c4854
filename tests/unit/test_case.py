"""The Case aggregate: raised, triaged, routed, in attention, and how it ends (or does not)."""

from __future__ import annotations

import pytest
from domain_builders import new_case
from eventsourcing.application import project_aggregate

from cases.case import Case
from cases.errors import RuleViolation
from cases.values import CaseStatus as S
from cases.values import Priority, Theme

ACTOR = "coordinator:rosa"


def names(case: Case) -> list[str]:
    return [type(e).__name__ for e in case.collect_events()]


def refuse(key: str, action, **kwargs) -> RuleViolation:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleViolation) as info:
        action(**kwargs)
    assert info.value.key == key
    return info.value


def triaged(case: Case) -> Case:
    case.triage(theme=Theme.SAFETY, priority=Priority.HIGH, actor=ACTOR)
    return case


def routed(case: Case) -> Case:
    triaged(case).route(table_ids=["alumbrado"], actor=ACTOR)
    return case


def in_attention(case: Case) -> Case:
    routed(case).start_attention(commitment_id="lamps", actor=ACTOR)
    return case


def resolved(case: Case) -> Case:
    in_attention(case).resolve(summary="lamps repaired", actor=ACTOR)
    return case


def closed(case: Case) -> Case:
    resolved(case).close(assembly_id="asamblea-sabado", actor=ACTOR)
    return case


def declined(case: Case) -> Case:
    triaged(case).decline(reason="federal matter", referred_to="Guardia Nacional", actor=ACTOR)
    return case


def merged(case: Case) -> Case:
    case.merge_into(target_id="other-case", actor=ACTOR)
    return case


STATES = {
    S.RAISED: lambda c: c,
    S.TRIAGED: triaged,
    S.ROUTED: routed,
    S.IN_ATTENTION: in_attention,
    S.RESOLVED: resolved,
    S.CLOSED: closed,
    S.DECLINED: declined,
    S.MERGED: merged,
}


def case_in(status: S) -> Case:
    case = STATES[status](new_case())
    assert case.status is status
    case.collect_events()
    return case


# -- raising and triage ----------------------------------------------------------------------


def test_raised_case_is_raised_without_priority() -> None:
    case = new_case(theme=Theme.WATER)
    assert case.status is S.RAISED
    assert case.priority is None
    assert case.theme is Theme.WATER
    assert case.table_ids == []
    assert names(case) == ["Raised"]


def test_raised_event_keeps_the_sealed_contact_but_the_state_does_not() -> None:
    sealed = {"v": 1, "ciphertext": "b3BhcXVl"}
    case = new_case(reporter_sealed=sealed)
    (raised,) = case.collect_events()
    assert raised.reporter_sealed == sealed  # type: ignore[attr-defined]
    assert not hasattr(case, "reporter_sealed")
    assert case.has_reporter and not case.reporter_erased


def test_erasing_the_reporter_is_recorded_once() -> None:
    case = new_case()
    case.collect_events()
    case.erase_reporter(reason="Solicitud ARCO 2026-114", actor="coordinator:rosa")
    case.erase_reporter(reason="again", actor="coordinator:rosa")
    assert names(case) == ["ReporterErased"]
    assert case.reporter_erased


def test_erasing_when_no_contact_was_kept_is_refused() -> None:
    case = new_case(reporter_sealed=None)
    with pytest.raises(RuleViolation) as refused:
        case.erase_reporter(reason="ARCO", actor="coordinator:rosa")
    assert refused.value.key == "no_reporter"


def test_a_v1_raised_event_with_a_clear_contact_is_upcast_to_a_plain_envelope() -> None:
    state = {"reporter": {"name": "Vecina"}, "title": "t"}
    Case.Raised.upcast_v1_v2(state)
    assert state == {"reporter_sealed": {"plain": {"name": "Vecina"}}, "title": "t"}
    empty: dict[str, object] = {"reporter": None}
    Case.Raised.upcast_v1_v2(empty)
    assert empty == {"reporter_sealed": None}


def test_a_v1_snapshot_is_upcast_to_know_about_its_reporter() -> None:
    state: dict[str, object] = {"status": "RAISED"}
    Case.upcast_v1_v2(state)
    assert state == {"status": "RAISED", "has_reporter": True, "reporter_erased": False}


def test_triage_sets_theme_and_priority_and_marks_it_triaged(case: Case) -> None:
    case.triage(theme=Theme.PUBLIC_SPACE, priority=Priority.URGENT, actor=ACTOR)
    assert case.status is S.TRIAGED
    assert (case.theme, case.priority) == (Theme.PUBLIC_SPACE, Priority.URGENT)
    assert names(case) == ["Triaged"]


@pytest.mark.parametrize("status", [S.ROUTED, S.IN_ATTENTION])
def test_retriage_of_an_active_case_changes_priority_but_not_status(status: S) -> None:
    case = case_in(status)
    case.triage(theme=Theme.SAFETY, priority=Priority.LOW, actor=ACTOR)
    assert case.priority is Priority.LOW
    assert case.status is status


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED, S.MERGED, S.DECLINED])
def test_no_triage_of_a_finished_case(status: S) -> None:
    case = case_in(status)
    error = refuse(
        "case_transition", case.triage, theme=Theme.SAFETY, priority=Priority.LOW, actor=ACTOR
    )
    assert error.params == {"status": status.value, "action": "triaged"}
    assert case.collect_events() == []


# -- routing -----------------------------------------------------------------------------------


def test_route_before_triage_is_refused(case: Case) -> None:
    refuse("case_not_triaged", case.route, table_ids=["alumbrado"], actor=ACTOR)
    assert case.status is S.RAISED
    assert case.collect_events() == []


def test_route_marks_a_triaged_case_routed(case: Case) -> None:
    triaged(case).collect_events()
    case.route(table_ids=["gabinete-zonal", "alumbrado", "alumbrado"], actor=ACTOR)
    (routed_event,) = case.collect_events()
    assert routed_event.table_ids == ["alumbrado", "gabinete-zonal"]  # type: ignore[attr-defined]
    assert case.status is S.ROUTED
    assert case.table_ids == ["alumbrado", "gabinete-zonal"]


def test_routing_to_the_same_tables_again_records_nothing() -> None:
    case = case_in(S.ROUTED)
    case.route(table_ids=["alumbrado"], actor=ACTOR)
    assert case.collect_events() == []
    assert case.version == 3


def test_routing_to_one_more_table_records_only_the_new_one() -> None:
    case = case_in(S.ROUTED)
    case.route(table_ids=["alumbrado", "gabinete-zonal"], actor=ACTOR)
    (routed_event,) = case.collect_events()
    assert routed_event.table_ids == ["gabinete-zonal"]  # type: ignore[attr-defined]
    assert case.table_ids == ["alumbrado", "gabinete-zonal"]


def test_routing_a_case_in_attention_keeps_it_in_attention() -> None:
    case = case_in(S.IN_ATTENTION)
    case.route(table_ids=["gabinete-zonal"], actor=ACTOR)
    assert case.status is S.IN_ATTENTION


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED, S.DECLINED, S.MERGED])
def test_no_routing_of_a_finished_case(status: S) -> None:
    case = case_in(status)
    refuse("case_transition", case.route, table_ids=["gabinete-zonal"], actor=ACTOR)


# -- attention --------------------------------------------------------------------------------


def test_first_commitment_puts_a_routed_case_in_attention() -> None:
    case = case_in(S.ROUTED)
    case.start_attention(commitment_id="lamps", actor=ACTOR)
    (started,) = case.collect_events()
    assert type(started).__name__ == "AttentionStarted"
    assert started.commitment_id == "lamps"  # type: ignore[attr-defined]
    assert case.status is S.IN_ATTENTION


def test_a_commitment_agreed_at_a_table_the_case_is_routed_to_is_taken() -> None:
    case = case_in(S.ROUTED)
    case.start_attention(commitment_id="lamps", table_id="alumbrado", actor=ACTOR)
    assert names(case) == ["AttentionStarted"]


@pytest.mark.parametrize("status", [S.RAISED, S.TRIAGED, S.ROUTED, S.IN_ATTENTION])
def test_a_commitment_agreed_at_a_table_the_case_is_not_routed_to_is_refused(
    status: S,
) -> None:
    case = case_in(status)
    error = refuse(
        "case_not_routed_to_table",
        case.start_attention,
        commitment_id="vaccines",
        table_id="mesa-salud",
        actor=ACTOR,
    )
    assert error.params == {"table_id": "mesa-salud"}
    assert case.collect_events() == []


def test_a_commitment_agreed_at_an_assembly_needs_no_routing() -> None:
    case = case_in(S.RAISED)
    case.start_attention(commitment_id="cleanup", actor=ACTOR)
    assert names(case) == ["AttentionStarted"]


def test_later_commitments_do_not_start_attention_again() -> None:
    case = case_in(S.IN_ATTENTION)
    case.start_attention(commitment_id="patrols", actor=ACTOR)
    assert case.collect_events() == []


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED, S.DECLINED, S.MERGED])
def test_no_commitments_for_a_finished_case(status: S) -> None:
    case = case_in(status)
    assert not case.can_take_commitments
    error = refuse("case_not_committable", case.start_attention, commitment_id="x", actor=ACTOR)
    assert error.params == {"status": status.value}


# -- resolving and closing --------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.TRIAGED, S.ROUTED, S.IN_ATTENTION])
def test_resolve_from_an_active_case(status: S) -> None:
    case = case_in(status)
    case.resolve(summary="done", actor=ACTOR)
    assert case.status is S.RESOLVED
    assert names(case) == ["Resolved"]


@pytest.mark.parametrize("status", [S.RAISED, S.RESOLVED, S.CLOSED, S.DECLINED, S.MERGED])
def test_resolve_is_refused_outside_active_work(status: S) -> None:
    case = case_in(status)
    refuse("case_transition", case.resolve, summary="done", actor=ACTOR)


def test_close_from_resolved() -> None:
    case = case_in(S.RESOLVED)
    case.close(assembly_id="asamblea-sabado", actor=ACTOR)
    assert case.status is S.CLOSED
    assert names(case) == ["Closed"]


@pytest.mark.parametrize(
    "status", [S.RAISED, S.TRIAGED, S.ROUTED, S.IN_ATTENTION, S.CLOSED, S.DECLINED, S.MERGED]
)
def test_close_is_refused_unless_resolved(status: S) -> None:
    case = case_in(status)
    error = refuse("case_transition", case.close, assembly_id=None, actor=ACTOR)
    assert error.params["action"] == "closed"
    assert case.collect_events() == []


# -- reopening ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED])
def test_reopen_returns_a_routed_case_to_routed(status: S) -> None:
    case = case_in(status)
    case.reopen(reason="the lamps went out again", actor=ACTOR)
    assert case.status is S.ROUTED
    assert names(case) == ["Reopened"]


def test_reopen_returns_a_triaged_but_unrouted_case_to_triaged() -> None:
    case = case_in(S.DECLINED)  # triaged, never routed
    case.reopen(reason="referral refused", actor=ACTOR)
    assert case.status is S.TRIAGED


def test_reopen_returns_a_case_declined_before_triage_to_raised(case: Case) -> None:
    case.decline(reason="not a municipal matter", referred_to=None, actor=ACTOR)
    case.reopen(reason="it is", actor=ACTOR)
    assert case.status is S.RAISED


@pytest.mark.parametrize("status", [S.RAISED, S.TRIAGED, S.ROUTED, S.IN_ATTENTION, S.MERGED])
def test_reopen_is_refused_unless_finished(status: S) -> None:
    case = case_in(status)
    refuse("case_transition", case.reopen, reason="r", actor=ACTOR)


# -- declining and merging ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.RAISED, S.TRIAGED, S.ROUTED, S.IN_ATTENTION])
def test_decline_an_open_case_with_a_referral(status: S) -> None:
    case = case_in(status)
    case.decline(reason="federal", referred_to="Guardia Nacional", actor=ACTOR)
    (event,) = case.collect_events()
    assert event.referred_to == "Guardia Nacional"  # type: ignore[attr-defined]
    assert case.status is S.DECLINED


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED, S.DECLINED, S.MERGED])
def test_decline_is_refused_once_finished(status: S) -> None:
    case = case_in(status)
    refuse("case_transition", case.decline, reason="r", referred_to=None, actor=ACTOR)


@pytest.mark.parametrize("status", [S.RAISED, S.TRIAGED, S.ROUTED, S.IN_ATTENTION])
def test_merge_an_open_case_as_duplicate(status: S) -> None:
    case = case_in(status)
    case.merge_into(target_id="original", actor=ACTOR)
    assert (case.status, case.merged_into) == (S.MERGED, "original")
    assert names(case) == ["MergedAsDuplicate"]


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED, S.DECLINED, S.MERGED])
def test_merge_is_refused_once_finished(status: S) -> None:
    case = case_in(status)
    refuse("case_transition", case.merge_into, target_id="original", actor=ACTOR)
    assert case.collect_events() == []


# -- history -----------------------------------------------------------------------------------


def test_case_history_rebuilds_the_same_case_and_every_event_names_its_actor() -> None:
    case = new_case(actor="facilitator:eva")
    case.triage(theme=Theme.SAFETY, priority=Priority.HIGH, actor="coordinator:rosa")
    case.route(table_ids=["alumbrado"], actor="coordinator:rosa")
    case.start_attention(commitment_id="lamps", actor="secretary:ana")
    case.resolve(summary="done", actor="coordinator:rosa")
    case.reopen(reason="again", actor="coordinator:rosa")
    events = case.collect_events()
    assert events[0].actor == "facilitator:eva"  # type: ignore[attr-defined]
    assert all(e.actor for e in events)  # type: ignore[attr-defined]
    rebuilt = project_aggregate(None, events)
    assert rebuilt is not None
    assert (rebuilt.status, rebuilt.priority, rebuilt.table_ids, rebuilt.version) == (
        S.ROUTED,
        Priority.HIGH,
        ["alumbrado"],
        6,
    )


def test_a_v2_raised_event_is_upcast_to_have_no_location() -> None:
    state: dict[str, object] = {"title": "t"}
    Case.Raised.upcast_v2_v3(state)
    assert state == {"title": "t", "location": None}
