"""Reporters' contact: sealed in the events, disclosed on record, erased by destroying its key."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import psycopg
import pytest
from eventsourcing.cryptography import AESCipher
from pydantic import SecretStr

from cases.application import CommandContext, TequioApplication
from cases.case import Case
from cases.clock import FixedClock
from cases.errors import RuleViolation
from cases.stored_events_check import StoredEventsUnreadable
from cases.values import Theme
from tequio.application import build_application
from tequio.database import ConnectionInfo
from tequio.settings import Settings

MUN = "iztapalapa"
CONTACT = {"name": "Guadalupe Reyes Tapia", "phone": "55 1234 9876", "email": "lupe@example.mx"}


def a_case(app: TequioApplication, ctx: CommandContext, **kw: object) -> str:
    if app.repository.event_store.recorder.max_notification_id() in (None, 0):
        setup = CommandContext("admin:setup", MUN)
        app.add_territory(setup, territory_id="smt", name="San Miguel Teotongo", kind="colonia")
    args: dict[str, object] = {
        "territory_id": "smt",
        "theme": Theme.SAFETY,
        "title": "Tramo oscuro en Camino Real",
        "description": "Sin luminarias desde hace un mes.",
        "reporter": dict(CONTACT),
    }
    args.update(kw)
    return app.raise_case(ctx, **args).id  # type: ignore[arg-type]


def stored_event_bytes(db: ConnectionInfo) -> bytes:
    with psycopg.connect(db.url()) as conn:
        rows = conn.execute("select state from tequio_events order by notification_id").fetchall()
    return b"\n".join(bytes(r[0]) for r in rows)


def raised_event(app: TequioApplication, case_id: str) -> Case.Raised:
    event = next(iter(app.repository.event_store.get(Case.id_for(MUN, case_id), lte=1)))
    assert isinstance(event, Case.Raised)
    return event


def test_the_contact_never_reaches_the_event_store_in_clear(
    app: TequioApplication, ctx: CommandContext, db: ConnectionInfo
) -> None:
    a_case(app, ctx)
    stored = stored_event_bytes(db)
    assert b"Tramo oscuro" in stored  # the library cipher is off here: titles are readable
    for value in CONTACT.values():
        assert value.encode() not in stored


def test_a_coordinator_reads_the_contact_and_the_read_is_recorded(
    app: TequioApplication, ctx: CommandContext, clock: FixedClock
) -> None:
    case_id = a_case(app, ctx)
    assert app.reveal_reporter(ctx, case_id=case_id) == CONTACT
    reads = app.reporter_reads(ctx, case_id=case_id)
    assert [(r["actor"], r["at"]) for r in reads] == [(ctx.actor, clock.now())]


def test_a_case_raised_without_contact_reveals_nothing_and_records_no_read(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = a_case(app, ctx, reporter=None)
    assert app.reveal_reporter(ctx, case_id=case_id) is None
    assert app.reporter_reads(ctx, case_id=case_id) == []


def test_erasure_destroys_the_key_and_is_itself_an_event(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = a_case(app, ctx)
    result = app.erase_reporter(ctx, case_id=case_id, reason="Solicitud ARCO 2026-114")
    assert result.version == 2
    history = list(app.repository.event_store.get(Case.id_for(MUN, case_id)))
    assert [type(e).__name__ for e in history] == ["Raised", "ReporterErased"]
    assert history[1].actor == ctx.actor  # type: ignore[attr-defined]
    assert app.reveal_reporter(ctx, case_id=case_id) is None
    # Even holding the sealed bytes and the master key, nothing opens them now.
    case_uuid = Case.id_for(MUN, case_id)
    assert not app.reporter_vault.has_key(case_uuid)
    assert app.reporter_vault.open(case_uuid, raised_event(app, case_id).reporter_sealed) is None


def test_the_rest_of_the_history_survives_erasure(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = a_case(app, ctx)
    app.erase_reporter(ctx, case_id=case_id, reason="ARCO")
    raised = raised_event(app, case_id)
    assert raised.title == "Tramo oscuro en Camino Real"
    assert raised.actor == ctx.actor


def test_erasing_twice_records_one_erasure(app: TequioApplication, ctx: CommandContext) -> None:
    case_id = a_case(app, ctx)
    app.erase_reporter(ctx, case_id=case_id, reason="ARCO")
    again = app.erase_reporter(ctx, case_id=case_id, reason="ARCO")
    assert again.version == 2


def test_erasing_a_case_that_kept_no_contact_is_a_conflict(
    app: TequioApplication, ctx: CommandContext
) -> None:
    case_id = a_case(app, ctx, reporter=None)
    with pytest.raises(RuleViolation) as refused:
        app.erase_reporter(ctx, case_id=case_id, reason="ARCO")
    assert (refused.value.code, refused.value.key) == ("CONFLICT", "no_reporter")


def test_an_erasure_whose_key_deletion_was_lost_is_completed_by_a_retry(
    app: TequioApplication, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = a_case(app, ctx)
    case_uuid = Case.id_for(MUN, case_id)

    def crash(_: UUID) -> bool:
        raise OSError("connection lost")

    with monkeypatch.context() as patched:
        patched.setattr(app.reporter_vault, "destroy", crash)
        with pytest.raises(OSError):
            app.erase_reporter(ctx, case_id=case_id, reason="ARCO")
    # The erasure was recorded, so nobody can read the contact in the meantime...
    assert app.reveal_reporter(ctx, case_id=case_id) is None
    # ...and the retry destroys the key without recording a second erasure.
    assert app.erase_reporter(ctx, case_id=case_id, reason="ARCO").version == 2
    assert not app.reporter_vault.has_key(case_uuid)


def test_a_retried_raise_with_the_same_key_replays_without_a_second_contact_key(
    app: TequioApplication, ctx: CommandContext, db: ConnectionInfo
) -> None:
    keyed = CommandContext(ctx.actor, MUN, idempotency_key="asamblea-7")
    first = a_case(app, keyed)
    second = a_case(app, keyed)
    assert first == second
    with psycopg.connect(db.url()) as conn:
        (keys,) = conn.execute("select count(*) from tequio_reporter_keys").fetchone()  # type: ignore[misc]
    assert keys == 1


def test_idempotency_receipts_hold_no_trace_of_the_contact(
    app: TequioApplication, ctx: CommandContext, db: ConnectionInfo
) -> None:
    # A retry with the same key and other contact data is the same request: the
    # fingerprint leaves the contact out, so no hash of a phone number is kept.
    keyed = CommandContext(ctx.actor, MUN, idempotency_key="asamblea-8")
    first = a_case(app, keyed)
    again = a_case(app, keyed, reporter={"name": "Otra persona"})
    assert again == first


@pytest.fixture
def ciphered_app(
    settings: Settings, db: ConnectionInfo, clock: FixedClock
) -> Iterator[TequioApplication]:
    key = AESCipher.create_key(32)
    application = build_application(
        settings.model_copy(update={"cipher_key": SecretStr(key)}), db, clock=clock
    )
    yield application
    application.close()


def test_with_the_library_cipher_every_event_is_encrypted_and_still_works(
    ciphered_app: TequioApplication, ctx: CommandContext, db: ConnectionInfo
) -> None:
    case_id = a_case(ciphered_app, ctx)
    stored = stored_event_bytes(db)
    assert b"Tramo oscuro" not in stored and b"smt" not in stored
    assert ciphered_app.reveal_reporter(ctx, case_id=case_id) == CONTACT
    ciphered_app.erase_reporter(ctx, case_id=case_id, reason="ARCO")
    assert ciphered_app.reveal_reporter(ctx, case_id=case_id) is None


def test_events_stored_with_the_earlier_pycryptodome_cipher_are_still_read(
    settings: Settings,
    db: ConnectionInfo,
    clock: FixedClock,
    ctx: CommandContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Until session 9 events were sealed by ``eventsourcing.cipher`` (pycryptodome),
    # some 20 times slower than ``eventsourcing.cryptography``; both write nonce, tag
    # and ciphertext in the same layout, so a database written before still reads.
    import tequio.application

    keyed = settings.model_copy(update={"cipher_key": SecretStr(AESCipher.create_key(32))})
    earlier = tequio.application.library_env

    def with_the_earlier_cipher(*args: object, **kwargs: object) -> dict[str, str]:
        env = earlier(*args, **kwargs)  # type: ignore[arg-type]
        assert env["CIPHER_TOPIC"] == "eventsourcing.cryptography:AESCipher"
        return env | {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher"}

    monkeypatch.setattr(tequio.application, "library_env", with_the_earlier_cipher)
    before = build_application(keyed, db, clock=clock)
    case_id = a_case(before, ctx)
    before.close()
    monkeypatch.undo()

    now = build_application(keyed, db, clock=clock)
    try:
        assert b"Tramo oscuro" not in stored_event_bytes(db)
        assert now.reveal_reporter(ctx, case_id=case_id) == CONTACT
        more = a_case(now, ctx, title="Bache en Calle 5")
        assert now.reveal_reporter(ctx, case_id=more) == CONTACT
    finally:
        now.close()


@pytest.mark.parametrize("other_key", [True, False], ids=["another key", "no key"])
def test_a_key_that_does_not_open_the_stored_events_stops_the_application_at_once(
    ciphered_app: TequioApplication,
    ctx: CommandContext,
    settings: Settings,
    db: ConnectionInfo,
    clock: FixedClock,
    other_key: bool,
) -> None:
    a_case(ciphered_app, ctx)
    before = stored_event_bytes(db)
    key = SecretStr(AESCipher.create_key(32)) if other_key else None
    with pytest.raises(StoredEventsUnreadable, match="set the key they were sealed with"):
        build_application(settings.model_copy(update={"cipher_key": key}), db, clock=clock)
    assert stored_event_bytes(db) == before  # nothing sealed with the wrong key


def test_a_key_given_to_a_store_kept_in_clear_stops_the_application(
    app: TequioApplication, ctx: CommandContext, settings: Settings, db: ConnectionInfo
) -> None:
    a_case(app, ctx)
    keyed = settings.model_copy(update={"cipher_key": SecretStr(AESCipher.create_key(32))})
    with pytest.raises(StoredEventsUnreadable, match="does not open the events already stored"):
        build_application(keyed, db)
