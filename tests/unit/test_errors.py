"""Every refusal reads well in English and in Spanish, with the parameters the code passes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
from domain_builders import new_case, new_commitment

from cases import errors
from cases.case import Case
from cases.commitment import Commitment
from cases.directory import Agency, Post, Territory
from cases.errors import (
    MESSAGES,
    BadInputError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RuleViolation,
    TequioError,
)
from cases.forums import Assembly, Table
from cases.values import CaseStatus, CommitmentStatus, Priority, Theme

# An assembly of the case's community, held after any fulfilment these tests report.
JUDGED = {"held_on": date(2099, 1, 1), "of_the_community": True}

# The parameters each key is raised with in src/cases (one realistic set per key).
PARAMS: dict[str, dict[str, object]] = {
    "not_found": {"kind": "commitment", "id": "lamps"},
    "stale_version": {"kind": "commitment", "expected": 1, "actual": 2},
    "concurrent_write": {"kind": "case"},
    "no_reporter": {},
    "location_half": {"field": "location"},
    "location_range": {"field": "location.lat", "max": 90},
    "idempotency_key_reused": {"key": "retry-1"},
    "already_exists": {"kind": "agency", "id": "obras"},
    "commitment_not_open": {"status": "CANCELLED", "action": "report progress"},
    "validation_needs_fulfilment": {"status": "OPEN", "action": "validated"},
    "due_before_agreed": {"due_on": "2026-11-15", "agreed_on": "2026-11-16"},
    "same_due_date": {"due_on": "2026-11-20"},
    "control_characters": {"field": "title"},
    "reported_before_agreed": {"reported_on": "2026-11-01", "agreed_on": "2026-11-17"},
    "progress_out_of_range": {"progress": 101},
    "same_responsible": {},
    "assembly_of_another_community": {"assembly_id": "asamblea-quetzalcoatl"},
    "assembly_before_fulfilment": {
        "assembly_id": "asamblea-1",
        "held_on": "2026-11-01",
        "fulfilled_on": "2026-11-20",
    },
    "post_not_of_agency": {"post_id": "p", "post_agency": "obras", "agency_id": "ssc"},
    "session_not_of_table": {"session_id": "s-1", "table_id": "mesa-alumbrado"},
    "session_needs_table": {"session_id": "s-1"},
    "bad_email": {"field": "reporter.email"},
    "bad_expected_version": {"expected": -5},
    "date_in_the_future": {"field": "heldOn", "date": "2027-01-01", "today": "2026-11-21"},
    "too_many_items": {"field": "tableIds", "max": 100},
    "commitment_needs_forum": {},
    "case_not_routed_to_table": {"table_id": "mesa-salud"},
    "date_out_of_range": {
        "field": "dueOn",
        "date": "0001-01-02",
        "first": "2000-01-01",
        "last": "2099-12-31",
    },
    "case_not_committable": {"status": "CLOSED"},
    "case_transition": {"status": "MERGED", "action": "triaged"},
    "case_not_triaged": {},
    "merge_into_itself": {},
    "merge_into_merged": {"id": "c2"},
    "territory_cycle": {"id": "smt-avisadero"},
    "post_vacant_name": {},
    "already_holds_post": {"name": "Jorge Sánchez", "post_id": "jefatura-alumbrado"},
    "table_needs_members": {},
    "attendance_negative": {"attendance": -3},
    "attendance_implausible": {"attendance": 2_000_000_000, "max": 100_000},
    "not_a_member": {"agency_id": "obras", "table_id": "alumbrado"},
    "not_your_agency": {"responsible": "servicios-urbanos", "agency_id": "obras"},
    "blank": {"field": "title"},
    "too_long": {"field": "title", "max": 200},
    "bad_id": {"value": "no spaces", "field": "id"},
    "empty_list": {"field": "tableIds"},
}


def test_every_message_key_has_known_parameters() -> None:
    assert set(PARAMS) == set(MESSAGES)


@pytest.mark.parametrize("key", sorted(MESSAGES))
@pytest.mark.parametrize("language", ["en", "es", "es-MX", "en-US"])
def test_every_message_formats_with_the_parameters_the_code_passes(key: str, language: str) -> None:
    text = TequioError(key, **PARAMS[key]).message(language)
    assert text
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_a_distinct_spanish_text(key: str) -> None:
    error = TequioError(key, **PARAMS[key])
    assert error.message("es-MX") != error.message("en")


@pytest.mark.parametrize("language", ["es", "es-MX", "ES-mx", "es-419"])
def test_any_spanish_language_tag_gives_spanish(language: str) -> None:
    error = NotFoundError("case", "x")
    assert error.message(language) == "No existe un caso con el identificador 'x'."


@pytest.mark.parametrize("language", ["en", "en-US", "fr-FR", ""])
def test_other_languages_fall_back_to_english(language: str) -> None:
    assert NotFoundError("table", "t1").message(language) == "No table with id 't1' exists."


def test_the_exception_text_is_the_english_message() -> None:
    error = BadInputError("progress_out_of_range", progress=120)
    assert str(error) == "Progress must be a whole percentage from 0 to 100; got 120."


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFoundError("case", "x"), "NOT_FOUND"),
        (ConflictError("stale_version", kind="case", expected=1, actual=2), "CONFLICT"),
        (RuleViolation("case_not_triaged"), "CONFLICT"),
        (BadInputError("blank", field="title"), "BAD_USER_INPUT"),
        (ForbiddenError("not_your_agency", responsible="a", agency_id="b"), "FORBIDDEN"),
    ],
)
def test_error_classes_carry_the_contract_codes(error: TequioError, code: str) -> None:
    assert error.code == code


@pytest.mark.parametrize("aggregate", [Case, Commitment, Territory, Agency, Post, Table, Assembly])
def test_every_kind_that_can_be_missing_has_a_spanish_name(aggregate: type) -> None:
    kind = aggregate.KIND  # type: ignore[attr-defined]
    assert kind in errors.KIND_ES
    assert errors.KIND_ES[kind] in NotFoundError(kind, "x").message("es-MX")


@pytest.mark.parametrize("status", [*CaseStatus, *CommitmentStatus])
def test_every_status_has_a_spanish_name(status: CaseStatus | CommitmentStatus) -> None:
    assert status.value in errors.STATUS_ES


# -- real refusals from real commands -------------------------------------------------------------


def _commitment_refusals() -> Iterator[Callable[[], None]]:
    def in_state(final: str) -> Commitment:
        c = new_commitment()
        if final in ("FULFILLED", "VALIDATED"):
            c.report_fulfilment(evidence="e", actor="a")
        if final == "VALIDATED":
            c.validate(**JUDGED, assembly_id="x", actor="a")
        if final == "CANCELLED":
            c.cancel(reason="r", actor="a")
        return c

    for final in ("FULFILLED", "VALIDATED", "CANCELLED"):
        yield lambda f=final: in_state(f).report_progress(progress=5, note="n", actor="a")
        yield lambda f=final: in_state(f).reschedule(
            due_on=date(2026, 12, 1), reason="r", actor="a"
        )
        yield lambda f=final: in_state(f).reassign(
            responsible_agency_id="obras",
            post_id=None,
            accountable_official_id=None,
            reason="r",
            actor="a",
        )
        yield lambda f=final: in_state(f).report_fulfilment(evidence="e", actor="a")
    for final in ("VALIDATED", "CANCELLED"):
        yield lambda f=final: in_state(f).cancel(reason="r", actor="a")
    for final in ("OPEN", "VALIDATED", "CANCELLED"):
        yield lambda f=final: in_state(f).validate(**JUDGED, assembly_id="x", actor="a")
        yield lambda f=final: in_state(f).dispute(**JUDGED, assembly_id="x", reason="r", actor="a")
    yield lambda: new_commitment().report_progress(progress=101, note="n", actor="a")
    yield lambda: new_commitment().reschedule(due_on=date(2026, 11, 20), reason="r", actor="a")
    yield lambda: new_commitment().reschedule(due_on=date(2026, 11, 1), reason="r", actor="a")
    yield lambda: new_commitment(due_on=date(2026, 11, 1))
    yield lambda: new_commitment().reassign(
        responsible_agency_id="servicios-urbanos",
        post_id="jefatura-alumbrado",
        accountable_official_id=None,
        reason="r",
        actor="a",
    )


def _case_refusals() -> Iterator[Callable[[], None]]:
    def merged() -> Case:
        c = new_case()
        c.merge_into(target_id="other", actor="a")
        return c

    def resolved() -> Case:
        c = new_case()
        c.triage(theme=Theme.SAFETY, priority=Priority.HIGH, actor="a")
        c.resolve(summary="s", actor="a")
        return c

    yield lambda: new_case().route(table_ids=["t"], actor="a")
    yield lambda: merged().triage(theme=Theme.SAFETY, priority=Priority.LOW, actor="a")
    yield lambda: merged().route(table_ids=["t"], actor="a")
    yield lambda: merged().resolve(summary="s", actor="a")
    yield lambda: merged().reopen(reason="r", actor="a")
    yield lambda: merged().merge_into(target_id="x", actor="a")
    yield lambda: merged().decline(reason="r", referred_to=None, actor="a")
    yield lambda: merged().start_attention(commitment_id="c", actor="a")
    yield lambda: new_case().close(assembly_id=None, actor="a")
    yield lambda: resolved().resolve(summary="s", actor="a")


REFUSALS = [*_commitment_refusals(), *_case_refusals()]


def _raised(command: Callable[[], None]) -> TequioError:
    with pytest.raises(TequioError) as info:
        command()
    return info.value


@pytest.mark.parametrize("command", REFUSALS)
def test_real_refusals_read_fully_in_spanish_and_english(command: Callable[[], None]) -> None:
    error = _raised(command)
    english, spanish = error.message("en"), error.message("es-MX")
    assert "{" not in english and "{" not in spanish
    if "status" in error.params:
        assert error.params["status"] in errors.STATUS_ES
        assert errors.STATUS_ES[error.params["status"]] in spanish
        assert error.params["status"] in english
    if "action" in error.params:
        # An untranslated action would leak English into the Spanish message.
        assert error.params["action"] in errors.ACTION_ES
        assert errors.ACTION_ES[error.params["action"]] in spanish


def test_spanish_refusal_of_progress_on_a_cancelled_commitment_reads_naturally() -> None:
    c = new_commitment()
    c.cancel(reason="r", actor="a")
    error = _raised(lambda: c.report_progress(progress=5, note="n", actor="a"))
    assert error.message("es-MX") == "Un acuerdo en estado cancelado no admite reportar avance."
    assert error.message("en") == "A commitment that is CANCELLED cannot report progress."


def test_spanish_refusal_of_triage_on_a_merged_case_reads_naturally() -> None:
    c = new_case()
    c.merge_into(target_id="other", actor="a")
    error = _raised(lambda: c.triage(theme=Theme.SAFETY, priority=Priority.LOW, actor="a"))
    assert error.message("es-MX") == "Un caso en estado fusionado no puede ser clasificado."


@pytest.mark.parametrize(
    ("kind", "english"),
    [
        ("agency", "An agency with id 'x' already exists."),
        ("assembly", "An assembly with id 'x' already exists."),
        ("table", "A table with id 'x' already exists."),
    ],
)
def test_the_english_article_agrees_with_the_kind(kind: str, english: str) -> None:
    assert ConflictError("already_exists", kind=kind, id="x").message("en") == english


def test_a_long_id_sent_by_the_caller_is_quoted_back_short() -> None:
    error = NotFoundError("case", "x" * 100_000)
    for language in ("en", "es-MX"):
        message = error.message(language)
        assert len(message) < 200
        assert "x" * 100 + "…" in message
    assert error.params["id"] == "x" * 100_000  # kept whole for the code that reads it
