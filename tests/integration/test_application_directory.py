"""Directory and forum commands through the application service, on a real PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cases.application import CommandContext, TequioApplication
from cases.directory import Agency, Post, Territory
from cases.errors import BadInputError, ConflictError, NotFoundError, RuleViolation
from cases.forums import Assembly, Table
from cases.ids import official_id_for
from cases.values import AssemblyKind, GovernmentLevel, Priority, TableKind, Theme

MUN = "iztapalapa"


def events(app: TequioApplication, cls: Any, public_id: str, municipality: str = MUN) -> list[Any]:
    return list(app.events.get(cls.id_for(municipality, public_id)))


def seed(app: TequioApplication, ctx: CommandContext) -> None:
    app.add_territory(ctx, territory_id="iztapalapa", name="Iztapalapa", kind="municipality")
    app.add_territory(
        ctx,
        territory_id="teotongo",
        name="Teotongo-Acahualtepec",
        kind="directorate",
        parent_id="iztapalapa",
    )
    app.add_territory(
        ctx,
        territory_id="smt-avisadero",
        name="San Miguel Teotongo Sección Avisadero",
        kind="unit",
        parent_id="teotongo",
    )
    app.add_agency(
        ctx,
        agency_id="servicios-urbanos",
        name="Dirección General de Servicios Urbanos",
        level=GovernmentLevel.MUNICIPAL,
    )
    app.add_agency(
        ctx, agency_id="obras", name="Dirección General de Obras", level=GovernmentLevel.MUNICIPAL
    )


# -- happy paths --------------------------------------------------------------------------------


def test_add_territory_under_a_parent(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    territory = app.repository.get(Territory.id_for(MUN, "smt-avisadero"))
    assert territory.parent_id == "teotongo"
    assert territory.public_id == "smt-avisadero"


def test_add_without_an_id_makes_one(app: TequioApplication, ctx: CommandContext) -> None:
    result = app.add_agency(ctx, name="Colectivo de Planeación", level=GovernmentLevel.COMMUNITY)
    assert len(result.id) == 36
    assert result.version == 1
    assert result.notification_id == app.recorder.max_notification_id()


def test_update_territory_moves_it(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    app.add_territory(ctx, territory_id="cabeza-de-juarez", name="Cabeza de Juárez", kind="dir")
    result = app.update_territory(
        ctx,
        territory_id="smt-avisadero",
        name="Avisadero",
        kind="unit",
        parent_id="cabeza-de-juarez",
    )
    assert result.version == 2
    assert app.repository.get(Territory.id_for(MUN, "smt-avisadero")).parent_id == (
        "cabeza-de-juarez"
    )


def test_territory_cannot_be_moved_under_itself(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    with pytest.raises(RuleViolation) as info:
        app.update_territory(
            ctx, territory_id="teotongo", name="T", kind="directorate", parent_id="teotongo"
        )
    assert info.value.key == "territory_cycle"


def test_territory_cannot_be_moved_under_its_own_descendant(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    before = app.recorder.max_notification_id()
    with pytest.raises(RuleViolation) as info:
        app.update_territory(
            ctx, territory_id="iztapalapa", name="I", kind="municipality", parent_id="smt-avisadero"
        )
    assert info.value.key == "territory_cycle"
    assert info.value.params == {"id": "iztapalapa"}
    assert app.recorder.max_notification_id() == before


def test_add_post_and_appoint_a_holder(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    app.add_post(
        ctx, post_id="jefatura-alumbrado", title="Head of lighting", agency_id="servicios-urbanos"
    )
    result = app.appoint_to_post(ctx, post_id="jefatura-alumbrado", official_name=" Jorge Sánchez ")
    assert (result.id, result.version) == ("jefatura-alumbrado", 2)
    post = app.repository.get(Post.id_for(MUN, "jefatura-alumbrado"))
    assert post.holder_id == official_id_for(MUN, "Jorge Sánchez")
    appointed = events(app, Post, "jefatura-alumbrado")[-1]
    assert appointed.official_name == "Jorge Sánchez"


def test_appointing_the_holder_again_under_another_spelling_is_refused(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    app.add_post(ctx, post_id="p", title="Head of lighting", agency_id="servicios-urbanos")
    app.appoint_to_post(ctx, post_id="p", official_name="Jorge Sánchez")
    with pytest.raises(RuleViolation) as info:
        app.appoint_to_post(ctx, post_id="p", official_name="jorge  sánchez")
    assert info.value.key == "already_holds_post"


def test_appointing_a_blank_name_is_bad_input(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    app.add_post(ctx, post_id="p", title="Head of lighting", agency_id="servicios-urbanos")
    with pytest.raises(BadInputError) as info:
        app.appoint_to_post(ctx, post_id="p", official_name="   ")
    assert info.value.key == "blank"


def test_create_table_with_members(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    result = app.create_table(
        ctx,
        table_id="alumbrado",
        name="Alumbrado y espacio público",
        kind=TableKind.WORKING_TABLE,
        member_agency_ids=["servicios-urbanos", "obras"],
        territory_id="teotongo",
    )
    table = app.repository.get(Table.id_for(MUN, result.id))
    assert table.member_agency_ids == ["obras", "servicios-urbanos"]
    assert table.kind is TableKind.WORKING_TABLE
    assert app.table_kind(ctx, "alumbrado") is TableKind.WORKING_TABLE


def test_create_table_without_members_is_bad_input(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    with pytest.raises(BadInputError) as info:
        app.create_table(ctx, name="Mesa", kind=TableKind.WORKING_TABLE, member_agency_ids=[])
    assert info.value.key == "empty_list"


def test_hold_session_returns_the_session_id(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    app.create_table(
        ctx, table_id="t", name="Mesa", kind=TableKind.WORKING_TABLE, member_agency_ids=["obras"]
    )
    result = app.hold_session(
        ctx, table_id="t", held_on=date(2026, 11, 16), attending_agency_ids=["obras"], minutes="m"
    )
    assert result.id != "t"
    held = events(app, Table, "t")[-1]
    assert held.session_id == result.id
    assert held.held_on == date(2026, 11, 16)


def test_change_table_members(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    app.create_table(
        ctx, table_id="t", name="Mesa", kind=TableKind.WORKING_TABLE, member_agency_ids=["obras"]
    )
    app.change_table_members(
        ctx, table_id="t", member_agency_ids=["servicios-urbanos"], expected_version=1
    )
    assert app.repository.get(Table.id_for(MUN, "t")).member_agency_ids == ["servicios-urbanos"]


def test_hold_assembly(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    result = app.hold_assembly(
        ctx,
        assembly_id="dialogo-avisadero",
        territory_id="smt-avisadero",
        kind=AssemblyKind.DIALOGUE_FOR_PEACE,
        held_on=date(2026, 11, 16),
        attendance=64,
        facilitator="Eva",
    )
    (held,) = events(app, Assembly, result.id)
    assert (held.kind, held.attendance, held.held_on) == (
        AssemblyKind.DIALOGUE_FOR_PEACE,
        64,
        date(2026, 11, 16),
    )


def test_hold_assembly_with_negative_attendance_is_bad_input(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    with pytest.raises(BadInputError) as info:
        app.hold_assembly(
            ctx,
            territory_id="smt-avisadero",
            kind=AssemblyKind.COMMUNITY_ASSEMBLY,
            held_on=date(2026, 11, 16),
            attendance=-1,
        )
    assert info.value.key == "attendance_negative"


# -- not found -------------------------------------------------------------------------------------

NOT_FOUND_CASES = {
    "territory parent": (
        "territory",
        "nowhere",
        lambda app, ctx: app.add_territory(ctx, name="X", kind="unit", parent_id="nowhere"),
    ),
    "territory to update": (
        "territory",
        "nowhere",
        lambda app, ctx: app.update_territory(ctx, territory_id="nowhere", name="X", kind="u"),
    ),
    "agency of a post": (
        "agency",
        "ghost",
        lambda app, ctx: app.add_post(ctx, title="Head", agency_id="ghost"),
    ),
    "agency to update": (
        "agency",
        "ghost",
        lambda app, ctx: app.update_agency(
            ctx, agency_id="ghost", name="X", level=GovernmentLevel.CITY
        ),
    ),
    "post to appoint to": (
        "post",
        "ghost-post",
        lambda app, ctx: app.appoint_to_post(ctx, post_id="ghost-post", official_name="Laura"),
    ),
    "table member agency": (
        "agency",
        "ghost",
        lambda app, ctx: app.create_table(
            ctx, name="Mesa", kind=TableKind.WORKING_TABLE, member_agency_ids=["obras", "ghost"]
        ),
    ),
    "table territory": (
        "territory",
        "nowhere",
        lambda app, ctx: app.create_table(
            ctx,
            name="Mesa",
            kind=TableKind.WORKING_TABLE,
            member_agency_ids=["obras"],
            territory_id="nowhere",
        ),
    ),
    "table of a session": (
        "table",
        "ghost-table",
        lambda app, ctx: app.hold_session(
            ctx, table_id="ghost-table", held_on=date(2026, 11, 16), attending_agency_ids=[]
        ),
    ),
    "assembly territory": (
        "territory",
        "nowhere",
        lambda app, ctx: app.hold_assembly(
            ctx,
            territory_id="nowhere",
            kind=AssemblyKind.COMMUNITY_ASSEMBLY,
            held_on=date(2026, 11, 16),
            attendance=10,
        ),
    ),
    "case territory": (
        "territory",
        "nowhere",
        lambda app, ctx: app.raise_case(
            ctx, territory_id="nowhere", theme=Theme.WATER, title="t", description="d"
        ),
    ),
    "case assembly": (
        "assembly",
        "ghost-assembly",
        lambda app, ctx: app.raise_case(
            ctx,
            territory_id="smt-avisadero",
            theme=Theme.WATER,
            title="t",
            description="d",
            assembly_id="ghost-assembly",
        ),
    ),
    "case to triage": (
        "case",
        "ghost-case",
        lambda app, ctx: app.triage_case(
            ctx,
            case_id="ghost-case",
            expected_version=1,
            theme=Theme.WATER,
            priority=Priority.LOW,
        ),
    ),
}


@pytest.mark.parametrize(
    ("kind", "missing", "command"), NOT_FOUND_CASES.values(), ids=NOT_FOUND_CASES.keys()
)
def test_unknown_ids_are_not_found_and_nothing_is_written(
    app: TequioApplication, ctx: CommandContext, kind: str, missing: str, command: Any
) -> None:
    seed(app, ctx)
    before = app.recorder.max_notification_id()
    with pytest.raises(NotFoundError) as info:
        command(app, ctx)
    assert info.value.params == {"kind": kind, "id": missing}
    assert info.value.code == "NOT_FOUND"
    assert app.recorder.max_notification_id() == before


# -- already exists --------------------------------------------------------------------------------

ADD_TWICE = {
    "territory": lambda app, ctx: app.add_territory(
        ctx, territory_id="teotongo", name="Otra", kind="directorate"
    ),
    "agency": lambda app, ctx: app.add_agency(
        ctx, agency_id="obras", name="Obras bis", level=GovernmentLevel.MUNICIPAL
    ),
    "post": lambda app, ctx: app.add_post(ctx, post_id="p", title="Otro", agency_id="obras"),
    "table": lambda app, ctx: app.create_table(
        ctx, table_id="t", name="Otra", kind=TableKind.WORKING_TABLE, member_agency_ids=["obras"]
    ),
    "assembly": lambda app, ctx: app.hold_assembly(
        ctx,
        assembly_id="a",
        territory_id="teotongo",
        kind=AssemblyKind.COMMUNITY_ASSEMBLY,
        held_on=date(2026, 11, 14),
        attendance=5,
    ),
}


@pytest.mark.parametrize("kind", ADD_TWICE.keys())
def test_adding_an_existing_id_again_is_a_conflict(
    app: TequioApplication, ctx: CommandContext, kind: str
) -> None:
    seed(app, ctx)
    app.add_post(ctx, post_id="p", title="Head", agency_id="obras")
    app.create_table(
        ctx, table_id="t", name="Mesa", kind=TableKind.WORKING_TABLE, member_agency_ids=["obras"]
    )
    app.hold_assembly(
        ctx,
        assembly_id="a",
        territory_id="teotongo",
        kind=AssemblyKind.COMMUNITY_ASSEMBLY,
        held_on=date(2026, 11, 16),
        attendance=30,
    )
    before = app.recorder.max_notification_id()
    with pytest.raises(ConflictError) as info:
        ADD_TWICE[kind](app, ctx)
    assert info.value.key == "already_exists"
    assert info.value.params["kind"] == kind
    assert app.recorder.max_notification_id() == before


def test_malformed_catalogue_code_is_bad_input(app: TequioApplication, ctx: CommandContext) -> None:
    with pytest.raises(BadInputError) as info:
        app.add_agency(ctx, agency_id="no spaces", name="X", level=GovernmentLevel.CITY)
    assert info.value.key == "bad_id"
    assert app.recorder.max_notification_id() in (None, 0)


# -- tenants -------------------------------------------------------------------------------------


def test_an_id_of_one_municipality_is_not_found_in_another(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    coyoacan = CommandContext(actor="coordinator:rosa", municipality="coyoacan")
    with pytest.raises(NotFoundError):
        app.add_post(coyoacan, title="Head", agency_id="obras")
    with pytest.raises(NotFoundError):
        app.add_territory(coyoacan, name="X", kind="unit", parent_id="teotongo")


def test_the_same_catalogue_code_can_exist_in_two_municipalities(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    coyoacan = CommandContext(actor="coordinator:rosa", municipality="coyoacan")
    app.add_agency(
        coyoacan, agency_id="obras", name="Obras Coyoacán", level=GovernmentLevel.MUNICIPAL
    )
    assert events(app, Agency, "obras", "coyoacan")[0].name == "Obras Coyoacán"
    assert events(app, Agency, "obras")[0].name == "Dirección General de Obras"
