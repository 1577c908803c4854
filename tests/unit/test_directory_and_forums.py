"""Directory (territories, agencies, posts) and forums (tables, assemblies) rules."""

from __future__ import annotations

from datetime import date

import pytest

from cases.directory import Agency, Post, Territory
from cases.errors import BadInputError, RuleViolation
from cases.forums import Assembly, Table
from cases.values import AssemblyKind, GovernmentLevel, TableKind

MUN = "iztapalapa"
ACTOR = "admin:root"


def new_post() -> Post:
    post = Post(
        municipality=MUN,
        public_id="jefatura-alumbrado",
        title="Head of public lighting",
        agency_id="servicios-urbanos",
        actor=ACTOR,
    )
    post.collect_events()
    return post


def new_territory(
    public_id: str = "smt-avisadero", parent_id: str | None = "teotongo"
) -> Territory:
    territory = Territory(
        municipality=MUN,
        public_id=public_id,
        name="San Miguel Teotongo Sección Avisadero",
        kind="unit",
        parent_id=parent_id,
        actor=ACTOR,
    )
    territory.collect_events()
    return territory


def new_table(members: list[str]) -> Table:
    return Table.create(
        municipality=MUN,
        public_id="alumbrado",
        name="Alumbrado y espacio público",
        kind=TableKind.WORKING_TABLE,
        territory_id=None,
        member_agency_ids=members,
        actor=ACTOR,
    )


def hold(attendance: int) -> Assembly:
    return Assembly.hold(
        municipality=MUN,
        public_id="dialogo-avisadero",
        territory_id="smt-avisadero",
        kind=AssemblyKind.DIALOGUE_FOR_PEACE,
        held_on=date(2026, 11, 16),
        attendance=attendance,
        facilitator="Eva",
        actor=ACTOR,
    )


# -- posts -------------------------------------------------------------------------------------


def test_new_post_is_vacant() -> None:
    assert new_post().holder_id is None


def test_first_appointment_has_no_previous_holder() -> None:
    post = new_post()
    post.appoint(official_id="jorge", official_name="Jorge Sánchez", actor=ACTOR)
    (appointed,) = post.collect_events()
    assert type(appointed).__name__ == "HolderAppointed"
    assert appointed.previous_official_id is None  # type: ignore[attr-defined]
    assert post.holder_id == "jorge"


def test_appointment_records_the_previous_holder() -> None:
    post = new_post()
    post.appoint(official_id="jorge", official_name="Jorge Sánchez", actor=ACTOR)
    post.appoint(official_id="laura", official_name="Laura Gómez", actor=ACTOR)
    _, second = post.collect_events()
    assert second.previous_official_id == "jorge"  # type: ignore[attr-defined]
    assert post.holder_id == "laura"


def test_appointing_the_current_holder_again_is_refused() -> None:
    post = new_post()
    post.appoint(official_id="jorge", official_name="Jorge Sánchez", actor=ACTOR)
    post.collect_events()
    with pytest.raises(RuleViolation) as info:
        post.appoint(official_id="jorge", official_name="Jorge Sánchez", actor=ACTOR)
    assert info.value.key == "already_holds_post"
    assert info.value.params == {"name": "Jorge Sánchez", "post_id": "jefatura-alumbrado"}
    assert post.collect_events() == []


def test_a_former_holder_can_be_appointed_again() -> None:
    post = new_post()
    for official in ("jorge", "laura", "jorge"):
        post.appoint(official_id=official, official_name=official.title(), actor=ACTOR)
    assert post.holder_id == "jorge"
    assert len(post.collect_events()) == 3


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_appointing_a_blank_name_is_refused(name: str) -> None:
    post = new_post()
    with pytest.raises(RuleViolation) as info:
        post.appoint(official_id="nobody", official_name=name, actor=ACTOR)
    assert info.value.key == "post_vacant_name"
    assert post.holder_id is None
    assert post.collect_events() == []


# -- territories and agencies -----------------------------------------------------------------


def test_territory_cannot_be_its_own_parent() -> None:
    territory = new_territory()
    with pytest.raises(RuleViolation) as info:
        territory.update(name="X", kind="unit", parent_id="smt-avisadero", actor=ACTOR)
    assert info.value.key == "territory_cycle"
    assert info.value.params == {"id": "smt-avisadero"}
    assert territory.parent_id == "teotongo"
    assert territory.collect_events() == []


@pytest.mark.parametrize("parent_id", ["cabeza-de-juarez", None])
def test_territory_can_move_under_another_parent_or_to_the_top(parent_id: str | None) -> None:
    territory = new_territory()
    territory.update(name="Avisadero", kind="unit", parent_id=parent_id, actor=ACTOR)
    assert territory.parent_id == parent_id
    assert [type(e).__name__ for e in territory.collect_events()] == ["Updated"]


def test_agency_update_records_the_new_level() -> None:
    agency = Agency(
        municipality=MUN, public_id="ssc", name="SSC", level=GovernmentLevel.CITY, actor=ACTOR
    )
    agency.update(
        name="Secretaría de Seguridad Ciudadana", level=GovernmentLevel.STATE, actor=ACTOR
    )
    _, updated = agency.collect_events()
    assert updated.level is GovernmentLevel.STATE  # type: ignore[attr-defined]


# -- tables -------------------------------------------------------------------------------------


def test_table_without_members_is_refused() -> None:
    with pytest.raises(RuleViolation) as info:
        new_table([])
    assert info.value.key == "table_needs_members"


def test_table_members_are_deduplicated_and_sorted() -> None:
    table = new_table(["servicios-urbanos", "obras", "servicios-urbanos"])
    (created,) = table.collect_events()
    assert created.member_agency_ids == ["obras", "servicios-urbanos"]  # type: ignore[attr-defined]
    assert table.member_agency_ids == ["obras", "servicios-urbanos"]


def test_changing_members_to_none_is_refused() -> None:
    table = new_table(["obras"])
    table.collect_events()
    with pytest.raises(RuleViolation) as info:
        table.change_members(member_agency_ids=[], actor=ACTOR)
    assert info.value.key == "table_needs_members"
    assert table.member_agency_ids == ["obras"]
    assert table.collect_events() == []


def test_changing_members_replaces_them() -> None:
    table = new_table(["obras"])
    table.change_members(member_agency_ids=["sacmex", "obras"], actor=ACTOR)
    assert table.member_agency_ids == ["obras", "sacmex"]


@pytest.mark.parametrize(
    ("kind", "is_cabinet"),
    [
        (TableKind.SECURITY_CABINET, True),
        (TableKind.WORKING_TABLE, False),
        (TableKind.TECHNICAL_TABLE, False),
    ],
)
def test_only_a_security_cabinet_is_a_security_cabinet(kind: TableKind, is_cabinet: bool) -> None:
    table = Table.create(
        municipality=MUN,
        public_id="t",
        name="t",
        kind=kind,
        territory_id=None,
        member_agency_ids=["ssc"],
        actor=ACTOR,
    )
    assert table.is_security_cabinet is is_cabinet


def test_session_records_attending_agencies_once_each() -> None:
    table = new_table(["obras", "servicios-urbanos"])
    table.collect_events()
    table.hold_session(
        session_id="s1",
        held_on=date(2026, 11, 17),
        attending_agency_ids=["servicios-urbanos", "obras", "obras"],
        minutes="Agreements: lamps, dump, clean-up day",
        actor=ACTOR,
    )
    (held,) = table.collect_events()
    assert held.attending_agency_ids == ["obras", "servicios-urbanos"]  # type: ignore[attr-defined]
    assert held.held_on == date(2026, 11, 17)  # type: ignore[attr-defined]


def hold_session(table: Table, session_id: str) -> None:
    table.hold_session(
        session_id=session_id,
        held_on=date(2026, 11, 17),
        attending_agency_ids=[],
        minutes=None,
        actor=ACTOR,
    )


def test_a_commitment_may_name_only_a_session_the_table_held() -> None:
    table = new_table(["obras"])
    hold_session(table, "s1")
    table.require_session("s1")
    with pytest.raises(BadInputError) as info:
        table.require_session("s2")
    assert info.value.key == "session_not_of_table"
    assert info.value.params == {"session_id": "s2", "table_id": "alumbrado"}


def test_a_table_snapshot_from_before_sessions_were_listed_takes_any_session() -> None:
    # v1 snapshots do not list the sessions held until then: none is refused for it.
    state = {"member_agency_ids": ["obras"], "kind": TableKind.WORKING_TABLE}
    Table.upcast_v1_v2(state)
    assert state["session_ids"] is None
    table = new_table(["obras"])
    table.session_ids = None
    table.require_session("held-before-the-snapshot")
    hold_session(table, "s9")
    table.require_session("s9")


# -- assemblies ---------------------------------------------------------------------------------


def test_assembly_with_negative_attendance_is_refused() -> None:
    with pytest.raises(BadInputError) as info:
        hold(-1)
    assert info.value.key == "attendance_negative"
    assert info.value.params == {"attendance": -1}


def test_assembly_with_implausible_attendance_is_refused() -> None:
    with pytest.raises(BadInputError) as info:
        hold(2_000_000_000)
    assert info.value.key == "attendance_implausible"


@pytest.mark.parametrize("attendance", [0, 64, 100_000])
def test_assembly_with_zero_or_more_attendance_is_held(attendance: int) -> None:
    (held,) = hold(attendance).collect_events()
    assert type(held).__name__ == "Held"
    assert held.attendance == attendance  # type: ignore[attr-defined]
