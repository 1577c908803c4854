"""The demo data set: the San Miguel Teotongo week, a borough around it, and idempotence.

One load is shared by the assertions (a full load takes several seconds), then
the demo is loaded again nine days later and must write nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from cases.application import CommandContext, TequioApplication
from cases.case import Case
from cases.clock import FixedClock, is_overdue
from cases.commitment import Commitment
from cases.directory import Post
from cases.forums import Table
from cases.ids import official_id_for
from cases.values import CaseStatus, CommitmentStatus, Theme
from tequio.demo import (
    ANSWERS,
    CABINET,
    CASE_TEMPLATES,
    DECLINE_FITS,
    DEMO_IDS,
    LIGHTING_TABLE,
    ON_LAND,
    OTHER_AGREEMENT,
    RETHEMED,
    SATURDAY_ASSEMBLY,
    TABLES,
    WATER_TABLE,
    WORKS_AGENCIES,
    DemoSummary,
    load_demo,
    monday_of,
    next_weekday,
    scenario_case_id,
)

MUNICIPALITY = "iztapalapa"
A = TypeVar("A", Case, Commitment, Post, Table)


def events_of(app: TequioApplication, cls: Any, public_id: str) -> list[Any]:
    return list(app.events.get(cls.id_for(MUNICIPALITY, public_id)))


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def load(app: TequioApplication, cls: type[A], public_id: str) -> A:
    found: object = app.repository.get(cls.id_for(MUNICIPALITY, public_id))
    assert isinstance(found, cls)
    return found


def commitment(app: TequioApplication, public_id: str) -> Commitment:
    return load(app, Commitment, public_id)


def test_demo_tells_the_week_and_a_second_load_writes_nothing(
    app: TequioApplication, clock: FixedClock
) -> None:
    messages: list[str] = []
    summary = load_demo(app, municipality=MUNICIPALITY, progress=messages.append)

    # Loaded on Monday 2026-11-16: the story is the week before, every day of it past.
    assert summary.anchor == date(2026, 11, 16)
    assert summary.scenario_monday == date(2026, 11, 9)
    assert summary.events_written > 1000
    assert summary.events_written == app.current_position()
    assert summary.replayed == 0
    assert len(messages) == 3
    assert summary.refusals == ("not_your_agency", "stale_version")
    assert summary.cases["dark_street"] == scenario_case_id(MUNICIPALITY, "dark_street")

    check_the_week(app, summary)
    check_the_borough(app, summary)
    check_each_commitment_answers_its_case(app, summary)
    check_the_borough_reads_true(app, summary)
    check_the_times_of_the_story(app, summary)

    # Nine days later someone runs `tequio demo` again: nothing at all is written.
    clock.advance(timedelta(days=9))
    position = app.current_position()
    again = load_demo(app, municipality=MUNICIPALITY)
    assert again.events_written == 0
    assert app.current_position() == position
    assert again.replayed == again.commands == summary.commands
    assert again.scenario_monday == summary.scenario_monday
    assert again.commitments == summary.commitments
    assert again.sessions == summary.sessions
    assert again.commitment_ids == summary.commitment_ids
    assert again.case_ids == summary.case_ids


def check_the_week(app: TequioApplication, summary: DemoSummary) -> None:
    ids = summary.commitments
    thursday, friday = summary.day("thursday"), summary.day("friday")
    jorge = official_id_for(MUNICIPALITY, "Jorge Sánchez")
    laura = official_id_for(MUNICIPALITY, "Laura Gómez")
    assert summary.officials["jorge"] == jorge

    # Case (a): raised with the reporter's contact, routed to the cabinet and the table.
    dark = load(app, Case, summary.cases["dark_street"])
    assert dark.status is CaseStatus.IN_ATTENTION
    assert dark.table_ids == sorted([CABINET, LIGHTING_TABLE])
    raised = events_of(app, Case, summary.cases["dark_street"])[0]
    assert "Leticia" not in str(raised.reporter_sealed)
    contact = app.reveal_reporter(
        CommandContext("coordinator:test", MUNICIPALITY), case_id=summary.cases["dark_street"]
    )
    assert contact is not None and contact["name"] == "Leticia Ramírez Ortiz"
    assert raised.theme is Theme.SAFETY
    mural = load(app, Case, summary.cases["mural"])
    assert mural.table_ids == []  # stays with the planning collective
    kinds = {t: load(app, Table, t).kind.value for t in dark.table_ids}
    assert kinds == {CABINET: "SECURITY_CABINET", LIGHTING_TABLE: "WORKING_TABLE"}

    # The lamps: Jorge was accountable when they were promised; Laura holds the post now.
    lamps_events = events_of(app, Commitment, ids["lamps"])
    assert names(lamps_events) == ["Made", "ProgressReported", "FulfilmentReported", "Validated"]
    made = lamps_events[0]
    assert made.accountable_official_id == jorge
    assert made.post_id == DEMO_IDS["lighting_post"]
    assert made.due_on == friday
    assert lamps_events[1].progress == 40
    assert lamps_events[3].assembly_id == SATURDAY_ASSEMBLY
    post = load(app, Post, DEMO_IDS["lighting_post"])
    assert post.holder_id == laura
    holders = [e.official_name for e in events_of(app, Post, DEMO_IDS["lighting_post"])[1:]]
    assert holders == ["Jorge Sánchez", "Laura Gómez"]
    assert commitment(app, ids["lamps"]).status is CommitmentStatus.VALIDATED

    # The dump: due Thursday, overdue from midnight, rescheduled to Monday with a reason.
    dump = commitment(app, ids["dump"])
    rescheduled = [
        e for e in events_of(app, Commitment, ids["dump"]) if type(e).__name__ == "Rescheduled"
    ]
    assert len(rescheduled) == 1
    assert rescheduled[0].previous_due_on == thursday
    assert rescheduled[0].reason
    assert dump.due_on == summary.day("next_monday") == summary.anchor
    assert is_overdue(dump.status, thursday, friday)
    assert not is_overdue(dump.status, dump.due_on, summary.anchor)
    assert is_overdue(dump.status, dump.due_on, summary.anchor + timedelta(days=1))

    # The patrols: reported done before Saturday, disputed there, back in progress.
    patrols = events_of(app, Commitment, ids["patrols"])
    assert names(patrols)[-2:] == ["FulfilmentReported", "Disputed"]
    assert patrols[-1].assembly_id == SATURDAY_ASSEMBLY
    assert "dos noches" in patrols[-1].reason
    assert commitment(app, ids["patrols"]).status is CommitmentStatus.IN_PROGRESS
    assert patrols[0].due_on == summary.day("tuesday") + timedelta(days=2)

    # The rest of the week.
    assert commitment(app, ids["prosecutor"]).due_on == summary.day("tuesday") + timedelta(days=14)
    assert commitment(app, ids["cleanup"]).status is CommitmentStatus.VALIDATED
    water = commitment(app, ids["water_truck"])
    assert (water.table_id, water.due_on, water.status) == (
        WATER_TABLE,
        friday + timedelta(days=30),
        CommitmentStatus.OPEN,
    )
    assert commitment(app, ids["mural"]).table_id is None
    assert events_of(app, Commitment, ids["mural"])[0].assembly_id == SATURDAY_ASSEMBLY
    cabinet_made = events_of(app, Commitment, ids["patrols"])[0]
    assert cabinet_made.session_id == summary.sessions["cabinet"]


def check_the_borough(app: TequioApplication, summary: DemoSummary) -> None:
    today = app.today()
    assert summary.counts["cases"] == len(summary.case_ids) >= 250
    assert summary.counts["commitments"] == len(summary.commitment_ids) >= 200
    assert summary.counts["agencies"] >= 30
    assert summary.counts["territories"] >= 14 + 40

    commitments = [commitment(app, c) for c in summary.commitment_ids]
    statuses = Counter(c.status for c in commitments)
    # Every status a commitment can hold (DISPUTED is reserved: a dispute returns it to work).
    assert set(statuses) == set(CommitmentStatus) - {CommitmentStatus.DISPUTED}
    overdue = [c for c in commitments if is_overdue(c.status, c.due_on, today)]
    owed = statuses[CommitmentStatus.OPEN] + statuses[CommitmentStatus.IN_PROGRESS]
    assert 0 < len(overdue) < owed
    histories = [names(events_of(app, Commitment, c)) for c in summary.commitment_ids]
    assert sum("Disputed" in h for h in histories) >= 2
    assert sum("Rescheduled" in h for h in histories) >= 10
    assert any("Reassigned" in h for h in histories)

    cases = [load(app, Case, c) for c in summary.case_ids]
    assert {c.status for c in cases} == set(CaseStatus)
    assert {c.theme for c in cases} == set(Theme)
    assert len({c.territory_id for c in cases}) >= 30


def pattern(template: str) -> re.Pattern[str]:
    """A template's text with any words in its ``{slots}`` (after "de" or "a", maybe
    contracted: "de {place}" reads "del mercado")."""
    *before, last = re.split(r"\{\w+\}", template)
    parts = [re.escape(part.rstrip(" ")) for part in before] + [re.escape(last)]
    return re.compile(".+".join(parts) + r"\Z")


def check_each_commitment_answers_its_case(app: TequioApplication, summary: DemoSummary) -> None:
    problems = [
        (title, pattern(title)) for themed in CASE_TEMPLATES.values() for title, _ in themed
    ]
    the_weeks = set(summary.cases.values())  # written by hand, with their own answers
    answered = 0
    for commitment_id in summary.commitment_ids:
        made = events_of(app, Commitment, commitment_id)[0]
        if made.case_id in the_weeks:
            continue
        title = events_of(app, Case, made.case_id)[0].title
        problem = next(p for p, matches in problems if matches.match(title))
        answers = [pattern(text) for _, text, _, _ in ANSWERS[problem]]
        assert any(a.match(made.description) for a in answers), (title, made.description)
        answered += 1
    assert answered >= 150


WORKS_WORDS = re.compile(r"cuadrilla|materiales|almac[eé]n|trabajos|lluvias|obra", re.I)


def check_the_borough_reads_true(app: TequioApplication, summary: DemoSummary) -> None:
    """What staff decided of a case or a commitment fits its problem."""
    problems = [
        (title, pattern(title)) for themed in CASE_TEMPLATES.values() for title, _ in themed
    ]
    theme_of = {title: theme for theme, themed in CASE_TEMPLATES.items() for title, _ in themed}
    the_weeks = set(summary.cases.values())
    seen: Counter[str] = Counter()
    for case_id in set(summary.case_ids) - the_weeks:
        events = events_of(app, Case, case_id)
        title = events[0].title
        problem = next(p for p, matches in problems if matches.match(title))
        for e in events[1:]:
            kind = type(e).__name__
            if kind == "Triaged" and e.theme != theme_of[problem]:
                seen["re-themed"] += 1
                assert RETHEMED[problem] == e.theme, (title, e.theme)
            elif kind == "Reopened":
                seen["reopened"] += 1
                closed = [
                    c for c in events if type(c).__name__ == "Closed" and c.timestamp <= e.timestamp
                ][-1]
                # "semanas después del cierre": weeks, as the reason says.
                assert e.timestamp - closed.timestamp >= timedelta(days=14), title
            elif kind == "MergedAsDuplicate":
                seen["merged"] += 1
                target = events_of(app, Case, e.target_id)[0].title
                assert pattern(problem).match(target), (title, target)
            elif kind == "Declined":
                seen["declined"] += 1
                fits = problem in DECLINE_FITS.get((e.reason, e.referred_to), frozenset())
                assert fits or e.referred_to.startswith(("Alcaldía", "Municipio")), (title, e)
    for commitment_id in summary.commitment_ids:
        events = events_of(app, Commitment, commitment_id)
        made = events[0]
        if made.case_id in the_weeks:
            continue
        problem = next(
            p
            for p, matches in problems
            if matches.match(events_of(app, Case, made.case_id)[0].title)
        )
        agency = made.responsible_agency_id
        for e in events[1:]:
            kind = type(e).__name__
            said = getattr(e, "note", None) or getattr(e, "evidence", None) or ""
            said += getattr(e, "reason", None) or ""
            if agency not in WORKS_AGENCIES and kind != "Cancelled":
                # A patrol, a programme or a workshop has no crew, materials or rain.
                assert not WORKS_WORDS.search(said), (agency, said)
                seen["services told"] += bool(said)
            if kind == "Reassigned":
                agency = e.responsible_agency_id
                seen["reassigned"] += 1
                assert e.responsible_agency_id in {a for a, *_ in ANSWERS[problem]}, problem
            elif kind == "Cancelled":
                seen["cancelled"] += 1
                assert e.reason in OTHER_AGREEMENT or problem in ON_LAND, (problem, e.reason)
                siblings = [
                    events_of(app, Commitment, c)
                    for c in summary.commitment_ids
                    if c != commitment_id
                    and events_of(app, Commitment, c)[0].case_id == made.case_id
                ]
                kept = [h for h in siblings if type(h[-1]).__name__ != "Cancelled"]
                assert kept, f"{made.case_id} is left with no agreement"
    # Work is reported as it goes, not all the morning after the session, and what is
    # done is not all reported on the history's last day.
    firsts, done = [], []
    for commitment_id in summary.commitment_ids:
        events = events_of(app, Commitment, commitment_id)
        reports = [e for e in events if type(e).__name__ == "ProgressReported"]
        if reports and events[0].case_id not in the_weeks:
            firsts.append((local_day(reports[0]) - events[0].agreed_on).days)
        done += [local_day(e) for e in events if type(e).__name__ == "FulfilmentReported"]
    assert sum(days == 1 for days in firsts) < len(firsts) / 2
    assert max(Counter(done).values()) <= len(done) / 10
    kinds = ("re-themed", "reopened", "merged", "declined", "reassigned", "cancelled")
    kinds += ("services told",)
    assert all(seen[k] >= 1 for k in kinds), seen


# Posts whose holder changes during the story (civil protection's head in the borough,
# public lighting's on Wednesday), and the head of public works, whose does not.
POSTS_TOLD = ("titular-dpc", "jud-alumbrado", "titular-dgo")


def local_day(event: Any) -> date:
    return event.timestamp.astimezone(ZoneInfo("America/Mexico_City")).date()


def check_the_times_of_the_story(app: TequioApplication, summary: DemoSummary) -> None:
    """Events carry the moment of the story they tell, not the minute of the load."""
    monday = summary.scenario_monday
    dark_street = events_of(app, Case, summary.cases["dark_street"])
    assert local_day(dark_street[0]) == monday  # raised at Monday's dialogue
    patrols = events_of(app, Commitment, summary.commitments["patrols"])
    assert [local_day(e) for e in patrols if type(e).__name__ == "Disputed"] == [
        monday + timedelta(days=5)  # Saturday's assembly
    ]
    now = datetime.now(tz=UTC)
    raised: list[date] = []
    for case_id in summary.case_ids:
        events = events_of(app, Case, case_id)
        raised.append(local_day(events[0]))
        stamps = [e.timestamp for e in events]
        assert stamps == sorted(stamps), f"{case_id}'s events go back in time"
        assert stamps[-1] <= now
    for commitment_id in summary.commitment_ids:
        stamps = [e.timestamp for e in events_of(app, Commitment, commitment_id)]
        assert stamps == sorted(stamps), f"{commitment_id}'s events go back in time"
    every_table = {table[0] for table in TABLES} | {CABINET, LIGHTING_TABLE, WATER_TABLE}
    for cls, ids in ((Table, every_table), (Post, POSTS_TOLD)):
        for public_id in ids:
            stamps = [e.timestamp for e in events_of(app, cls, public_id)]
            assert stamps == sorted(stamps), f"{public_id}'s events go back in time"
    # Whoever held a post when a commitment was made is who the commitment names.
    terms = {
        post: [
            (e.timestamp, e.official_id)
            for e in events_of(app, Post, post)
            if type(e).__name__ == "HolderAppointed"
        ]
        for post in POSTS_TOLD
    }
    assert [len(terms[p]) for p in POSTS_TOLD] == [2, 2, 1]
    for commitment_id in summary.commitment_ids:
        made = events_of(app, Commitment, commitment_id)[0]
        if made.post_id in terms:
            holder = [who for at, who in terms[made.post_id] if at <= made.timestamp][-1]
            assert made.accountable_official_id == holder, commitment_id
    # A commitment is recorded on the day it was agreed, and a session on its day:
    # none is written late behind one told before it.
    late = []
    for commitment_id in summary.commitment_ids:
        made = events_of(app, Commitment, commitment_id)[0]
        if local_day(made) != made.agreed_on:
            late.append((commitment_id, made.agreed_on, local_day(made)))
    assert late == []
    for table_id in every_table:
        for held in events_of(app, Table, table_id):
            if type(held).__name__ == "SessionHeld":
                assert local_day(held) == held.held_on, (table_id, held.held_on)
    # The borough's history spans the nine weeks before the story; the story's own
    # cases are the last raised, at Monday's dialogue.
    assert min(raised) <= monday - timedelta(days=56)
    assert max(raised) == monday


def test_dates_of_the_demo() -> None:
    assert monday_of(date(2026, 11, 21)) == date(2026, 11, 16)
    assert monday_of(date(2026, 11, 16)) == date(2026, 11, 16)
    assert next_weekday(date(2026, 11, 16), 0) == date(2026, 11, 23)
    assert next_weekday(date(2026, 11, 16), 1) == date(2026, 11, 17)
