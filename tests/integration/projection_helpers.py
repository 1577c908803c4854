"""Shared by the projection tests: a realistic week written through the application,
and a snapshot of every read-model query to compare runs and rebuilds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cases.application import CommandContext, TequioApplication
from cases.ids import official_id_for
from cases.values import AssemblyKind, GovernmentLevel, Priority, TableKind, Theme
from projections.cases.queries import CaseQueries
from projections.commitments.queries import CommitmentQueries
from projections.directory.queries import DirectoryQueries
from projections.forums.queries import ForumQueries
from projections.scorecards.queries import ScorecardQueries
from projections.timelines.queries import TimelineQueries
from tequio.database import ConnectionInfo

MUNICIPALITY = "iztapalapa"
ZONE = ZoneInfo("America/Mexico_City")
REPORTER = {
    "name": "Guadalupe Reyes Ortiz",
    "phone": "5512345678",
    "email": "lupita.reyes@example.org",
}
CABINET = "gabinete-teotongo"
LIGHTING = "mesa-alumbrado"
WATER = "mesa-agua"


def env_for(db: ConnectionInfo) -> dict[str, str]:
    return db.eventsourcing_env(lock_timeout=5, pool_size=2)


@dataclass
class Week:
    today: date
    cases: dict[str, str] = field(default_factory=dict)
    commitments: dict[str, str] = field(default_factory=dict)
    session_id: str = ""
    last_notification_id: int = 0
    jorge: str = official_id_for(MUNICIPALITY, "Jorge Sánchez")
    laura: str = official_id_for(MUNICIPALITY, "Laura Gómez")


class Versions:
    """Remembers each aggregate's version from the command results."""

    def __init__(self, week: Week) -> None:
        self.week = week
        self.versions: dict[str, int] = {}

    def __call__(self, result: Any) -> Any:
        self.versions[result.id] = result.version
        if result.notification_id:
            self.week.last_notification_id = max(
                self.week.last_notification_id, result.notification_id
            )
        return result

    def of(self, public_id: str) -> int:
        return self.versions[public_id]


def build_directory(
    app: TequioApplication, ctx: CommandContext, track: Callable[[Any], Any] = lambda r: r
) -> None:
    for tid, name, kind, parent in [
        ("iztapalapa", "Iztapalapa", "MUNICIPALITY", None),
        ("dt-teotongo", "Teotongo-Acahualtepec", "DIRECTORATE", "iztapalapa"),
        ("smt-avisadero", "San Miguel Teotongo Sección Avisadero", "NEIGHBOURHOOD", "dt-teotongo"),
        ("smt-mercado", "San Miguel Teotongo Sección Mercado", "NEIGHBOURHOOD", "dt-teotongo"),
        ("dt-cabeza", "Cabeza de Juárez", "DIRECTORATE", "iztapalapa"),
        ("duq", "Desarrollo Urbano Quetzalcóatl", "NEIGHBOURHOOD", "dt-cabeza"),
    ]:
        track(app.add_territory(ctx, territory_id=tid, name=name, kind=kind, parent_id=parent))
    for aid, name, level in [
        ("dgsu", "Dirección General de Servicios Urbanos", GovernmentLevel.MUNICIPAL),
        ("obras", "Dirección General de Obras", GovernmentLevel.MUNICIPAL),
        ("ssc", "Secretaría de Seguridad Ciudadana", GovernmentLevel.CITY),
        ("fiscalia", "Fiscalía General de Justicia", GovernmentLevel.CITY),
        ("sacmex", "Sistema de Aguas", GovernmentLevel.CITY),
        ("colectivo", "Colectivo de Planeación San Miguel Teotongo", GovernmentLevel.COMMUNITY),
    ]:
        track(app.add_agency(ctx, agency_id=aid, name=name, level=level))
    track(
        app.add_post(
            ctx, post_id="jefe-alumbrado", title="Head of public lighting", agency_id="dgsu"
        )
    )
    track(app.add_post(ctx, post_id="jefe-sector", title="SSC sector chief", agency_id="ssc"))
    track(app.appoint_to_post(ctx, post_id="jefe-alumbrado", official_name="Jorge Sánchez"))
    track(app.appoint_to_post(ctx, post_id="jefe-sector", official_name="Comandante Pérez"))


def build_week(app: TequioApplication, ctx: CommandContext) -> Week:
    """The San Miguel Teotongo week, dated around the application clock's today."""
    today = app.today()
    week = Week(today=today)
    track = Versions(week)
    build_directory(app, ctx, track)

    track(
        app.create_table(
            ctx,
            table_id=CABINET,
            name="Gabinete zonal Teotongo-Acahualtepec",
            kind=TableKind.SECURITY_CABINET,
            territory_id="dt-teotongo",
            member_agency_ids=["ssc", "fiscalia"],
        )
    )
    track(
        app.create_table(
            ctx,
            table_id=LIGHTING,
            name="Alumbrado y espacio público",
            kind=TableKind.WORKING_TABLE,
            member_agency_ids=["dgsu", "obras", "colectivo"],
        )
    )
    track(
        app.create_table(
            ctx,
            table_id=WATER,
            name="Mesa técnica de agua",
            kind=TableKind.TECHNICAL_TABLE,
            territory_id="smt-avisadero",
            member_agency_ids=["sacmex"],
        )
    )
    track(
        app.hold_assembly(
            ctx,
            assembly_id="asamblea-lunes",
            territory_id="smt-avisadero",
            kind=AssemblyKind.DIALOGUE_FOR_PEACE,
            held_on=today - timedelta(days=3),
            attendance=64,
            facilitator="Equipo de Planeación",
        )
    )

    def raise_case(key: str, territory: str, theme: Theme, title: str, text: str, **kw: Any) -> str:
        result = track(
            app.raise_case(
                ctx, territory_id=territory, theme=theme, title=title, description=text, **kw
            )
        )
        week.cases[key] = result.id
        return str(result.id)

    a = raise_case(
        "a",
        "smt-avisadero",
        Theme.SAFETY,
        "Calle Camino Real sin alumbrado",
        "Tramo oscuro de Camino Real donde asaltaron a dos mujeres; faltan lámparas.",
        assembly_id="asamblea-lunes",
        reporter=dict(REPORTER),
    )
    b = raise_case(
        "b",
        "smt-mercado",
        Theme.ENVIRONMENT,
        "Tiradero clandestino en la esquina del mercado",
        "Basura acumulada junto al mercado desde hace semanas.",
        assembly_id="asamblea-lunes",
    )
    c = raise_case(
        "c",
        "smt-avisadero",
        Theme.WATER,
        "Sin agua desde hace nueve días",
        "Tres calles sin suministro de agua potable.",
        assembly_id="asamblea-lunes",
    )
    d = raise_case(
        "d",
        "duq",
        Theme.CULTURE,
        "Mural comunitario en la barda de la escuela",
        "Propuesta de los jóvenes para pintar un mural.",
    )

    for case_id, theme, priority, tables in [
        (a, Theme.SAFETY, Priority.HIGH, [CABINET, LIGHTING]),
        (b, Theme.ENVIRONMENT, Priority.MEDIUM, [LIGHTING]),
        (c, Theme.WATER, Priority.URGENT, [WATER]),
        (d, Theme.CULTURE, Priority.LOW, []),
    ]:
        track(
            app.triage_case(
                ctx, case_id=case_id, expected_version=track.of(case_id), theme=theme,
                priority=priority,
            )
        )  # fmt: skip
        if tables:
            track(
                app.route_case(
                    ctx, case_id=case_id, expected_version=track.of(case_id), table_ids=tables
                )
            )
    session = track(
        app.hold_session(
            ctx,
            table_id=LIGHTING,
            held_on=today - timedelta(days=2),
            attending_agency_ids=["dgsu", "obras", "colectivo"],
            minutes="Acuerdos sobre alumbrado y limpieza.",
        )
    )
    week.session_id = session.id

    def make(key: str, case_id: str, agency: str, text: str, due: int, agreed: int, **kw: Any):
        result = track(
            app.make_commitment(
                ctx,
                case_id=case_id,
                responsible_agency_id=agency,
                description=text,
                due_on=today + timedelta(days=due),
                agreed_on=today + timedelta(days=agreed),
                **kw,
            )
        )
        week.commitments[key] = result.id
        return result.id

    patrols = make(
        "patrols", a, "ssc", "Patrullajes nocturnos en Camino Real desde las 20:00", 2, -2,
        table_id=CABINET, post_id="jefe-sector",
    )  # fmt: skip
    make("complaints", a, "fiscalia", "Seguimiento a las dos denuncias", 14, -2, table_id=CABINET)
    lamps = make(
        "lamps", a, "dgsu", "Reparar 12 lámparas del alumbrado público", 3, -2,
        table_id=LIGHTING, session_id=session.id, post_id="jefe-alumbrado",
    )  # fmt: skip
    dump = make("dump", b, "obras", "Retirar el tiradero", -3, -5, table_id=LIGHTING)
    make("cleanup", b, "colectivo", "Jornada vecinal de limpieza", 5, -2, table_id=LIGHTING)
    make("truck", c, "sacmex", "Pipa de agua dos veces por semana", 30, 0, table_id=WATER)

    # Wednesday: Laura takes the lighting post; 40% progress on the lamps.
    track(app.appoint_to_post(ctx, post_id="jefe-alumbrado", official_name="Laura Gómez"))
    track(
        app.report_progress(
            ctx, commitment_id=lamps, expected_version=track.of(lamps), progress=40,
            note="Se repararon 5 lámparas",
        )
    )  # fmt: skip
    # Thursday: the dump is rescheduled, still in the past: overdue.
    track(
        app.reschedule_commitment(
            ctx, commitment_id=dump, expected_version=track.of(dump),
            due_on=today - timedelta(days=1), reason="Falta de camión recolector",
        )
    )  # fmt: skip
    # Friday: lamps reported fulfilled; Saturday: the neighbours' assembly validates
    # them and disputes the patrols.
    track(
        app.report_fulfilment(
            ctx, commitment_id=lamps, expected_version=track.of(lamps),
            evidence="https://fotos.example.org/lamparas.jpg",
        )
    )  # fmt: skip
    track(
        app.hold_assembly(
            ctx,
            assembly_id="asamblea-sabado",
            territory_id="smt-avisadero",
            kind=AssemblyKind.COMMUNITY_ASSEMBLY,
            held_on=today,
            attendance=41,
            facilitator=None,
        )
    )
    track(
        app.validate_fulfilment(
            ctx, commitment_id=lamps, expected_version=track.of(lamps),
            assembly_id="asamblea-sabado",
        )
    )  # fmt: skip
    track(
        app.report_progress(
            ctx, commitment_id=patrols, expected_version=track.of(patrols), progress=50,
            note="Patrullajes iniciados",
        )
    )  # fmt: skip
    track(
        app.report_fulfilment(
            ctx, commitment_id=patrols, expected_version=track.of(patrols),
            evidence="Bitácora de patrullaje",
        )
    )  # fmt: skip
    track(
        app.dispute_fulfilment(
            ctx, commitment_id=patrols, expected_version=track.of(patrols),
            assembly_id="asamblea-sabado", reason="Solo se vio dos veces",
        )
    )  # fmt: skip
    track(
        app.decline_case(
            ctx, case_id=d, expected_version=track.of(d), reason="Corresponde a cultura",
            referred_to="Dirección de Cultura",
        )
    )  # fmt: skip
    return week


async def snapshot(pool: Any, week: Week) -> dict[str, Any]:
    """Every read-model query over the week: equal snapshots mean equal read models."""
    m = MUNICIPALITY
    directory = DirectoryQueries(pool)
    forums = ForumQueries(pool)
    cases = CaseQueries(pool)
    commitments = CommitmentQueries(pool)
    scorecards = ScorecardQueries(pool)
    timelines = TimelineQueries(pool)
    case_ids = sorted(week.cases.values())
    commitment_ids = sorted(week.commitments.values())
    today = week.today

    def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: r["id"])

    page = await cases.list_cases(m, first=2)
    second = await cases.list_cases(m, first=2, after=page.end_cursor)
    board = await commitments.list_commitments(m, today=today, first=100)
    return {
        "territories": await directory.territories(m),
        "agencies": await directory.agencies(m),
        "posts": by_id(await directory.posts_by_ids(m, ["jefe-alumbrado", "jefe-sector"])),
        "officials": by_id(await directory.officials_by_ids(m, [week.jorge, week.laura])),
        "terms": await directory.post_terms(m, "jefe-alumbrado"),
        "tables": await forums.tables(m),
        "sessions": await forums.sessions_of_table(m, LIGHTING),
        "assemblies": await forums.assemblies_by_ids(m, ["asamblea-lunes"]),
        "cases": by_id(await cases.cases_by_ids(m, case_ids)),
        "case_pages": [page, second],
        "by_assembly": await cases.case_ids_by_assembly(m, ["asamblea-lunes"]),
        "board": board,
        "by_case": await commitments.commitments_by_case_ids(m, case_ids),
        "due": await commitments.due_and_overdue(m, today=today, within_days=7),
        "scorecards": await scorecards.agency_scorecards(m, today=today),
        "case_timelines": await timelines.timelines(m, "case", case_ids),
        "commitment_timelines": await timelines.timelines(m, "commitment", commitment_ids),
    }
