"""A batch's runs of one statement sent as one statement each (ADR 0027): every read
model shows what it shows when each event is applied alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import psycopg
import pytest
from projection_helpers import LIGHTING, build_week, env_for, snapshot

from cases.application import CommandContext, TequioApplication
from projections import base, bulk, runtime
from projections.base import TequioView
from projections.registry import PROJECTIONS, tracking_table
from projections.runtime import ProjectionService, rebuild
from tequio.database import ConnectionInfo


@pytest.fixture
def every_run_as_one_statement(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every run, however short, goes as one statement if it can; returns each run's
    statement and whether it went so. A batch that fails is not applied again."""
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 1)
    sent: list[tuple[str, bool]] = []
    original = TequioView._send_bulk

    def recorded(self: TequioView, query: str, checked: bool, run: list[Any]) -> bool:
        went = original(self, query, checked, run)
        sent.append((query, went))
        return went

    def not_again(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the batch failed, and was applied one event at a time")

    monkeypatch.setattr(TequioView, "_send_bulk", recorded)
    monkeypatch.setattr(runtime, "_apply_batch", not_again)
    return sent


def truncate_read_models(db: ConnectionInfo) -> None:
    """Every read model back to nothing (the event store untouched)."""
    with psycopg.connect(db.url(), autocommit=True) as conn:
        for name, (_, view_class) in PROJECTIONS.items():
            tables = ", ".join([*view_class.TABLES, tracking_table(name)])
            conn.execute(f"DROP TABLE IF EXISTS {tables} CASCADE")


def head(app: TequioApplication) -> int:
    return app.recorder.max_notification_id() or 0


async def one_event_at_a_time(
    app: TequioApplication, db: ConnectionInfo, pool: asyncpg.Pool, week: Any
) -> dict[str, Any]:
    service = ProjectionService(env_for(db), check_interval=0.1, batch_size=1)
    try:
        service.start()
        assert service.wait(head(app), timeout=60)
        return await snapshot(pool, week)
    finally:
        service.stop()


async def in_one_batch(
    app: TequioApplication, db: ConnectionInfo, pool: asyncpg.Pool, week: Any
) -> dict[str, Any]:
    """What the read models show after a rebuild that replays every event in one batch."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "REBUILD_BATCH", head(app))
        assert rebuild(env_for(db), processes=1) == head(app)
    return await snapshot(pool, week)


async def test_a_week_in_one_batch_of_one_statement_per_run_equals_it_one_event_at_a_time(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    every_run_as_one_statement: list[tuple[str, bool]],
) -> None:
    week = build_week(app, ctx)
    alone = await one_event_at_a_time(app, db, pool, week)
    assert await in_one_batch(app, db, pool, week) == alone
    assert every_run_as_one_statement
    assert [query for query, went in every_run_as_one_statement if not went] == []


async def test_a_commitment_changed_again_and_again_in_one_batch_ends_as_it_did(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    every_run_as_one_statement: list[tuple[str, bool]],
) -> None:
    """Three progress reports and two reschedules of one commitment in a row: one
    statement cannot change a row twice, so each goes in a wave of its own."""
    week = build_week(app, ctx)
    made = app.make_commitment(
        ctx,
        case_id=next(iter(week.cases.values())),
        responsible_agency_id="dgsu",
        table_id=LIGHTING,
        description="Podar los árboles que tapan las luminarias",
        due_on=app.today() + timedelta(days=7),
    )
    version = made.version
    for progress in (20, 45, 70):
        version = app.report_progress(
            ctx,
            commitment_id=made.id,
            expected_version=version,
            progress=progress,
            note=f"{progress} %",
        ).version
    for days in (10, 12):
        version = app.reschedule_commitment(
            ctx,
            commitment_id=made.id,
            expected_version=version,
            due_on=app.today() + timedelta(days=days),
            reason="Lluvias",
        ).version
    alone = await one_event_at_a_time(app, db, pool, week)
    assert await in_one_batch(app, db, pool, week) == alone
    with psycopg.connect(db.url()) as conn:
        row = conn.execute(
            "SELECT progress, reschedules, due_on, version FROM commitments_commitments"
            " WHERE id = %s",
            (made.id,),
        ).fetchone()
    assert row == (70, 2, app.today() + timedelta(days=12), version)
    assert [query for query, went in every_run_as_one_statement if not went] == []


async def test_a_missing_row_in_a_run_sent_as_one_statement_still_names_its_event(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    services: list[ProjectionService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 1)
    week = build_week(app, ctx)
    case_id = next(iter(week.cases.values()))
    made = [
        app.make_commitment(
            ctx,
            case_id=case_id,
            responsible_agency_id="dgsu",
            table_id=LIGHTING,
            description=f"Reparar la luminaria {n}",
            due_on=app.today() + timedelta(days=7),
        )
        for n in range(3)
    ]
    first = ProjectionService(env_for(db), ["commitments"], check_interval=0.1, batch_size=500)
    services.append(first)
    first.start()
    assert first.wait(head(app), timeout=20)
    first.stop()
    lost = made[1]
    with psycopg.connect(db.url(), autocommit=True) as conn:
        conn.execute("DELETE FROM commitments_commitments WHERE id = %s", (lost.id,))
    reported = {
        result.id: app.report_progress(
            ctx,
            commitment_id=result.id,
            expected_version=result.version,
            progress=10,
            note="Avance",
        )
        for result in made
    }
    failing = reported[lost.id].notification_id
    assert failing is not None

    second = ProjectionService(env_for(db), ["commitments"], check_interval=0.1, batch_size=500)
    services.append(second)
    second.start()
    assert not second.wait(head(app), timeout=1)
    (status,) = second.status()
    assert status["position"] == failing - 1
    assert f"notification {failing}" in status["last_error"]
    assert "is not on the board" in status["last_error"]


async def test_a_batch_whose_one_statement_form_fails_is_applied_again_row_by_row(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    services: list[ProjectionService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value only the one-statement form refuses (PostgreSQL reads it otherwise)
    fails the joint batch; applied again, the batch goes row by row and passes."""
    week = build_week(app, ctx)
    alone = await one_event_at_a_time(app, db, pool, week)
    truncate_read_models(db)
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 1)
    tried: list[str] = []

    def refused_by_postgresql(self: TequioView, query: str, checked: bool, run: list[Any]) -> bool:
        tried.append(query)
        assert self._batch is not None
        self._batch.connection.cursor().execute("SELECT 1 / 0")
        return True

    monkeypatch.setattr(TequioView, "_send_bulk", refused_by_postgresql)
    service = ProjectionService(env_for(db), check_interval=0.1, batch_size=500)
    services.append(service)
    service.start()
    assert service.wait(head(app), timeout=30)
    assert tried
    assert await snapshot(pool, week) == alone
    assert all(row["last_error"] is None for row in service.status())


def test_statements_go_row_by_row_while_postgresql_cannot_describe_them(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    services: list[ProjectionService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The connection that describes statements failing (too many clients, a lock
    held by a migration) leaves the batch to go row by row, and is not tried again
    for every batch."""
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(base, "_BULK_FORMS", {})
    monkeypatch.setattr(base, "_DESCRIBE_AGAIN_AT", [0.0])
    attempts: list[Any] = []

    def no_connection(datastore: Any) -> Any:
        attempts.append(datastore)
        raise psycopg.OperationalError("sorry, too many clients already")

    monkeypatch.setattr(base, "describing_connection", no_connection)
    build_week(app, ctx)
    service = ProjectionService(env_for(db), check_interval=0.1, batch_size=50)
    services.append(service)
    service.start()
    assert service.wait(head(app), timeout=30)
    assert all(row["last_error"] is None for row in service.status())
    assert len(attempts) == 1
    assert base._BULK_FORMS == {}


def test_describing_a_statement_waits_at_most_a_second_for_a_lock(db: ConnectionInfo) -> None:
    """Describing takes a lock on the statement's table: behind a migration's, the
    batch's transaction would sit idle past its timeout."""
    view = runtime.make_view("commitments", env_for(db))
    try:
        with base.describing_connection(view.datastore) as conn:
            assert conn.execute("SHOW lock_timeout").fetchone() == {"lock_timeout": "1s"}
            assert conn.execute("SHOW statement_timeout").fetchone() == {"statement_timeout": "5s"}
    finally:
        view.datastore.close()
