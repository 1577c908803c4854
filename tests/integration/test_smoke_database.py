import threading

from eventsourcing.postgres import PostgresApplicationRecorder

from cases.application import CommandContext, TequioApplication
from cases.values import GovernmentLevel
from tequio.application import build_application
from tequio.database import ConnectionInfo
from tequio.settings import Settings


def test_events_are_stored_in_postgresql(app: TequioApplication, ctx: CommandContext) -> None:
    result = app.add_agency(
        ctx, agency_id="obras", name="Dirección General de Obras", level=GovernmentLevel.MUNICIPAL
    )
    assert result.notification_id == 1
    assert isinstance(app.recorder, PostgresApplicationRecorder)
    assert app.recorder.max_notification_id() == 1


def test_processes_that_start_together_all_start(settings: Settings, db: ConnectionInfo) -> None:
    """API workers and a projection worker start at once; each makes the tables (and the
    library's function), and PostgreSQL used to fail one ("tuple concurrently updated")."""
    starters = 8
    ready = threading.Barrier(starters)
    failures: list[BaseException] = []
    apps: list[TequioApplication] = []

    def start() -> None:
        ready.wait()
        try:
            apps.append(build_application(settings, db))
        except BaseException as error:
            failures.append(error)

    for _ in range(3):
        threads = [threading.Thread(target=start) for _ in range(starters)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    for app in apps:
        app.close()
    assert failures == []
    assert len(apps) == 3 * starters
