"""The read models after a realistic week, read through the async query classes.

The week is written through the application while the projection service runs
(the live path); the assertions read what the GraphQL layer will read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import psycopg
import pytest
from projection_helpers import (
    CABINET,
    LIGHTING,
    MUNICIPALITY,
    REPORTER,
    WATER,
    ZONE,
    Week,
    build_week,
    env_for,
)

from cases.application import CommandContext, TequioApplication
from cases.clock import FixedClock
from cases.clock import today as local_date
from projections.cases.queries import CaseQueries
from projections.commitments.queries import CommitmentQueries
from projections.directory.queries import DirectoryQueries
from projections.forums.queries import ForumQueries
from projections.positions import positions, wait_for
from projections.registry import PROJECTIONS
from projections.runtime import ProjectionService
from projections.scorecards.queries import ScorecardQueries
from projections.timelines.queries import TimelineQueries
from projections.timelines.summaries import summarize
from tequio.database import ConnectionInfo

M = MUNICIPALITY


@pytest.fixture
def service(db: ConnectionInfo) -> Iterator[ProjectionService]:
    svc = ProjectionService(env_for(db), check_interval=0.2, backoff_initial=0.05)
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
async def week(
    app: TequioApplication, ctx: CommandContext, service: ProjectionService, pool: asyncpg.Pool
) -> Week:
    written = build_week(app, ctx)
    # Read your own writes, the way the API does it: async, on the asyncpg pool.
    assert await wait_for(pool, written.last_notification_id, timeout=20)
    return written


def one(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


async def test_directory(week: Week, pool: asyncpg.Pool) -> None:
    q = DirectoryQueries(pool)
    territories = await q.territories(M)
    assert len(territories) == 6
    assert one(territories, id="smt-avisadero") == {
        "id": "smt-avisadero",
        "name": "San Miguel Teotongo Sección Avisadero",
        "kind": "NEIGHBOURHOOD",
        "parent_id": "dt-teotongo",
    }
    assert [t["id"] for t in await q.territories_by_ids(M, ["duq", "nope"])] == ["duq"]
    assert one(await q.agencies(M), id="colectivo")["level"] == "COMMUNITY"
    assert (await q.agencies_by_ids(M, ["ssc"]))[0] == {
        "id": "ssc",
        "name": "Secretaría de Seguridad Ciudadana",
        "level": "CITY",
    }
    post = (await q.posts_by_ids(M, ["jefe-alumbrado"]))[0]
    assert post == {
        "id": "jefe-alumbrado",
        "title": "Head of public lighting",
        "agency_id": "dgsu",
        "holder_id": week.laura,
        "version": 3,  # added, Jorge appointed, then Laura
    }
    officials = {o["id"]: o["name"] for o in await q.officials_by_ids(M, [week.jorge, week.laura])}
    assert officials == {week.jorge: "Jorge Sánchez", week.laura: "Laura Gómez"}

    terms = await q.post_terms(M, "jefe-alumbrado")
    assert [t["name"] for t in terms] == ["Jorge Sánchez", "Laura Gómez"]
    assert terms[0]["ended_at"] == terms[1]["started_at"]
    assert terms[1]["ended_at"] is None
    # Who was accountable when: just before and just after the change of holder.
    change = terms[1]["started_at"]
    before = await q.holder_at(M, "jefe-alumbrado", change - timedelta(microseconds=1))
    after = await q.holder_at(M, "jefe-alumbrado", change)
    assert before == {"id": week.jorge, "name": "Jorge Sánchez"}
    assert after == {"id": week.laura, "name": "Laura Gómez"}
    assert (
        await q.holder_at(M, "jefe-alumbrado", terms[0]["started_at"] - timedelta(days=1)) is None
    )
    # Another municipality sees nothing of this one.
    assert await q.territories("otra") == []


async def test_forums(week: Week, pool: asyncpg.Pool) -> None:
    q = ForumQueries(pool)
    assert [t["id"] for t in await q.tables(M)] == [LIGHTING, CABINET, WATER]  # by name
    cabinet = (await q.tables(M, "SECURITY_CABINET"))[0]
    assert cabinet == {
        "id": CABINET,
        "name": "Gabinete zonal Teotongo-Acahualtepec",
        "kind": "SECURITY_CABINET",
        "territory_id": "dt-teotongo",
        "member_agency_ids": ["fiscalia", "ssc"],
        "version": 1,
    }
    lighting = (await q.tables_by_ids(M, [LIGHTING]))[0]
    assert lighting["version"] == 2  # created, then a session held
    assert lighting["territory_id"] is None
    sessions = await q.sessions_of_table(M, LIGHTING)
    assert sessions == [
        {
            "id": week.session_id,
            "table_id": LIGHTING,
            "table_kind": "WORKING_TABLE",
            "held_on": week.today - timedelta(days=2),
            "attending_agency_ids": ["colectivo", "dgsu", "obras"],
            "minutes": "Acuerdos sobre alumbrado y limpieza.",
        }
    ]
    assert await q.sessions_by_ids(M, [week.session_id]) == sessions
    assert await q.assemblies_by_ids(M, ["asamblea-lunes"]) == [
        {
            "id": "asamblea-lunes",
            "kind": "DIALOGUE_FOR_PEACE",
            "territory_id": "smt-avisadero",
            "held_on": week.today - timedelta(days=3),
            "attendance": 64,
            "facilitator": "Equipo de Planeación",
        }
    ]


async def test_cases_list_detail_and_briefing_queries(week: Week, pool: asyncpg.Pool) -> None:
    q = CaseQueries(pool)
    a, b, c, d = (week.cases[k] for k in "abcd")
    rows = {r["id"]: r for r in await q.cases_by_ids(M, [a, b, c, d])}
    assert set(rows) == {a, b, c, d}
    case_a = rows[a]
    assert {k: case_a[k] for k in ("title", "theme", "priority", "status", "territory_id")} == {
        "title": "Calle Camino Real sin alumbrado",
        "theme": "SAFETY",
        "priority": "HIGH",
        "status": "IN_ATTENTION",
        "territory_id": "smt-avisadero",
    }
    assert case_a["table_ids"] == sorted([CABINET, LIGHTING])
    assert case_a["assembly_id"] == "asamblea-lunes"
    assert case_a["version"] == 4  # raised, triaged, routed, attention started
    assert case_a["raised_at"].tzinfo is not None
    assert "reporter" not in case_a
    assert rows[d]["status"] == "DECLINED"
    assert rows[d]["referred_to"] == "Dirección de Cultura"
    assert rows[c]["status"] == "IN_ATTENTION"

    assert await q.case_ids_by_assembly(M, ["asamblea-lunes", "other"]) == {
        "asamblea-lunes": [a, b, c]
    }

    # Newest first; cursors are opaque and stable.
    first = await q.list_cases(M, first=3)
    assert first.total_count == 4 and first.has_next_page
    assert [r["id"] for r in first.rows] == [d, c, b]
    rest = await q.list_cases(M, first=3, after=first.end_cursor)
    assert [r["id"] for r in rest.rows] == [a]
    assert not rest.has_next_page and rest.total_count == 4
    assert (await q.list_cases(M, first=1, after=first.rows[0]["cursor"])).rows[0]["id"] == c
    with pytest.raises(ValueError):
        await q.list_cases(M, first=3, after="not-a-cursor")

    assert {r["id"] for r in (await q.list_cases(M, status="IN_ATTENTION", first=10)).rows} == {
        a,
        b,
        c,
    }
    assert {r["id"] for r in (await q.list_cases(M, table_id=LIGHTING, first=10)).rows} == {a, b}
    assert [r["id"] for r in (await q.list_cases(M, theme="WATER", first=10)).rows] == [c]
    assert [r["id"] for r in await q.open_cases_of_table(M, LIGHTING)] == [a, b]

    since = datetime.now(UTC) - timedelta(hours=1)
    new = await q.new_cases(M, since=since, territory_ids=["dt-teotongo"], themes=["SAFETY"])
    assert [r["id"] for r in new] == [a]
    assert await q.new_cases(M, since=datetime.now(UTC) + timedelta(minutes=5)) == []
    assert await q.hot_spots(M, since=since, under_territory_id="dt-teotongo") == [
        {"territory_id": "smt-avisadero", "cases": 2},
        {"territory_id": "smt-mercado", "cases": 1},
    ]
    assert await q.hot_spots(M, since=since, theme="CULTURE") == [
        {"territory_id": "duq", "cases": 1}
    ]


async def test_territory_filter_takes_in_descendants(week: Week, pool: asyncpg.Pool) -> None:
    cases = CaseQueries(pool)
    a, b, c, d = (week.cases[k] for k in "abcd")

    async def case_ids(territory: str) -> set[str]:
        return {r["id"] for r in (await cases.list_cases(M, territory_id=territory, first=50)).rows}

    assert await case_ids("iztapalapa") == {a, b, c, d}
    assert await case_ids("dt-teotongo") == {a, b, c}
    assert await case_ids("smt-mercado") == {b}
    assert await case_ids("dt-cabeza") == {d}

    board = CommitmentQueries(pool)

    async def commitment_ids(territory: str) -> set[str]:
        page = await board.list_commitments(M, today=week.today, territory_id=territory, first=50)
        return {r["id"] for r in page.rows}

    cm = week.commitments
    assert await commitment_ids("dt-teotongo") == set(cm.values())
    assert await commitment_ids("smt-mercado") == {cm["dump"], cm["cleanup"]}
    assert await commitment_ids("dt-cabeza") == set()
    scores = await ScorecardQueries(pool).agency_scorecards(
        M, today=week.today, territory_id="smt-mercado"
    )
    assert [s["agency_id"] for s in scores] == ["colectivo", "obras"]


async def test_spanish_full_text_search(week: Week, pool: asyncpg.Pool) -> None:
    q = CaseQueries(pool)
    a, b, c = (week.cases[k] for k in "abc")

    async def found(text: str) -> set[str]:
        return {r["id"] for r in (await q.list_cases(M, search=text, first=50)).rows}

    assert await found("lampara") == {a}  # 'lámparas' in the description
    assert await found("LÁMPARAS") == {a}
    assert await found("alumbrado") == {a}
    assert await found("asaltaron mujeres") == {a}
    assert await found("agua") == {c}
    assert await found("tiradero -agua") == {b}
    assert await found("helicóptero") == set()
    page = await q.list_cases(M, search="mercado", theme="ENVIRONMENT", first=50)
    assert [r["id"] for r in page.rows] == [b] and page.total_count == 1


async def test_commitment_board(week: Week, pool: asyncpg.Pool) -> None:
    q = CommitmentQueries(pool)
    cm = week.commitments
    today = week.today
    rows = {r["id"]: r for r in await q.commitments_by_ids(M, list(cm.values()), today=today)}
    lamps = rows[cm["lamps"]]
    assert {k: lamps[k] for k in ("status", "progress", "responsible_agency_id", "post_id")} == {
        "status": "VALIDATED",
        "progress": 100,
        "responsible_agency_id": "dgsu",
        "post_id": "jefe-alumbrado",
    }
    # Jorge held the post when it was made; Laura holds it now (directory).
    assert lamps["accountable_when_made_id"] == week.jorge
    assert lamps["table_id"] == LIGHTING and lamps["table_kind"] == "WORKING_TABLE"
    assert lamps["territory_id"] == "smt-avisadero"  # copied from its case
    assert lamps["session_id"] == week.session_id
    assert lamps["case_id"] == week.cases["a"]
    assert lamps["evidence"] == "https://fotos.example.org/lamparas.jpg"
    assert lamps["fulfilled_at"] is not None and lamps["validated_at"] is not None
    assert lamps["fulfilled_on"] == today  # the day reported, by the application's clock
    assert lamps["agreed_on"] == today - timedelta(days=2)
    assert lamps["due_on"] == today + timedelta(days=3)
    assert lamps["made_at"].tzinfo is not None
    assert lamps["version"] == 4
    assert lamps["overdue"] is False and lamps["days_overdue"] == 0

    patrols = rows[cm["patrols"]]
    assert patrols["status"] == "IN_PROGRESS"
    assert patrols["progress"] == 50  # back to the progress before the disputed report
    assert patrols["disputes"] == 1
    assert patrols["last_dispute_reason"] == "Solo se vio dos veces"
    assert patrols["fulfilled_at"] is None
    assert patrols["table_kind"] == "SECURITY_CABINET"

    dump = rows[cm["dump"]]
    assert dump["status"] == "OPEN" and dump["reschedules"] == 1
    assert dump["due_on"] == today - timedelta(days=1)
    assert dump["overdue"] is True and dump["days_overdue"] == 1

    by_case = await q.commitments_by_case_ids(M, [week.cases["a"], week.cases["b"]])
    assert [r["id"] for r in by_case[week.cases["a"]]] == [
        cm["patrols"],
        cm["complaints"],
        cm["lamps"],
    ]
    assert {r["id"] for r in by_case[week.cases["b"]]} == {cm["dump"], cm["cleanup"]}

    # The board: soonest due first, keyset pages.
    page = await q.list_commitments(M, today=today, first=4)
    assert page.total_count == 6 and page.has_next_page
    assert [r["id"] for r in page.rows] == [
        cm["dump"],
        cm["patrols"],
        cm["lamps"],
        cm["cleanup"],
    ]
    rest = await q.list_commitments(M, today=today, first=4, after=page.end_cursor)
    assert [r["id"] for r in rest.rows] == [cm["complaints"], cm["truck"]]
    assert not rest.has_next_page
    assert [
        r["id"] for r in (await q.list_commitments(M, today=today, agency_id="obras", first=9)).rows
    ] == [cm["dump"]]
    assert [
        r["id"]
        for r in (await q.list_commitments(M, today=today, status="VALIDATED", first=9)).rows
    ] == [cm["lamps"]]
    assert {
        r["id"] for r in (await q.list_commitments(M, today=today, table_id=CABINET, first=9)).rows
    } == {cm["patrols"], cm["complaints"]}
    assert {
        r["id"]
        for r in (await q.list_commitments(M, today=today, case_id=week.cases["c"], first=9)).rows
    } == {cm["truck"]}
    due_before = await q.list_commitments(
        M, today=today, due_before=today + timedelta(days=3), first=9
    )
    assert [r["id"] for r in due_before.rows] == [cm["dump"], cm["patrols"]]

    agenda = await q.agenda(M, LIGHTING, today, 7)
    assert [r["id"] for r in agenda["overdue"]] == [cm["dump"]]
    assert [r["id"] for r in agenda["due_soon"]] == [cm["cleanup"]]  # lamps are validated
    briefing = await q.due_and_overdue(
        M, today=today, within_days=3, table_ids=None, territory_ids=["dt-teotongo"],
        cabinet_scope=frozenset({CABINET}),
    )  # fmt: skip
    assert [r["id"] for r in briefing["overdue"]] == [cm["dump"]]
    assert [r["id"] for r in briefing["due_soon"]] == [cm["patrols"]]


async def test_overdue_is_judged_from_the_today_argument(week: Week, pool: asyncpg.Pool) -> None:
    q = CommitmentQueries(pool)
    dump_id = week.commitments["dump"]
    due = week.today - timedelta(days=1)

    async def dump_on(today: date) -> dict[str, Any]:
        page = await q.list_commitments(M, today=today, agency_id="obras", first=5)
        return page.rows[0]

    async def overdue_ids(today: date) -> set[str]:
        page = await q.list_commitments(M, today=today, overdue=True, first=50)
        return {r["id"] for r in page.rows}

    # Due yesterday: overdue today, by one day; not on its due date.
    assert (await dump_on(week.today))["days_overdue"] == 1
    assert dump_id in await overdue_ids(week.today)
    assert dump_id not in await overdue_ids(due)
    not_overdue = await q.list_commitments(M, today=week.today, overdue=False, first=50)
    assert dump_id not in {r["id"] for r in not_overdue.rows}
    assert not_overdue.total_count == 5

    # Local midnight decides, not UTC: 23:59 on the due date in Mexico City is
    # already the next day in UTC, and still not overdue.
    last_minute = datetime.combine(due, time(23, 59), ZONE)
    first_minute = last_minute + timedelta(minutes=2)
    assert last_minute.astimezone(UTC).date() == due + timedelta(days=1)
    before = local_date(FixedClock(last_minute), ZONE)
    after = local_date(FixedClock(first_minute), ZONE)
    assert (await dump_on(before))["overdue"] is False
    assert (await dump_on(after))["overdue"] is True
    assert (await dump_on(after))["days_overdue"] == 1
    ten_days_on = await dump_on(due + timedelta(days=10))
    assert ten_days_on["days_overdue"] == 10

    scores = {
        s["agency_id"]: s for s in await ScorecardQueries(pool).agency_scorecards(M, today=before)
    }
    assert scores["obras"]["overdue"] == 0
    scores = {
        s["agency_id"]: s for s in await ScorecardQueries(pool).agency_scorecards(M, today=after)
    }
    assert scores["obras"]["overdue"] == 1
    # Validated or cancelled work is never overdue, however late the day.
    later = {
        s["agency_id"]: s
        for s in await ScorecardQueries(pool).agency_scorecards(
            M, today=week.today + timedelta(days=60)
        )
    }
    assert later["dgsu"]["overdue"] == 0
    assert later["sacmex"]["overdue"] == 1


async def test_cabinet_scope_hides_security_cabinet_commitments(
    week: Week, pool: asyncpg.Pool
) -> None:
    q = CommitmentQueries(pool)
    cm = week.commitments
    secret = {cm["patrols"], cm["complaints"]}
    everything = set(cm.values())
    today = week.today

    async def board(scope: frozenset[str] | None) -> set[str]:
        page = await q.list_commitments(M, today=today, cabinet_scope=scope, first=50)
        assert page.total_count == len(page.rows)
        return {r["id"] for r in page.rows}

    assert await board(None) == everything
    assert await board(frozenset()) == everything - secret
    assert await board(frozenset({"another-cabinet"})) == everything - secret
    assert await board(frozenset({CABINET})) == everything

    ids = list(everything)
    assert {r["id"] for r in await q.commitments_by_ids(M, ids, cabinet_scope=frozenset())} == (
        everything - secret
    )
    by_case = await q.commitments_by_case_ids(M, [week.cases["a"]], cabinet_scope=frozenset())
    assert [r["id"] for r in by_case[week.cases["a"]]] == [cm["lamps"]]
    due = await q.due_and_overdue(
        M, today=today, within_days=30, cabinet_scope=frozenset(), table_ids=[CABINET]
    )
    assert due == {"due_soon": [], "overdue": []}
    scores = await ScorecardQueries(pool).agency_scorecards(
        M, today=today, cabinet_scope=frozenset()
    )
    assert {s["agency_id"] for s in scores} == {"colectivo", "dgsu", "obras", "sacmex"}


async def test_scorecards(
    week: Week, pool: asyncpg.Pool, app: TequioApplication, ctx: CommandContext
) -> None:
    rows = {
        s["agency_id"]: s
        for s in await ScorecardQueries(pool).agency_scorecards(M, today=week.today)
    }
    assert set(rows) == {"colectivo", "dgsu", "fiscalia", "obras", "sacmex", "ssc"}
    assert rows["dgsu"] == {
        "agency_id": "dgsu",
        "made": 1,
        "fulfilled": 1,
        "validated": 1,
        "on_time": 1,
        "overdue": 0,
        "reschedules": 0,
        "median_days_to_fulfil": 2.0,  # agreed two days ago, reported today
    }
    assert rows["obras"] | {"median_days_to_fulfil": None} == {
        "agency_id": "obras",
        "made": 1,
        "fulfilled": 0,
        "validated": 0,
        "on_time": 0,
        "overdue": 1,
        "reschedules": 1,
        "median_days_to_fulfil": None,
    }
    # The disputed report no longer counts as fulfilled.
    assert rows["ssc"]["made"] == 1 and rows["ssc"]["fulfilled"] == 0
    assert rows["ssc"]["median_days_to_fulfil"] is None

    # Obras reports the dump cleared today, a day after its (rescheduled) due date.
    dump = week.commitments["dump"]
    result = app.report_fulfilment(
        ctx, commitment_id=dump, expected_version=2, evidence="Fotos del predio limpio"
    )
    assert await wait_for(pool, result.notification_id, timeout=10)
    obras = {
        s["agency_id"]: s
        for s in await ScorecardQueries(pool).agency_scorecards(M, today=week.today)
    }["obras"]
    assert (obras["fulfilled"], obras["on_time"], obras["overdue"]) == (1, 0, 0)
    assert obras["median_days_to_fulfil"] == 5.0  # agreed five days ago
    (row,) = await CommitmentQueries(pool).commitments_by_ids(M, [dump])
    assert row["fulfilled_on"] == week.today and row["progress"] == 100


async def test_timelines_and_summaries(week: Week, pool: asyncpg.Pool) -> None:
    q = TimelineQueries(pool)
    lamps = week.commitments["lamps"]
    entries = (await q.timelines(M, "commitment", [lamps]))[lamps]
    assert [e["type"] for e in entries] == [
        "Made",
        "ProgressReported",
        "FulfilmentReported",
        "Validated",
    ]
    positions_ = [e["position"] for e in entries]
    assert positions_ == sorted(positions_)
    progress = entries[1]
    assert progress["data"] == {"progress": 40, "note": "Se repararon 5 lámparas"}
    assert progress["actor"] == "coordinator:rosa"
    assert progress["subject_kind"] == "commitment" and progress["case_id"] == week.cases["a"]
    assert progress["at"].tzinfo is not None
    assert summarize(progress["type"], progress["data"], "en") == (
        "Progress reported: 40% — Se repararon 5 lámparas"
    )
    assert summarize(progress["type"], progress["data"], "es-MX") == (
        "Avance reportado: 40 % — Se repararon 5 lámparas"
    )
    made = entries[0]["data"]
    assert made["due_on"] == (week.today + timedelta(days=3)).isoformat()
    assert made["accountable_official_id"] == week.jorge

    a = week.cases["a"]
    case_entries = (await q.timelines(M, "case", [a, "missing"]))[a]
    assert [e["type"] for e in case_entries] == ["Raised", "Triaged", "Routed", "AttentionStarted"]
    raised = case_entries[0]["data"]
    assert raised["title"] == "Calle Camino Real sin alumbrado"
    assert "reporter" not in raised
    assert summarize("Raised", raised, "es") == "Caso registrado: Calle Camino Real sin alumbrado"
    assert summarize("Triaged", case_entries[1]["data"], "es") == (
        "Clasificado: Seguridad, prioridad alta"
    )

    # Every event type of Case and Commitment has a sentence in both languages.
    patrols = week.commitments["patrols"]
    dump = week.commitments["dump"]
    d = week.cases["d"]
    everything = await q.timelines(M, "commitment", [patrols, dump])
    everything.update(await q.timelines(M, "case", [a, d]))
    for subject_entries in everything.values():
        for entry in subject_entries:
            en = summarize(entry["type"], entry["data"], "en")
            es = summarize(entry["type"], entry["data"], "es")
            assert en and es and en != es, entry
    rescheduled = one(everything[dump], type="Rescheduled")
    assert "Falta de camión recolector" in summarize("Rescheduled", rescheduled["data"], "es")
    assert summarize("Disputed", {"reason": "Solo dos veces"}, "es") == (
        "La comunidad objetó el cumplimiento — Solo dos veces"
    )
    for kind in ("Resolved", "Closed", "Reopened", "MergedAsDuplicate", "Cancelled", "Reassigned"):
        assert summarize(kind, {}, "en") != summarize(kind, {}, "es")


async def test_no_reporter_data_in_any_read_model(
    week: Week, pool: asyncpg.Pool, db: ConnectionInfo
) -> None:
    prefixes = (*(f"{name}_" for name in PROJECTIONS), "projections_")
    with psycopg.connect(db.url()) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
            if row[0].startswith(prefixes)
        ]
        assert len(tables) >= 20
        text = "\n".join(
            str(row[0])
            for table in tables
            for row in conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
        )
        # (The events carry the reporter; keeping it encrypted is the write side's job.)
        events = conn.execute("SELECT count(*) FROM tequio_events").fetchone()
        assert events and events[0] >= 40
    assert "Camino Real" in text  # the scan reads real content
    for value in REPORTER.values():
        assert value not in text
    assert "Reyes" not in text and "lupita" not in text


async def test_positions(week: Week, pool: asyncpg.Pool, service: ProjectionService) -> None:
    reached = await positions(pool)
    assert set(reached) == set(PROJECTIONS)
    assert all(p >= week.last_notification_id for p in reached.values())
    assert await wait_for(pool, week.last_notification_id, timeout=0.01)
    assert await wait_for(pool, None, timeout=0.01)
    started = datetime.now(UTC)
    assert not await wait_for(pool, week.last_notification_id + 1000, timeout=0.1)
    assert (datetime.now(UTC) - started).total_seconds() < 1
    assert (await positions(pool, ["cases"])).keys() == {"cases"}
    # The live run needed no restart: no false stall, no error.
    assert all(s["restarts"] == 0 and s["error_count"] == 0 for s in service.status())
    assert all(s["running"] and s["lag_events"] == 0 for s in service.status())
