"""Consistency: stale writes, lost races, idempotency keys, agency scope and tenants."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from cases.application import CommandContext, CommandResult, TequioApplication
from cases.case import Case
from cases.commitment import Commitment
from cases.errors import BadInputError, ConflictError, ForbiddenError, NotFoundError
from cases.values import (
    AssemblyKind,
    CommitmentStatus,
    GovernmentLevel,
    Priority,
    Theme,
)
from tequio.application import build_application

MUN = "iztapalapa"
FRIDAY = date(2026, 11, 20)


def stored(app: TequioApplication, cls: Any, public_id: str) -> list[Any]:
    return list(app.events.get(cls.id_for(MUN, public_id)))


def position(app: TequioApplication) -> int:
    return app.recorder.max_notification_id() or 0


def seed(app: TequioApplication, ctx: CommandContext) -> tuple[str, str]:
    """Case (a) and the lamp commitment of Servicios Urbanos; returns (case id, commitment id)."""
    app.add_territory(ctx, territory_id="smt-avisadero", name="Sección Avisadero", kind="unit")
    app.add_agency(
        ctx,
        agency_id="servicios-urbanos",
        name="Servicios Urbanos",
        level=GovernmentLevel.MUNICIPAL,
    )
    app.add_agency(ctx, agency_id="obras", name="Obras", level=GovernmentLevel.MUNICIPAL)
    app.hold_assembly(
        ctx,
        assembly_id="asamblea-sabado",
        territory_id="smt-avisadero",
        kind=AssemblyKind.COMMUNITY_ASSEMBLY,
        held_on=date(2026, 11, 14),
        attendance=80,
    )
    case_id = app.raise_case(
        ctx,
        territory_id="smt-avisadero",
        theme=Theme.SAFETY,
        title="Dark stretch of Calle Camino Real",
        description="Two women were assaulted there.",
    ).id
    commitment_id = app.make_commitment(
        ctx,
        case_id=case_id,
        responsible_agency_id="servicios-urbanos",
        description="Repair 12 lamps",
        due_on=FRIDAY,
        assembly_id="asamblea-sabado",
    ).id
    return case_id, commitment_id


def a_case(theme: Theme, title: str, **more: Any) -> dict[str, Any]:
    """``raise_case`` arguments for a case in Sección Avisadero."""
    return {
        "territory_id": "smt-avisadero",
        "theme": theme,
        "title": title,
        "description": "Reported at the assembly",
        **more,
    }


def keyed(ctx: CommandContext, key: str = "req-0001", actor: str | None = None) -> CommandContext:
    return replace(ctx, idempotency_key=key, actor=actor or ctx.actor)


# -- stale writes ---------------------------------------------------------------------------------


def test_stale_progress_report_is_refused_with_conflict(
    app: TequioApplication, ctx: CommandContext
) -> None:
    _, cid = seed(app, ctx)
    app.report_progress(ctx, commitment_id=cid, expected_version=1, progress=40, note="5 of 12")
    before, history = position(app), stored(app, Commitment, cid)

    with pytest.raises(ConflictError) as info:
        app.report_progress(ctx, commitment_id=cid, expected_version=1, progress=10, note="old")

    assert info.value.key == "stale_version"
    assert info.value.params == {"kind": "commitment", "expected": 1, "actual": 2}
    assert position(app) == before
    assert stored(app, Commitment, cid) == history


def test_stale_case_triage_is_refused_and_nothing_is_overwritten(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id, _ = seed(app, ctx)  # raised (1) and put in attention (2)
    before, history = position(app), stored(app, Case, case_id)
    with pytest.raises(ConflictError) as info:
        app.triage_case(
            ctx, case_id=case_id, expected_version=1, theme=Theme.WATER, priority=Priority.LOW
        )
    assert info.value.key == "stale_version"
    assert (position(app), stored(app, Case, case_id)) == (before, history)
    assert app.repository.get(Case.id_for(MUN, case_id)).theme is Theme.SAFETY


def test_version_from_the_future_is_also_stale(app: TequioApplication, ctx: CommandContext) -> None:
    _, cid = seed(app, ctx)
    with pytest.raises(ConflictError) as info:
        app.cancel_commitment(ctx, commitment_id=cid, expected_version=7, reason="r")
    assert info.value.params["actual"] == 1


def test_current_version_is_accepted_and_returned_incremented(
    app: TequioApplication, ctx: CommandContext
) -> None:
    _, cid = seed(app, ctx)
    result = app.report_progress(ctx, commitment_id=cid, expected_version=1, progress=5, note="n")
    assert result.version == 2
    assert result.notification_id == position(app)


# -- lost races -----------------------------------------------------------------------------------


def _race(app: TequioApplication, monkeypatch: pytest.MonkeyPatch, competitor: Any) -> None:
    """Makes ``competitor`` commit between the next command's checks and its save."""
    original = app.save

    def save_after_competitor(*aggregates: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(app, "save", original)
        competitor()
        return original(*aggregates, **kwargs)

    monkeypatch.setattr(app, "save", save_after_competitor)


def test_write_that_loses_a_race_is_a_conflict_and_leaves_nothing(
    app: TequioApplication, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cid = seed(app, ctx)
    other = CommandContext(actor="staff:pedro", municipality=MUN)
    _race(
        app,
        monkeypatch,
        lambda: app.report_progress(
            other, commitment_id=cid, expected_version=1, progress=20, note="theirs"
        ),
    )
    before = position(app)
    mine = keyed(ctx, "race-1")

    with pytest.raises(ConflictError) as info:
        app.report_progress(mine, commitment_id=cid, expected_version=1, progress=40, note="mine")

    assert info.value.key == "concurrent_write"
    assert position(app) == before + 1  # the competitor's event only
    assert [e.note for e in stored(app, Commitment, cid)[1:]] == ["theirs"]
    # The loser's receipt was not kept either: retrying the key decides afresh.
    with pytest.raises(ConflictError) as retry:
        app.report_progress(mine, commitment_id=cid, expected_version=1, progress=40, note="mine")
    assert retry.value.key == "stale_version"


def test_retry_that_loses_a_race_to_itself_gets_the_first_result(
    app: TequioApplication, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cid = seed(app, ctx)
    mine = keyed(ctx, "retry-race")
    first: list[CommandResult] = []

    def same_request_again() -> None:
        first.append(
            app.report_progress(mine, commitment_id=cid, expected_version=1, progress=40, note="n")
        )

    _race(app, monkeypatch, same_request_again)
    result = app.report_progress(mine, commitment_id=cid, expected_version=1, progress=40, note="n")
    assert result.replayed
    assert (result.id, result.version) == (first[0].id, first[0].version) == (cid, 2)
    assert len(stored(app, Commitment, cid)) == 2


# -- idempotency ----------------------------------------------------------------------------------


def test_same_key_and_same_command_returns_the_first_result_and_writes_nothing(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    k = keyed(ctx)
    kwargs = a_case(Theme.ENVIRONMENT, "Clandestine dump", description="At the market corner")
    first = app.raise_case(k, **kwargs)
    before = position(app)
    again = app.raise_case(k, **kwargs)
    assert (again.id, again.version, again.replayed) == (first.id, first.version, True)
    assert not first.replayed
    assert position(app) == before


def test_retry_returns_the_first_version_even_after_later_changes(
    app: TequioApplication, ctx: CommandContext
) -> None:
    _, cid = seed(app, ctx)
    k = keyed(ctx)
    first = app.report_progress(k, commitment_id=cid, expected_version=1, progress=40, note="n")
    app.report_progress(ctx, commitment_id=cid, expected_version=2, progress=60, note="later")
    again = app.report_progress(k, commitment_id=cid, expected_version=1, progress=40, note="n")
    assert (again.version, again.replayed) == (first.version, True) == (2, True)
    assert len(stored(app, Commitment, cid)) == 3


def test_retry_after_the_commitment_moved_to_another_agency_gets_the_first_result(
    app: TequioApplication, ctx: CommandContext
) -> None:
    _, cid = seed(app, ctx)
    lucia = keyed(replace(ctx, actor="staff:lucia", agency_scope="servicios-urbanos"))
    first = app.report_progress(lucia, commitment_id=cid, expected_version=1, progress=40, note="n")
    app.reassign_commitment(
        ctx, commitment_id=cid, expected_version=2, responsible_agency_id="obras", reason="r"
    )
    # Decided afresh, the retry would now be refused (not her agency's any more).
    again = app.report_progress(lucia, commitment_id=cid, expected_version=1, progress=40, note="n")
    assert (again.id, again.version, again.replayed) == (cid, first.version, True)
    assert len(stored(app, Commitment, cid)) == 3


def test_retried_reimport_that_changes_nothing_is_still_reported_as_a_replay(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    k = keyed(ctx, "import-7")
    kwargs = a_case(Theme.WATER, "Leak on Calle 5", external_id="311-000123")
    first = app.raise_case(k, **kwargs)
    before = position(app)
    again = app.raise_case(k, **kwargs)
    assert (again.id, again.version, again.replayed) == (first.id, first.version, True)
    assert position(app) == before


def test_retried_raise_with_a_reporter_seals_no_second_contact(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    k = keyed(ctx, "raise-with-contact")
    kwargs = a_case(
        Theme.SAFETY, "Broken lamp", reporter={"name": "Graciela", "phone": "5512345678"}
    )
    first = app.raise_case(k, **kwargs)
    keys_before = _vault_keys(app)
    again = app.raise_case(k, **kwargs)
    assert (again.id, again.replayed) == (first.id, True)
    assert _vault_keys(app) == keys_before


def _vault_keys(app: TequioApplication) -> int:
    with app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
        curs.execute("SELECT count(*) AS n FROM tequio_reporter_keys")
        return int(curs.fetchone()["n"])


def test_a_cached_aggregate_sees_what_another_process_wrote(
    app: TequioApplication, ctx: CommandContext, settings: Any, db: Any, clock: Any
) -> None:
    _, cid = seed(app, ctx)
    app.report_progress(ctx, commitment_id=cid, expected_version=1, progress=10, note="here")
    other = build_application(settings, db, clock=clock)  # another API process
    try:
        other.report_progress(ctx, commitment_id=cid, expected_version=2, progress=20, note="there")
    finally:
        other.close()
    # This process holds version 2 in its cache; the store has version 3.
    with pytest.raises(ConflictError) as info:
        app.report_progress(ctx, commitment_id=cid, expected_version=2, progress=30, note="old")
    assert info.value.params["actual"] == 3
    result = app.report_progress(ctx, commitment_id=cid, expected_version=3, progress=30, note="n")
    assert result.version == 4


def test_receipt_is_written_in_the_same_transaction_as_the_change(
    app: TequioApplication, ctx: CommandContext
) -> None:
    _, cid = seed(app, ctx)
    before = position(app)
    result = app.report_progress(
        keyed(ctx), commitment_id=cid, expected_version=1, progress=40, note="n"
    )
    assert position(app) == before + 2  # the change and its receipt
    assert result.notification_id == before + 2
    notifications = app.recorder.select_notifications(
        start=before, limit=10, inclusive_of_start=False
    )
    assert sorted(n.topic for n in notifications) == [
        "cases.commitment:Commitment.ProgressReported",
        "cases.receipts:IdempotencyReceipt.Recorded",
    ]


@pytest.mark.parametrize(
    "second",
    ["different params", "different command"],
)
def test_same_key_for_a_different_request_is_a_conflict_and_writes_nothing(
    app: TequioApplication, ctx: CommandContext, second: str
) -> None:
    _, cid = seed(app, ctx)
    k = keyed(ctx, "req-42")
    app.report_progress(k, commitment_id=cid, expected_version=1, progress=40, note="n")
    before, history = position(app), stored(app, Commitment, cid)

    with pytest.raises(ConflictError) as info:
        if second == "different params":
            app.report_progress(k, commitment_id=cid, expected_version=2, progress=60, note="n")
        else:
            app.cancel_commitment(k, commitment_id=cid, expected_version=2, reason="r")

    assert info.value.key == "idempotency_key_reused"
    assert info.value.params == {"key": "req-42"}
    assert "req-42" in info.value.message("es-MX")
    assert (position(app), stored(app, Commitment, cid)) == (before, history)


def test_same_key_from_two_actors_is_two_receipts(
    app: TequioApplication, ctx: CommandContext
) -> None:
    seed(app, ctx)
    kwargs = a_case(Theme.WATER, "No water for nine days", description="Three streets")
    rosa = app.raise_case(keyed(ctx, "same-key", actor="coordinator:rosa"), **kwargs)
    eva = app.raise_case(keyed(ctx, "same-key", actor="facilitator:eva"), **kwargs)
    assert rosa.id != eva.id
    assert not rosa.replayed and not eva.replayed


def test_same_key_from_two_actors_with_different_commands_is_no_conflict(
    app: TequioApplication, ctx: CommandContext
) -> None:
    _, cid = seed(app, ctx)
    app.report_progress(
        keyed(ctx, "k", actor="staff:lucia"),
        commitment_id=cid,
        expected_version=1,
        progress=10,
        note="n",
    )
    result = app.cancel_commitment(
        keyed(ctx, "k", actor="secretary:ana"), commitment_id=cid, expected_version=2, reason="r"
    )
    assert not result.replayed
    assert app.repository.get(Commitment.id_for(MUN, cid)).status is CommitmentStatus.CANCELLED


def test_refused_command_keeps_no_receipt_so_a_corrected_retry_is_not_a_conflict(
    app: TequioApplication, ctx: CommandContext
) -> None:
    _, cid = seed(app, ctx)
    k = keyed(ctx)
    with pytest.raises(ConflictError):
        app.report_progress(k, commitment_id=cid, expected_version=9, progress=40, note="n")
    with pytest.raises(ConflictError) as info:
        app.report_progress(k, commitment_id=cid, expected_version=9, progress=40, note="n")
    assert info.value.key == "stale_version"  # decided again, not replayed


@pytest.mark.parametrize("key", ["", "   ", "x" * 201])
def test_blank_or_huge_idempotency_key_is_bad_input(
    app: TequioApplication, ctx: CommandContext, key: str
) -> None:
    seed(app, ctx)
    before = position(app)
    with pytest.raises(BadInputError) as info:
        app.add_agency(keyed(ctx, key), name="X", level=GovernmentLevel.CITY)
    assert info.value.params["field"] == "Idempotency-Key"
    assert position(app) == before


# -- agency scope ---------------------------------------------------------------------------------


SCOPED_COMMANDS = {
    "report progress": lambda app, c, cid: app.report_progress(
        c, commitment_id=cid, expected_version=1, progress=40, note="n"
    ),
    "reschedule": lambda app, c, cid: app.reschedule_commitment(
        c, commitment_id=cid, expected_version=1, due_on=date(2026, 11, 23), reason="r"
    ),
    "report fulfilment": lambda app, c, cid: app.report_fulfilment(
        c, commitment_id=cid, expected_version=1, evidence="e"
    ),
    "cancel": lambda app, c, cid: app.cancel_commitment(
        c, commitment_id=cid, expected_version=1, reason="r"
    ),
    "reassign": lambda app, c, cid: app.reassign_commitment(
        c, commitment_id=cid, expected_version=1, responsible_agency_id="obras", reason="r"
    ),
}


def test_staff_of_another_agency_are_forbidden_before_being_told_of_a_stale_version(
    app: TequioApplication, ctx: CommandContext
) -> None:
    _, cid = seed(app, ctx)
    staff = CommandContext(
        actor="staff:servicios-urbanos:ana", municipality=MUN, agency_scope="servicios-urbanos"
    )
    app.report_progress(staff, commitment_id=cid, expected_version=1, progress=10, note="n")
    obras = CommandContext(actor="staff:obras:memo", municipality=MUN, agency_scope="obras")

    with pytest.raises(ForbiddenError) as info:
        app.report_progress(obras, commitment_id=cid, expected_version=1, progress=20, note="n")

    assert info.value.key == "not_your_agency"


@pytest.mark.parametrize("command", SCOPED_COMMANDS.keys())
def test_staff_of_another_agency_cannot_change_a_commitment(
    app: TequioApplication, ctx: CommandContext, command: str
) -> None:
    _, cid = seed(app, ctx)
    obras = CommandContext(actor="staff:obras:memo", municipality=MUN, agency_scope="obras")
    before, history = position(app), stored(app, Commitment, cid)

    with pytest.raises(ForbiddenError) as info:
        SCOPED_COMMANDS[command](app, obras, cid)

    assert info.value.key == "not_your_agency"
    assert info.value.params == {"agency_id": "obras", "responsible": "servicios-urbanos"}
    assert (position(app), stored(app, Commitment, cid)) == (before, history)


@pytest.mark.parametrize("command", SCOPED_COMMANDS.keys())
def test_staff_of_the_responsible_agency_can_change_its_commitment(
    app: TequioApplication, ctx: CommandContext, command: str
) -> None:
    _, cid = seed(app, ctx)
    staff = CommandContext(
        actor="staff:su:lucia", municipality=MUN, agency_scope="servicios-urbanos"
    )
    result = SCOPED_COMMANDS[command](app, staff, cid)
    assert result.version == 2
    assert stored(app, Commitment, cid)[-1].actor == "staff:su:lucia"


def test_forbidden_request_keeps_no_receipt(app: TequioApplication, ctx: CommandContext) -> None:
    _, cid = seed(app, ctx)
    obras = CommandContext(
        actor="staff:obras:memo", municipality=MUN, agency_scope="obras", idempotency_key="k"
    )
    for _ in range(2):
        with pytest.raises(ForbiddenError):
            SCOPED_COMMANDS["report progress"](app, obras, cid)


# -- tenants --------------------------------------------------------------------------------------


def test_case_and_commitment_of_one_municipality_are_not_found_in_another(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id, cid = seed(app, ctx)
    coyoacan = CommandContext(actor=ctx.actor, municipality="coyoacan")
    before = position(app)
    with pytest.raises(NotFoundError) as case_info:
        app.triage_case(
            coyoacan, case_id=case_id, expected_version=2, theme=Theme.WATER, priority=Priority.LOW
        )
    with pytest.raises(NotFoundError) as commitment_info:
        app.report_progress(coyoacan, commitment_id=cid, expected_version=1, progress=1, note="n")
    assert case_info.value.params == {"kind": "case", "id": case_id}
    assert commitment_info.value.params == {"kind": "commitment", "id": cid}
    assert position(app) == before


def test_idempotency_keys_are_per_municipality(app: TequioApplication, ctx: CommandContext) -> None:
    seed(app, ctx)
    app.add_agency(keyed(ctx, "k"), agency_id="ssc", name="SSC", level=GovernmentLevel.CITY)
    coyoacan = replace(keyed(ctx, "k"), municipality="coyoacan")
    result = app.add_agency(coyoacan, agency_id="ssc", name="SSC", level=GovernmentLevel.CITY)
    assert not result.replayed
