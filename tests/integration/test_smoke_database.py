from cases.application import CommandContext, TequioApplication
from cases.values import GovernmentLevel


def test_events_are_stored_in_postgresql(app: TequioApplication, ctx: CommandContext) -> None:
    result = app.add_agency(
        ctx, agency_id="obras", name="Dirección General de Obras", level=GovernmentLevel.MUNICIPAL
    )
    assert result.notification_id == 1
    assert type(app.recorder).__module__ == "eventsourcing.postgres"
    assert app.recorder.max_notification_id() == 1
