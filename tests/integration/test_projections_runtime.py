"""Running the projections: exactly once across restarts, rebuilds, failures, stalls, status."""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import psycopg
import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import IntegrityError, Notification, Tracking
from projection_helpers import MUNICIPALITY, build_directory, build_week, env_for, snapshot

from cases.application import CommandContext, TequioApplication
from cases.values import GovernmentLevel, Priority, Theme
from projections import runtime
from projections.base import TequioView
from projections.commitments.projection import CommitmentsView
from projections.registry import PROJECTIONS, tracking_table
from projections.runtime import ProjectionBusy, ProjectionService, make_view, rebuild
from projections.timelines import projection as timelines_projection
from tequio import projections_cli
from tequio.cli import main
from tequio.database import ConnectionInfo

BATCH = 10


def fast_service(db: ConnectionInfo, names: list[str] | None = None) -> ProjectionService:
    return ProjectionService(
        env_for(db), names, check_interval=0.1, backoff_initial=0.05, batch_size=BATCH
    )


def head(app: TequioApplication) -> int:
    return app.recorder.max_notification_id() or 0


@contextmanager
def before_each_event(
    view_class: type[TequioView], action: Callable[[Tracking], None]
) -> Iterator[None]:
    """Runs ``action`` before ``view_class`` applies or skips each event."""
    original, original_skip = view_class.tracked, view_class.skip

    @contextmanager
    def tracked(self: TequioView, tracking: Tracking) -> Iterator[Any]:
        action(tracking)
        with original(self, tracking) as curs:
            yield curs

    def skip(self: TequioView, tracking: Tracking) -> None:
        action(tracking)
        original_skip(self, tracking)

    view_class.tracked = tracked  # type: ignore[method-assign]
    view_class.skip = skip  # type: ignore[method-assign]
    try:
        yield
    finally:
        view_class.tracked = original  # type: ignore[method-assign]
        view_class.skip = original_skip  # type: ignore[method-assign]


@contextmanager
def gate_at(view_class: type[TequioView], notification_id: int) -> Iterator[threading.Event]:
    """Holds ``view_class``'s handler at one notification until the returned event is set."""
    reached = threading.Event()
    release = threading.Event()

    def hold(tracking: Tracking) -> None:
        if tracking.notification_id == notification_id:
            reached.set()
            release.wait(10)

    try:
        with before_each_event(view_class, hold):
            yield reached
            release.set()
    finally:
        release.set()


async def test_restart_mid_stream_is_exactly_once_and_equals_a_rebuild(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    services: list[ProjectionService],
) -> None:
    week = build_week(app, ctx)
    end = head(app)
    middle = end // 2

    first = fast_service(db)
    services.append(first)
    with gate_at(CommitmentsView, middle + 1) as reached:
        first.start()
        assert reached.wait(10), "the commitments projection never reached the gate"
        # Stop while the commitments handler is inside notification middle + 1.
        stopper = threading.Thread(target=first.stop)
        stopper.start()
        await asyncio.sleep(0.1)
    stopper.join(10)
    assert not stopper.is_alive()

    positions = {row["name"]: row["position"] for row in runtime.status(env_for(db))}
    # The batch being applied when stop was asked for was finished, nothing more.
    assert middle + 1 <= positions["commitments"] < middle + 1 + BATCH
    assert all(0 < p <= end for p in positions.values())

    second = fast_service(db)
    services.append(second)
    second.start()
    assert second.wait(end, timeout=20)
    live = await snapshot(pool, week)
    second.stop()

    rebuilt_events = rebuild(env_for(db))
    assert rebuilt_events == end
    assert await snapshot(pool, week) == live


async def test_rebuild_from_zero_gives_identical_results(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    services: list[ProjectionService],
) -> None:
    week = build_week(app, ctx)
    service = fast_service(db)
    services.append(service)
    service.start()
    assert service.wait(head(app), timeout=20)
    live = await snapshot(pool, week)

    with pytest.raises(ProjectionBusy, match="cases"):
        rebuild(env_for(db), "cases")
    service.stop()

    calls: list[tuple[int, int]] = []
    assert rebuild(env_for(db), "cases", lambda done, total: calls.append((done, total))) == head(
        app
    )
    assert calls[0] == (0, head(app)) and calls[-1] == (head(app), head(app))
    assert await snapshot(pool, week) == live

    rebuild(env_for(db))
    assert await snapshot(pool, week) == live
    status = runtime.status(env_for(db))
    assert [s["name"] for s in status] == list(PROJECTIONS)
    assert all(s["position"] == head(app) and s["lag_events"] == 0 for s in status)
    assert not any(s["running"] for s in status)

    # Events written after a rebuild are picked up from there by the next run.
    result = app.add_agency(
        ctx, agency_id="nueva", name="Agencia nueva", level=GovernmentLevel.STATE
    )
    again = fast_service(db)
    services.append(again)
    again.start()
    assert again.wait(result.notification_id, timeout=10)
    after = await snapshot(pool, week)
    assert [a for a in after["agencies"] if a not in live["agencies"]] == [
        {"id": "nueva", "name": "Agencia nueva", "level": "STATE"}
    ]
    assert {k: v for k, v in after.items() if k != "agencies"} == {
        k: v for k, v in live.items() if k != "agencies"
    }


async def test_a_whole_week_in_one_batch_equals_it_one_event_at_a_time(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    services: list[ProjectionService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch sends its writes grouped by statement, not in the events' order (ADR
    0020): what each read model shows must not depend on it."""
    week = build_week(app, ctx)
    service = ProjectionService(env_for(db), check_interval=0.1, batch_size=1)
    services.append(service)
    service.start()
    assert service.wait(head(app), timeout=60)
    one_at_a_time = await snapshot(pool, week)
    service.stop()

    monkeypatch.setattr(runtime, "REBUILD_BATCH", head(app))

    def not_one_at_a_time(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the grouped batch failed, and was applied one event at a time")

    # A failing grouped batch would be applied again event by event, and pass.
    monkeypatch.setattr(runtime, "_apply_batch", not_one_at_a_time)
    assert rebuild(env_for(db), processes=1) == head(app)
    assert await snapshot(pool, week) == one_at_a_time


async def test_a_rebuild_in_two_processes_equals_one_in_one(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    services: list[ProjectionService],
) -> None:
    week = build_week(app, ctx)
    assert rebuild(env_for(db), processes=1) == head(app)
    alone = await snapshot(pool, week)
    feed = await pool.fetch("SELECT * FROM feed_events ORDER BY position")

    calls: list[tuple[int, int]] = []
    events = rebuild(env_for(db), progress=lambda d, t: calls.append((d, t)), processes=2)
    assert events == head(app)
    assert calls[-1] == (head(app), head(app))
    assert await snapshot(pool, week) == alone
    assert await pool.fetch("SELECT * FROM feed_events ORDER BY position") == feed
    assert all(s["position"] == head(app) for s in runtime.status(env_for(db)))

    # Refused before anything is dropped while one of the projections runs.
    service = fast_service(db, ["feed"])
    services.append(service)
    service.start()
    assert service.wait(head(app), timeout=10)
    with pytest.raises(ProjectionBusy, match="feed"):
        rebuild(env_for(db), processes=2)
    assert await snapshot(pool, week) == alone


async def test_a_rebuild_leaves_every_index_a_running_projection_makes(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    services: list[ProjectionService],
) -> None:
    """A rebuild makes the secondary indexes once, at its end, not row by row."""
    build_week(app, ctx)
    service = fast_service(db)
    services.append(service)
    service.start()
    assert service.wait(head(app), timeout=20)
    service.stop()
    made = await read_model_indexes(pool)
    assert "feed_events_subject_idx" in made and "cases_cases_search_idx" in made

    rebuild(env_for(db), processes=1)
    assert await read_model_indexes(pool) == made


async def test_a_rebuilt_read_model_has_statistics_for_the_planner(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
) -> None:
    """Without them, the API's prepared statements may pick a plan that reads every
    entry of a kind to find one case's timeline."""
    build_week(app, ctx)
    rebuild(env_for(db), processes=1)
    tables = ["timelines_entries", "cases_cases", "commitments_commitments", "feed_events"]
    rows = await pool.fetch(
        "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
        " AND relname = any($1::text[])",
        tables,
    )
    assert sorted(r["relname"] for r in rows) == sorted(tables)


async def test_timelines_rebuilt_with_little_memory_are_identical(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With room for only a few subjects in memory, the timelines read the rest back
    from their table in the middle of a batch, after its queued writes are sent."""
    week = build_week(app, ctx)
    rebuild(env_for(db))
    plenty = await snapshot(pool, week)
    entries = await pool.fetch("SELECT * FROM timelines_entries ORDER BY position")

    monkeypatch.setattr(timelines_projection, "SUBJECT_CACHE_SIZE", 3)
    assert rebuild(env_for(db), "timelines") == head(app)
    assert await snapshot(pool, week) == plenty
    assert await pool.fetch("SELECT * FROM timelines_entries ORDER BY position") == entries


async def test_an_empty_read_model_far_behind_makes_its_indexes_once_caught_up(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    services: list[ProjectionService],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    week = build_week(app, ctx)
    rebuild(env_for(db))
    expected = await snapshot(pool, week)
    indexes = await read_model_indexes(pool)
    with psycopg.connect(db.url(), autocommit=True) as conn:
        for _, view in PROJECTIONS.values():
            conn.execute(f"DROP TABLE {', '.join(view.TABLES)} CASCADE")
        conn.execute(f"DROP TABLE {', '.join(tracking_table(n) for n in PROJECTIONS)}")

    monkeypatch.setattr(runtime, "FIRST_FILL_EVENTS", 1)
    caplog.set_level("INFO", logger=runtime.log.name)
    service = fast_service(db)
    services.append(service)
    service.start()
    assert service.wait(head(app), timeout=20)
    # Made by the projections' thread right after its last batch.
    for _ in range(200):
        if await read_model_indexes(pool) == indexes:
            break
        await asyncio.sleep(0.05)

    assert await read_model_indexes(pool) == indexes
    assert await snapshot(pool, week) == expected
    assert "projection feed: filling from zero" in caplog.text


async def read_model_indexes(pool: asyncpg.Pool) -> dict[str, str]:
    tables = [t for _, view in PROJECTIONS.values() for t in view.TABLES]
    rows = await pool.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = any($1::text[])", tables
    )
    return {row["indexname"]: row["indexdef"] for row in rows}


def test_rebuild_groups_spread_the_replay_cost() -> None:
    groups = runtime.rebuild_groups(list(PROJECTIONS), 2)
    assert sorted(n for group in groups for n in group) == sorted(PROJECTIONS)
    costs = [sum(runtime.REBUILD_COST[n] for n in group) for group in groups]
    assert max(costs) - min(costs) <= max(runtime.REBUILD_COST.values())
    assert runtime.rebuild_groups(["feed"], 2) == [["feed"]]
    assert runtime.rebuild_groups(list(PROJECTIONS), 1) == [list(PROJECTIONS)]


async def test_a_failing_handler_is_retried_and_reported(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    pool: asyncpg.Pool,
    services: list[ProjectionService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    week = build_week(app, ctx)
    end = head(app)
    target = end - 6  # the lamps' fulfilment report, a commitments event
    original = CommitmentsView.tracked
    failures: list[int] = []

    @contextmanager
    def flaky(self: TequioView, tracking: Tracking) -> Iterator[Any]:
        # Each failed attempt tries the batch three times (with the other read models,
        # then alone pipelined, then alone unpipelined): two failed attempts.
        if tracking.notification_id == target and len(failures) < 6:
            failures.append(tracking.notification_id)
            raise RuntimeError("disk on fire")
        with original(self, tracking) as curs:
            yield curs

    monkeypatch.setattr(CommitmentsView, "tracked", flaky)
    service = fast_service(db)
    services.append(service)
    service.start()
    assert service.wait(end, timeout=20)
    assert failures == [target] * 6

    status = {s["name"]: s for s in service.status()}
    commitments = status["commitments"]
    assert commitments["error_count"] == 2
    assert commitments["restarts"] == 2
    assert f"notification {target}" in commitments["last_error"]
    assert "disk on fire" in commitments["last_error"]
    assert commitments["running"] and commitments["position"] == end
    assert commitments["lag_events"] == 0 and commitments["lag_seconds"] == 0
    assert status["cases"]["error_count"] == 0 and status["cases"]["last_error"] is None

    # The other process's view of it (the CLI) sees the same errors.
    stored = {s["name"]: s for s in runtime.status(env_for(db))}
    assert stored["commitments"]["error_count"] == 2 and stored["commitments"]["running"]
    live = await snapshot(pool, week)
    service.stop()
    rebuild(env_for(db))
    assert await snapshot(pool, week) == live


def test_lost_notifications_only_delay_the_read_models(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    services: list[ProjectionService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def deaf(self: ProjectionService, channel: str) -> None:
        # LISTEN never hears anything: only the periodic look finds new events.
        self._stopping.wait()

    monkeypatch.setattr(ProjectionService, "_listen", deaf)
    service = fast_service(db, ["directory", "timelines"])
    services.append(service)
    service.start()
    build_directory(app, ctx)
    assert service.wait(head(app), timeout=10)
    status = {s["name"]: s for s in service.status()}
    assert set(status) == {"directory", "timelines"}
    assert all(s["error_count"] == 0 and s["lag_events"] == 0 for s in status.values())


def test_a_failing_event_stops_its_projection_just_before_it(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    services: list[ProjectionService],
) -> None:
    build_directory(app, ctx)
    end = head(app)
    poison = end - 2

    def check(tracking: Tracking) -> None:
        if tracking.notification_id == poison:
            raise RuntimeError("cannot apply this one")

    with before_each_event(CommitmentsView, check):
        service = ProjectionService(
            env_for(db), ["commitments", "cases"], check_interval=0.1, backoff_initial=0.05
        )
        services.append(service)
        service.start()
        assert not service.wait(end, timeout=1)
        status = {s["name"]: s for s in service.status()}
        # The whole log fits in one batch: everything before the poison event is applied.
        assert status["commitments"]["position"] == poison - 1
        assert status["commitments"]["error_count"] >= 1
        assert f"notification {poison}" in status["commitments"]["last_error"]
        assert status["cases"]["position"] == end and status["cases"]["error_count"] == 0


def test_status_lag_and_a_second_process_stands_by(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    services: list[ProjectionService],
) -> None:
    env = env_for(db)
    build_directory(app, ctx)
    end = head(app)
    before = {s["name"]: s for s in runtime.status(env)}
    assert before["directory"]["position"] == 0
    assert before["directory"]["lag_events"] == end
    assert before["directory"]["lag_seconds"] > 0
    assert not before["directory"]["running"]

    service = fast_service(db, ["directory"])
    services.append(service)
    service.start()
    assert service.wait(end, timeout=10)
    # Another process for the same projection waits as a standby.
    standby = fast_service(db, ["directory"])
    services.append(standby)
    standby.start()
    (row,) = standby.status()
    assert row["standby"] and not row["running"]
    (row,) = service.status()
    assert row["running"] and not row["standby"] and row["lag_events"] == 0
    service.stop()
    assert standby.wait(end, timeout=5)
    for _ in range(100):
        (row,) = standby.status()
        if row["running"]:
            break
        time.sleep(0.05)
    assert row["running"] and not row["standby"]
    assert {s["name"]: s for s in runtime.status(env)}["directory"]["running"]
    standby.stop()
    assert not {s["name"]: s for s in runtime.status(env)}["directory"]["running"]


@pytest.fixture
def cli_directory(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A directory in the event store, and the CLI's environment pointing at it."""
    build_directory(app, ctx)
    monkeypatch.setenv("DATABASE_URL", db.url())
    monkeypatch.setenv("TEQUIO_MUNICIPALITY", MUNICIPALITY)


def test_a_rebuild_with_a_key_that_does_not_open_the_events_keeps_the_read_models(
    cli_directory: None,
    app: TequioApplication,
    db: ConnectionInfo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = env_for(db)
    rebuild(env, "directory")

    def directory_rows() -> list[Any]:
        with psycopg.connect(db.url()) as conn:
            return [
                conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in PROJECTIONS["directory"][1].TABLES
            ]

    before = directory_rows()
    assert any(before)
    monkeypatch.setenv("TEQUIO_CIPHER_KEY", AESCipher.create_key(32))
    assert main(["projections", "rebuild", "directory"]) == 2
    assert "does not open the events already stored" in capsys.readouterr().err
    monkeypatch.delenv("TEQUIO_CIPHER_KEY")  # the library reads it from the environment too
    assert directory_rows() == before
    assert {s["name"]: s for s in runtime.status(env)}["directory"]["position"] == head(app)


def test_cli_status_and_rebuild(
    cli_directory: None,
    app: TequioApplication,
    db: ConnectionInfo,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="tequio")
    projections_cli.add_projection_commands(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> int:
        args = parser.parse_args(argv)
        return int(args.func(args))

    assert run("projections", "rebuild", "directory") == 0
    err = capsys.readouterr().err
    assert f"rebuild directory [##########] {head(app)}/{head(app)} events" in err
    assert run("projections", "status") == 0
    out = capsys.readouterr().out
    assert "directory" in out and "timelines" in out and "stopped" in out
    assert run("projections", "rebuild", "nonsense") == 2
    assert "unknown projection nonsense" in capsys.readouterr().err
    assert run("projections", "rebuild", "--processes", "2") == 0
    assert f"rebuild all [##########] {head(app)}/{head(app)} events" in capsys.readouterr().err
    assert all(s["position"] == head(app) for s in runtime.status(env_for(db)))
    with pytest.raises(SystemExit):
        parser.parse_args(["projections", "rebuild", "--processes", "0"])
    assert "expected a whole number of at least 1, not '0'" in capsys.readouterr().err


def test_a_change_to_a_row_the_read_model_lacks_stops_it_at_that_event(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    services: list[ProjectionService],
) -> None:
    """The row counts a pipelined batch checks at its end still name the event."""
    build_directory(app, ctx)
    raised = app.raise_case(
        ctx,
        territory_id="smt-avisadero",
        theme=Theme.URBAN_SERVICES,
        title="Luminaria apagada",
        description="Calle 5 sin luz",
    )
    first = fast_service(db, ["cases"])
    services.append(first)
    first.start()
    assert first.wait(raised.notification_id, timeout=10)
    first.stop()
    with psycopg.connect(db.url(), autocommit=True) as conn:
        conn.execute("DELETE FROM cases_cases WHERE id = %s", (raised.id,))
    triaged = app.triage_case(
        ctx,
        case_id=raised.id,
        expected_version=raised.version,
        theme=Theme.URBAN_SERVICES,
        priority=Priority.HIGH,
    )
    assert triaged.notification_id is not None

    second = fast_service(db, ["cases"])
    services.append(second)
    second.start()
    assert not second.wait(triaged.notification_id, timeout=1)
    (row,) = second.status()
    assert row["position"] == triaged.notification_id - 1
    assert f"notification {triaged.notification_id}" in row["last_error"]
    assert "is not in the cases read model" in row["last_error"]


def test_a_pipelined_batch_at_a_recorded_position_is_refused_and_writes_nothing(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    services: list[ProjectionService],
) -> None:
    """The position is checked after the pipeline (no round trip per read model), and a
    batch that would not move it forward is rolled back whole."""
    head = directory_caught_up(app, ctx, db, services)

    view = make_view("directory", env_for(db))
    try:
        with (
            pytest.raises(IntegrityError),
            view.batch(Tracking(TequioApplication.name, head), pipelined=True) as curs,
        ):
            curs.execute("DELETE FROM directory_agencies")
        with psycopg.connect(db.url(), autocommit=True) as conn:
            (agencies,) = conn.execute("SELECT count(*) FROM directory_agencies").fetchone()
        assert agencies > 0
        assert position_of(db, "directory") == head
        with view.batch(Tracking(TequioApplication.name, head + 1), pipelined=True):
            pass
        assert position_of(db, "directory") == head + 1
    finally:
        view.datastore.close()


def directory_caught_up(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    services: list[ProjectionService],
) -> int:
    """A directory written, the directory read model run up to it and stopped: its head."""
    build_directory(app, ctx)
    head = app.recorder.max_notification_id()
    assert head is not None
    service = fast_service(db, ["directory"])
    services.append(service)
    service.start()
    assert service.wait(head, timeout=10)
    service.stop()
    return head


def position_of(db: ConnectionInfo, name: str) -> int:
    with psycopg.connect(db.url(), autocommit=True) as conn:
        row = conn.execute(
            f"SELECT notification_id FROM {tracking_table(name)} WHERE application_name = %s",
            (TequioApplication.name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_joint_batch_one_read_model_already_recorded_is_refused_whole(
    app: TequioApplication,
    ctx: CommandContext,
    db: ConnectionInfo,
    services: list[ProjectionService],
) -> None:
    """Every read model's position goes in one statement: if one of them would not
    move forward, no read model's position (nor anything else) is recorded."""
    head = directory_caught_up(app, ctx, db, services)

    views = {name: make_view(name, env_for(db)) for name in ("forums", "directory")}

    def joint_batch_at(position: int) -> None:
        tracking = Tracking(TequioApplication.name, position)
        # An event no read model handles: each only records the position.
        runtime._apply_together(
            [
                runtime._Part(name, view, PROJECTIONS[name][0](view), [(object(), tracking)])
                for name, view in views.items()
            ],
            announce=False,
        )

    try:
        with pytest.raises(IntegrityError):
            joint_batch_at(head)
        assert positions_of(db) == {"directory": head, "forums": None}
        joint_batch_at(head + 1)
        assert positions_of(db) == {"directory": head + 1, "forums": head + 1}
    finally:
        for view in views.values():
            view.datastore.close()


def positions_of(db: ConnectionInfo) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    with psycopg.connect(db.url(), autocommit=True) as conn:
        for name in ("directory", "forums"):
            row = conn.execute(
                f"SELECT notification_id FROM {tracking_table(name)} WHERE application_name = %s",
                (TequioApplication.name,),
            ).fetchone()
            found[name] = int(row[0]) if row else None
    return found


def test_status_check_fails_a_monitoring_script_until_every_projection_runs(
    cli_directory: None,
    app: TequioApplication,
    db: ConnectionInfo,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["projections", "status", "--check"]) == 1
    assert "not running or over 60 s behind: directory" in capsys.readouterr().err
    with ProjectionService(env_for(db)) as service:
        assert service.wait(head(app), timeout=30)
        assert main(["projections", "status", "--check", "--max-lag", "5"]) == 0


def test_the_projections_read_the_same_notifications_as_the_library(
    app: TequioApplication, ctx: CommandContext
) -> None:
    """Batches are read in binary and made without the dataclass's checks: the same
    notifications, from the same position, as the library's own reader."""
    build_week(app, ctx)
    end = head(app)
    for position, limit in [(0, end), (0, 7), (5, 3), (end - 1, 10), (end, 10)]:
        ours = runtime.notifications_after(app, position, limit)
        assert ours == app.recorder.select_notifications(
            start=position, limit=limit, inclusive_of_start=False
        )
        assert all(type(n) is Notification for n in ours)
    assert len(runtime.notifications_after(app, 0, end)) == end
    # The positions the runner makes from them are the library's, as keys too.
    events = runtime.decoded(app, runtime.notifications_after(app, 0, 2), lambda topic: False)
    assert [tracking for _, tracking in events] == [
        Tracking(TequioApplication.name, 1),
        Tracking(TequioApplication.name, 2),
    ]
    assert {tracking for _, tracking in events} == {
        Tracking(TequioApplication.name, 1),
        Tracking(TequioApplication.name, 2),
    }
