"""Cases and commitments through the application service, on a real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from cases.application import CommandContext, CommandResult, TequioApplication
from cases.case import Case
from cases.clock import FixedClock
from cases.commitment import Commitment
from cases.directory import Agency, Post
from cases.errors import (
    BadInputError,
    ConflictError,
    NotFoundError,
    RuleViolation,
)
from cases.forums import Assembly, Table
from cases.ids import official_id_for
from cases.values import (
    AssemblyKind,
    CaseStatus,
    CommitmentStatus,
    GovernmentLevel,
    Priority,
    TableKind,
    Theme,
)
from tequio.application import build_application
from tequio.database import ConnectionInfo
from tequio.settings import Settings

MUN = "iztapalapa"
MONDAY = date(2026, 11, 16)
FRIDAY = date(2026, 11, 20)
JORGE = official_id_for(MUN, "Jorge Sánchez")
LAURA = official_id_for(MUN, "Laura Gómez")


def events(app: TequioApplication, cls: Any, public_id: str) -> list[Any]:
    return list(app.events.get(cls.id_for(MUN, public_id)))


def names(app: TequioApplication, cls: Any, public_id: str) -> list[str]:
    return [type(e).__name__ for e in events(app, cls, public_id)]


def seed(app: TequioApplication, ctx: CommandContext) -> str:
    """The directory of the scenario, one dialogue and case (a); returns the case id."""
    app.add_territory(ctx, territory_id="smt-avisadero", name="Sección Avisadero", kind="unit")
    for agency_id, name in [
        ("servicios-urbanos", "Dirección General de Servicios Urbanos"),
        ("obras", "Dirección General de Obras"),
    ]:
        app.add_agency(ctx, agency_id=agency_id, name=name, level=GovernmentLevel.MUNICIPAL)
    app.add_post(
        ctx, post_id="jefatura-alumbrado", title="Head of lighting", agency_id="servicios-urbanos"
    )
    app.appoint_to_post(ctx, post_id="jefatura-alumbrado", official_name="Jorge Sánchez")
    app.create_table(
        ctx,
        table_id="alumbrado",
        name="Alumbrado y espacio público",
        kind=TableKind.WORKING_TABLE,
        member_agency_ids=["servicios-urbanos", "obras"],
    )
    app.hold_assembly(
        ctx,
        assembly_id="dialogo-avisadero",
        territory_id="smt-avisadero",
        kind=AssemblyKind.DIALOGUE_FOR_PEACE,
        held_on=MONDAY,
        attendance=64,
    )
    raised = app.raise_case(
        ctx,
        territory_id="smt-avisadero",
        theme=Theme.SAFETY,
        title="Dark stretch of Calle Camino Real",
        description="Two women were assaulted there.",
        assembly_id="dialogo-avisadero",
        reporter={"name": "Vecina", "phone": "5555555555", "email": None},
    )
    return raised.id


def triage_and_route(app: TequioApplication, ctx: CommandContext, case_id: str) -> None:
    app.triage_case(
        ctx, case_id=case_id, expected_version=1, theme=Theme.SAFETY, priority=Priority.HIGH
    )
    app.route_case(ctx, case_id=case_id, expected_version=2, table_ids=["alumbrado"])


def lamps(app: TequioApplication, ctx: CommandContext, for_case: str, **kw: Any) -> CommandResult:
    args: dict[str, Any] = {
        "case_id": for_case,
        "responsible_agency_id": "servicios-urbanos",
        "post_id": "jefatura-alumbrado",
        "table_id": "alumbrado",
        "description": "Repair 12 lamps",
        "due_on": FRIDAY,
    }
    args.update(kw)
    if args.get("table_id"):
        routed_to(app, ctx, for_case, args["table_id"])
    return app.make_commitment(ctx, **args)


def routed_to(app: TequioApplication, ctx: CommandContext, case_id: str, table_id: str) -> None:
    """As the coordinator does before a table agrees on anything for the case."""
    case: Case = app.repository.get(Case.id_for(MUN, case_id))
    if table_id in case.table_ids or not case.can_take_commitments:
        return
    version = case.version
    if case.status is CaseStatus.RAISED:
        version = app.triage_case(
            ctx, case_id=case_id, expected_version=version, theme=case.theme, priority=Priority.HIGH
        ).version
    app.route_case(ctx, case_id=case_id, expected_version=version, table_ids=[table_id])


def get_case(app: TequioApplication, case_id: str) -> Case:
    return app.repository.get(Case.id_for(MUN, case_id))


def get_commitment(app: TequioApplication, commitment_id: str) -> Commitment:
    return app.repository.get(Commitment.id_for(MUN, commitment_id))


# -- raising cases ------------------------------------------------------------------------------


def test_raised_case_is_stored_raised(app: TequioApplication, ctx: CommandContext) -> None:
    case_id = seed(app, ctx)
    case = get_case(app, case_id)
    assert case.status is CaseStatus.RAISED
    (raised,) = events(app, Case, case_id)
    assert "Vecina" not in str(raised.reporter_sealed)
    assert app.reveal_reporter(ctx, case_id=case_id) == {"name": "Vecina", "phone": "5555555555"}
    assert raised.actor == ctx.actor


def test_raising_the_same_external_case_twice_yields_one_case(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)

    def import_case() -> CommandResult:
        return app.raise_case(
            ctx,
            territory_id="smt-avisadero",
            theme=Theme.WATER,
            title="No water for nine days",
            description="Three streets",
            external_id="SUAC-2026-000123",
        )

    first = import_case()
    position = app.recorder.max_notification_id()
    second = import_case()
    assert second.id == first.id
    assert second.version == first.version == 1
    assert names(app, Case, first.id) == ["Raised"]
    assert app.recorder.max_notification_id() == position


def test_raising_without_external_id_twice_makes_two_cases(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    kwargs: dict[str, Any] = {
        "territory_id": "smt-avisadero",
        "theme": Theme.ENVIRONMENT,
        "title": "Clandestine dump",
        "description": "At the market corner",
    }
    assert app.raise_case(ctx, **kwargs).id != app.raise_case(ctx, **kwargs).id


def test_blank_title_is_bad_input(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    with pytest.raises(BadInputError) as info:
        app.raise_case(
            ctx, territory_id="smt-avisadero", theme=Theme.WATER, title=" ", description="d"
        )
    assert (info.value.key, info.value.params) == ("blank", {"field": "title"})


def test_triage_then_route_through_the_application(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    triage_and_route(app, ctx, case_id)
    case = get_case(app, case_id)
    assert (case.status, case.priority, case.table_ids) == (
        CaseStatus.ROUTED,
        Priority.HIGH,
        ["alumbrado"],
    )


def test_route_before_triage_is_refused(app: TequioApplication, ctx: CommandContext) -> None:
    case_id = seed(app, ctx)
    with pytest.raises(RuleViolation) as info:
        app.route_case(ctx, case_id=case_id, expected_version=1, table_ids=["alumbrado"])
    assert info.value.key == "case_not_triaged"


def test_route_to_an_unknown_table_is_not_found(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    app.triage_case(
        ctx, case_id=case_id, expected_version=1, theme=Theme.SAFETY, priority=Priority.HIGH
    )
    with pytest.raises(NotFoundError) as info:
        app.route_case(ctx, case_id=case_id, expected_version=2, table_ids=["gabinete-zonal"])
    assert info.value.params == {"kind": "table", "id": "gabinete-zonal"}


def test_routing_to_the_same_table_again_writes_nothing(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    triage_and_route(app, ctx, case_id)
    position = app.recorder.max_notification_id()
    result = app.route_case(ctx, case_id=case_id, expected_version=3, table_ids=["alumbrado"])
    assert result.version == 3
    assert app.recorder.max_notification_id() == position


def test_resolve_close_and_reopen_through_the_application(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    triage_and_route(app, ctx, case_id)
    app.resolve_case(ctx, case_id=case_id, expected_version=3, summary="Lamps repaired")
    app.close_case(ctx, case_id=case_id, expected_version=4, assembly_id="dialogo-avisadero")
    assert get_case(app, case_id).status is CaseStatus.CLOSED
    app.reopen_case(ctx, case_id=case_id, expected_version=5, reason="They went out again")
    assert get_case(app, case_id).status is CaseStatus.ROUTED


def test_merge_a_case_into_itself_is_refused(app: TequioApplication, ctx: CommandContext) -> None:
    case_id = seed(app, ctx)
    with pytest.raises(ConflictError) as info:
        app.merge_case(ctx, case_id=case_id, expected_version=1, into_case_id=case_id)
    assert info.value.key == "merge_into_itself"


def test_merge_into_a_merged_case_is_refused(app: TequioApplication, ctx: CommandContext) -> None:
    first = seed(app, ctx)
    kwargs: dict[str, Any] = {
        "territory_id": "smt-avisadero",
        "theme": Theme.SAFETY,
        "title": "Camino Real",
        "description": "d",
    }
    second = app.raise_case(ctx, **kwargs).id
    third = app.raise_case(ctx, **kwargs).id
    app.merge_case(ctx, case_id=second, expected_version=1, into_case_id=first)
    assert get_case(app, second).merged_into == first
    with pytest.raises(ConflictError) as info:
        app.merge_case(ctx, case_id=third, expected_version=1, into_case_id=second)
    assert (info.value.key, info.value.params) == ("merge_into_merged", {"id": second})


def test_decline_with_referral(app: TequioApplication, ctx: CommandContext) -> None:
    case_id = seed(app, ctx)
    app.decline_case(
        ctx, case_id=case_id, expected_version=1, reason="Federal", referred_to="Guardia Nacional"
    )
    assert get_case(app, case_id).status is CaseStatus.DECLINED
    assert events(app, Case, case_id)[-1].referred_to == "Guardia Nacional"


# -- making commitments -------------------------------------------------------------------------


def test_first_commitment_puts_the_case_in_attention_only_once(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    triage_and_route(app, ctx, case_id)
    first = lamps(app, ctx, case_id)
    lamps(app, ctx, case_id, description="Trim the trees that hide the lamps")
    assert get_case(app, case_id).status is CaseStatus.IN_ATTENTION
    assert names(app, Case, case_id).count("AttentionStarted") == 1
    assert events(app, Case, case_id)[-1].commitment_id == first.id


def test_commitment_and_case_change_are_written_together(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    triage_and_route(app, ctx, case_id)
    before = app.recorder.max_notification_id() or 0
    result = lamps(app, ctx, case_id)
    assert app.recorder.max_notification_id() == before + 2
    assert result.notification_id == before + 2
    assert (result.version, get_commitment(app, result.id).status) == (1, CommitmentStatus.OPEN)


def test_commitment_records_the_post_holder_at_the_time(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    before = lamps(app, ctx, case_id)
    app.appoint_to_post(ctx, post_id="jefatura-alumbrado", official_name="Laura Gómez")
    after = lamps(app, ctx, case_id, description="Repair 4 more lamps")
    assert events(app, Commitment, before.id)[0].accountable_official_id == JORGE
    assert events(app, Commitment, after.id)[0].accountable_official_id == LAURA
    # The change of holder rewrites nothing in the first commitment's history.
    assert names(app, Commitment, before.id) == ["Made"]


def test_commitment_on_a_vacant_post_has_no_accountable_official(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    app.add_post(ctx, post_id="direccion-obras", title="Director", agency_id="obras")
    made = lamps(app, ctx, case_id, responsible_agency_id="obras", post_id="direccion-obras")
    assert events(app, Commitment, made.id)[0].accountable_official_id is None


def test_commitment_agreed_on_defaults_to_the_local_date(
    app: TequioApplication, ctx: CommandContext, clock: FixedClock
) -> None:
    case_id = seed(app, ctx)
    # 03:00 UTC on Tuesday is still 21:00 on Monday in Mexico City.
    clock.set(datetime(2026, 11, 17, 3, 0, tzinfo=UTC))
    made = lamps(app, ctx, case_id)
    assert get_commitment(app, made.id).agreed_on == MONDAY


def test_commitment_agreed_on_can_be_given_for_late_minutes(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    made = lamps(app, ctx, case_id, agreed_on=date(2026, 11, 2), due_on=date(2026, 11, 5))
    commitment = get_commitment(app, made.id)
    assert (commitment.agreed_on, commitment.due_on) == (date(2026, 11, 2), date(2026, 11, 5))


def test_commitment_due_before_today_without_agreed_on_is_refused(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    routed_to(app, ctx, case_id, "alumbrado")
    position = app.recorder.max_notification_id()
    with pytest.raises(RuleViolation) as info:
        lamps(app, ctx, case_id, due_on=date(2026, 11, 15))
    assert info.value.params == {"due_on": "2026-11-15", "agreed_on": "2026-11-16"}
    assert app.recorder.max_notification_id() == position
    assert get_case(app, case_id).status is CaseStatus.ROUTED


def test_post_of_another_agency_is_refused(app: TequioApplication, ctx: CommandContext) -> None:
    case_id = seed(app, ctx)
    routed_to(app, ctx, case_id, "alumbrado")
    position = app.recorder.max_notification_id()
    with pytest.raises(BadInputError) as info:
        lamps(app, ctx, case_id, responsible_agency_id="obras", post_id="jefatura-alumbrado")
    assert info.value.key == "post_not_of_agency"
    assert info.value.params == {
        "post_id": "jefatura-alumbrado",
        "post_agency": "servicios-urbanos",
        "agency_id": "obras",
    }
    assert app.recorder.max_notification_id() == position


def test_commitment_for_a_closed_case_is_refused(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    triage_and_route(app, ctx, case_id)
    app.resolve_case(ctx, case_id=case_id, expected_version=3, summary="done")
    app.close_case(ctx, case_id=case_id, expected_version=4)
    with pytest.raises(RuleViolation) as info:
        lamps(app, ctx, case_id)
    assert (info.value.key, info.value.params) == ("case_not_committable", {"status": "CLOSED"})


@pytest.mark.parametrize(
    ("override", "kind", "missing"),
    [
        ({"case_id": "ghost-case"}, "case", "ghost-case"),
        ({"responsible_agency_id": "ghost"}, "agency", "ghost"),
        ({"table_id": "ghost-table"}, "table", "ghost-table"),
        ({"assembly_id": "ghost-assembly"}, "assembly", "ghost-assembly"),
        ({"post_id": "ghost-post"}, "post", "ghost-post"),
    ],
)
def test_commitment_naming_unknown_things_is_not_found(
    app: TequioApplication,
    ctx: CommandContext,
    override: dict[str, str],
    kind: str,
    missing: str,
) -> None:
    case_id = seed(app, ctx)
    with pytest.raises(NotFoundError) as info:
        lamps(app, ctx, case_id, **override)
    assert info.value.params == {"kind": kind, "id": missing}


def test_commitment_life_through_the_application(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    cid = lamps(app, ctx, case_id).id
    app.report_progress(ctx, commitment_id=cid, expected_version=1, progress=40, note="5 of 12")
    app.reschedule_commitment(
        ctx, commitment_id=cid, expected_version=2, due_on=date(2026, 11, 23), reason="parts late"
    )
    app.report_fulfilment(ctx, commitment_id=cid, expected_version=3, evidence="https://f/1.jpg")
    app.dispute_fulfilment(
        ctx,
        commitment_id=cid,
        expected_version=4,
        assembly_id="dialogo-avisadero",
        reason="two still dark",
    )
    app.report_fulfilment(ctx, commitment_id=cid, expected_version=5, evidence="https://f/2.jpg")
    result = app.validate_fulfilment(
        ctx, commitment_id=cid, expected_version=6, assembly_id="dialogo-avisadero"
    )
    assert result.version == 7
    assert get_commitment(app, cid).status is CommitmentStatus.VALIDATED
    assert names(app, Commitment, cid) == [
        "Made",
        "ProgressReported",
        "Rescheduled",
        "FulfilmentReported",
        "Disputed",
        "FulfilmentReported",
        "Validated",
    ]


def test_validation_at_an_unknown_assembly_is_not_found(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    cid = lamps(app, ctx, case_id).id
    app.report_fulfilment(ctx, commitment_id=cid, expected_version=1, evidence="e")
    with pytest.raises(NotFoundError):
        app.validate_fulfilment(ctx, commitment_id=cid, expected_version=2, assembly_id="ghost")


def test_reassign_records_the_new_posts_holder(app: TequioApplication, ctx: CommandContext) -> None:
    case_id = seed(app, ctx)
    app.add_post(ctx, post_id="direccion-obras", title="Director", agency_id="obras")
    app.appoint_to_post(ctx, post_id="direccion-obras", official_name="Laura Gómez")
    cid = lamps(app, ctx, case_id).id
    app.reassign_commitment(
        ctx,
        commitment_id=cid,
        expected_version=1,
        responsible_agency_id="obras",
        post_id="direccion-obras",
        reason="Needs a crane",
    )
    assert app.commitment_agency(ctx, cid) == "obras"
    assert events(app, Commitment, cid)[-1].accountable_official_id == LAURA


def test_reassign_to_a_post_of_another_agency_is_refused(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    cid = lamps(app, ctx, case_id).id
    with pytest.raises(BadInputError) as info:
        app.reassign_commitment(
            ctx,
            commitment_id=cid,
            expected_version=1,
            responsible_agency_id="obras",
            post_id="jefatura-alumbrado",
            reason="r",
        )
    assert info.value.key == "post_not_of_agency"


# -- what comes back from the store ---------------------------------------------------------------


def test_stored_events_come_back_with_enums_and_dates(
    app: TequioApplication,
    ctx: CommandContext,
    settings: Settings,
    db: ConnectionInfo,
    clock: FixedClock,
) -> None:
    case_id = seed(app, ctx)
    triage_and_route(app, ctx, case_id)
    cid = lamps(app, ctx, case_id).id
    app.reschedule_commitment(
        ctx, commitment_id=cid, expected_version=1, due_on=date(2026, 11, 23), reason="r"
    )
    # A second application instance reads only what is in PostgreSQL.
    fresh = build_application(settings, db, clock=clock)
    try:
        commitment = fresh.repository.get(Commitment.id_for(MUN, cid))
        assert commitment.status is CommitmentStatus.OPEN
        assert type(commitment.due_on) is date and commitment.due_on == date(2026, 11, 23)
        assert commitment.agreed_on == MONDAY
        rescheduled = events(fresh, Commitment, cid)[-1]
        assert rescheduled.previous_due_on == FRIDAY
        assert type(rescheduled.previous_due_on) is date

        case = fresh.repository.get(Case.id_for(MUN, case_id))
        assert case.status is CaseStatus.IN_ATTENTION
        assert (case.theme, case.priority) == (Theme.SAFETY, Priority.HIGH)

        table = fresh.repository.get(Table.id_for(MUN, "alumbrado"))
        assert table.kind is TableKind.WORKING_TABLE
        (agency_added,) = events(fresh, Agency, "obras")
        assert agency_added.level is GovernmentLevel.MUNICIPAL
        (held,) = events(fresh, Assembly, "dialogo-avisadero")
        assert (held.kind, held.held_on) == (AssemblyKind.DIALOGUE_FOR_PEACE, MONDAY)
        post = fresh.repository.get(Post.id_for(MUN, "jefatura-alumbrado"))
        assert post.holder_id == JORGE
    finally:
        fresh.close()


# -- security cabinets ----------------------------------------------------------------------


def cabinet_commitment(app: TequioApplication, ctx: CommandContext) -> str:
    """A commitment of Servicios Urbanos agreed at the security cabinet ``gabinete-1``."""
    case_id = seed(app, ctx)
    app.create_table(
        ctx,
        table_id="gabinete-1",
        name="Gabinete zonal",
        kind=TableKind.SECURITY_CABINET,
        member_agency_ids=["servicios-urbanos", "obras"],
    )
    app.triage_case(
        ctx, case_id=case_id, expected_version=1, theme=Theme.SAFETY, priority=Priority.HIGH
    )
    app.route_case(ctx, case_id=case_id, expected_version=2, table_ids=["gabinete-1"])
    return lamps(app, ctx, case_id, table_id="gabinete-1").id


@pytest.mark.parametrize("version", [1, 7])
def test_a_cabinet_commitment_is_not_changed_by_who_may_not_see_it(
    app: TequioApplication, ctx: CommandContext, version: int
) -> None:
    cid = cabinet_commitment(app, ctx)
    staff = replace(ctx, agency_scope="servicios-urbanos", cabinet_scope=frozenset({"otro"}))
    with pytest.raises(NotFoundError) as info:
        app.report_progress(
            staff, commitment_id=cid, expected_version=version, progress=5, note="n"
        )
    # As for an id that does not exist, and before its version is compared: a stale
    # one would tell the version.
    with pytest.raises(NotFoundError) as unknown:
        app.report_progress(
            staff, commitment_id="no-such-commitment", expected_version=1, progress=5, note="n"
        )
    assert info.value.key == unknown.value.key == "not_found"
    assert info.value.message("es-MX") == unknown.value.message("es-MX").replace(
        "no-such-commitment", cid
    )
    assert names(app, Commitment, cid) == ["Made"]


def test_a_cabinet_commitment_is_changed_by_its_cabinets_members(
    app: TequioApplication, ctx: CommandContext
) -> None:
    cid = cabinet_commitment(app, ctx)
    member = replace(ctx, agency_scope="servicios-urbanos", cabinet_scope=frozenset({"gabinete-1"}))
    app.report_progress(member, commitment_id=cid, expected_version=1, progress=5, note="n")
    cabinet_wide = replace(ctx, cabinet_scope=None)
    app.report_progress(cabinet_wide, commitment_id=cid, expected_version=2, progress=9, note="n")
    assert names(app, Commitment, cid) == ["Made", "ProgressReported", "ProgressReported"]


def test_a_working_table_commitment_is_not_a_cabinet_secret(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    triage_and_route(app, ctx, case_id)
    cid = lamps(app, ctx, case_id).id  # at the working table "alumbrado"
    staff = replace(ctx, agency_scope="servicios-urbanos", cabinet_scope=frozenset())
    result = app.report_progress(staff, commitment_id=cid, expected_version=1, progress=5, note="n")
    assert result.version == 2


@pytest.mark.parametrize(
    ("where", "refusal", "key"),
    [
        ({"table_id": "alumbrado"}, RuleViolation, "case_not_routed_to_table"),
        ({}, BadInputError, "commitment_needs_forum"),
    ],
    ids=["table-not-routed", "nowhere"],
)
def test_a_commitment_agreed_at_a_table_not_routed_or_nowhere_is_refused(
    app: TequioApplication,
    ctx: CommandContext,
    where: dict[str, str],
    refusal: type[Exception],
    key: str,
) -> None:
    case_id = seed(app, ctx)
    position = app.recorder.max_notification_id()
    with pytest.raises(refusal) as info:
        app.make_commitment(
            ctx,
            case_id=case_id,
            responsible_agency_id="servicios-urbanos",
            description="Repair 12 lamps",
            due_on=FRIDAY,
            **where,
        )
    assert getattr(info.value, "key", None) == key
    assert app.recorder.max_notification_id() == position
    assert get_case(app, case_id).status is CaseStatus.RAISED


def test_an_assembly_may_agree_on_a_case_just_raised(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = seed(app, ctx)
    made = lamps(app, ctx, case_id, table_id=None, assembly_id="dialogo-avisadero")
    assert get_case(app, case_id).status is CaseStatus.IN_ATTENTION
    assert events(app, Commitment, made.id)[0].assembly_id == "dialogo-avisadero"
