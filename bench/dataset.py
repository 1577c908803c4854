"""A realistic data set, fast: the demo, then a borough's history of many months.

The demo (``tequio.demo.load_demo``) is loaded first, through the application
service's commands: the directory (64 territories, 31 agencies, 39 posts, 26
tables), its borough and the week in San Miguel Teotongo. Then the history is
*simulated* with the demo's vocabulary (territories, agencies, themes, case and
commitment templates, notes and reasons) until the log holds the target number of
events:

- every case arrives on a day of the last ``days`` days (from an assembly of its
  neighbourhood, or from the city's citizen-attention system), is triaged,
  routed to the demo's tables by theme (security cases to their zone's cabinet),
  taken up at the table's next session, given one or two commitments, and lives
  on: progress reports, reschedules, reassignments, fulfilment, the assembly's
  validation or dispute, resolution, closing, a reopening now and then;
- steps that would fall after today never happen, so recent work is still owed,
  some of it overdue, just as in a live borough;
- about a quarter of the commands carry an idempotency key, so the log also holds
  the receipts a real mix of clients leaves behind.

Each step calls the aggregates' own command methods (the domain rules run), and the
changed aggregates are saved through the application's ``save`` in batches of about
200 events, one transaction each, in the order of the simulated time. (Larger batches
can hang: psycopg's pure-Python libpq wrapper, which Tequio runs without
``psycopg[binary]``, deadlocks now and then on a pipeline bigger than the socket's
buffer, psycopg issue #685.) The
events' timestamps are the simulated times (the library's ``create_timestamp`` is
pointed at the simulation's clock while the generator runs, in this process only),
so ``raisedAt``, timelines and "new since last week" look like a real history.
What it skips of the command path (loading aggregates, the idempotency lookup,
input checks) is what makes it fast; the write path itself is measured elsewhere.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from cases.application import TequioApplication
from cases.case import Case
from cases.clock import events_stamped_by
from cases.commitment import Commitment
from cases.directory import Post
from cases.forums import Assembly, Table
from cases.receipts import IdempotencyReceipt
from cases.values import AssemblyKind, Priority, Theme
from tequio import demo
from tequio.demo import (
    ANSWERS,
    CASE_TEMPLATES,
    DECLINE_REASONS,
    DISPUTE_REASONS,
    EVIDENCE,
    FACILITATOR,
    GENERAL_CABINET,
    LIGHTING_TABLE,
    NEIGHBOURHOODS,
    OTHER_AGREEMENT,
    PROGRESS_NOTES,
    RESCHEDULE_REASONS,
    RETHEMED,
    ROSA,
    STREETS,
    SUAC,
    TABLES,
    TEOTONGO,
    THEME_TABLES,
    WATER_TABLE,
    fill,
    head_post,
    place_for,
    staff,
)

SAFETY_LIKE = (Theme.SAFETY, Theme.GENDER, Theme.CIVIL_PROTECTION)
ASSEMBLY_EVERY_DAYS = 14


@dataclass
class DatasetSummary:
    municipality: str
    target_events: int
    events: int  # events in the store when generation ended
    demo_events: int
    demo_seconds: float
    history_events: int
    history_seconds: float
    seconds: float
    events_per_second: float
    cases: int
    commitments: int
    assemblies: int
    sessions: int
    receipts: int
    days: int
    batches: int
    # For the load: ids the readers and writers use.
    cabinet_id: str = demo.CABINET
    active_commitments: list[tuple[str, str, int]] = field(default_factory=list, repr=False)
    case_ids: list[str] = field(default_factory=list, repr=False)

    def public(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("active_commitments", "case_ids", "cabinet_id")
        }


def _secretary(table_id: str) -> str:
    return {
        demo.CABINET: demo.CABINET_SECRETARY,
        LIGHTING_TABLE: demo.LIGHTING_SECRETARY,
        WATER_TABLE: demo.WATER_SECRETARY,
    }.get(table_id, f"secretary:{table_id}")


def _tables_for(theme: Theme, directorate: str) -> list[str]:
    """The same routing as the demo's borough (``tequio.demo``)."""
    if theme is Theme.SAFETY:
        return [f"gab-zonal-{directorate[3:]}"]
    if directorate == TEOTONGO and theme in (
        Theme.URBAN_SERVICES,
        Theme.PUBLIC_SPACE,
        Theme.ENVIRONMENT,
    ):
        return [LIGHTING_TABLE]
    if directorate == TEOTONGO and theme is Theme.WATER:
        return [WATER_TABLE]
    return list(THEME_TABLES[theme])


class _Step:
    __slots__ = ("action", "events")

    def __init__(self, action: Callable[[], list[Any]], events: int) -> None:
        self.action = action
        self.events = events


class History:
    """Plans the borough's history case by case, then plays it in time order."""

    def __init__(
        self,
        app: TequioApplication,
        municipality: str,
        *,
        days: int,
        seed: int,
        receipt_fraction: float,
        zone: ZoneInfo,
        now: datetime,
    ) -> None:
        self.app = app
        self.m = municipality
        self.rng = random.Random(seed)
        self.days = days
        self.receipt_fraction = receipt_fraction
        self.zone = zone
        self.now = now
        self.today = now.astimezone(zone).date()
        self.first_day = self.today - timedelta(days=days)
        self.heap: list[tuple[datetime, int, _Step]] = []
        self.seq = itertools.count()
        self.planned_events = 0
        self.counts = dict.fromkeys(
            ("cases", "commitments", "assemblies", "sessions", "receipts"), 0
        )
        self.neighbourhoods = [code for code, *_ in NEIGHBOURHOODS]
        self.directorate_of = {code: parent for code, _, _, parent in NEIGHBOURHOODS}
        self.name_of = {code: name for code, name, _, _ in NEIGHBOURHOODS}
        self.weights = [3 if self.directorate_of[c] == TEOTONGO else 1 for c in self.neighbourhoods]
        self.assembly_offset = {
            code: int(hashlib.sha256(code.encode()).hexdigest(), 16) % ASSEMBLY_EVERY_DAYS
            for code in self.neighbourhoods
        }
        self.table_members = {t[0]: sorted(t[4]) for t in TABLES}
        self.table_weekday = {t[0]: t[5] for t in TABLES}
        # Aggregates alive in the simulation, by public id.
        self.cases: dict[str, Case] = {}
        self.commitments: dict[str, Commitment] = {}
        self.tables: dict[str, Table] = {}
        self.assemblies_planned: set[str] = set()
        self.sessions_planned: dict[tuple[str, date], str] = {}
        self.merge_candidates: dict[tuple[str, Theme], list[tuple[datetime, str]]] = {}
        self.case_numbers = itertools.count(1)
        self.holders: dict[str, str | None] = {}
        self.clock_value = now

    # -- time ------------------------------------------------------------------------

    def at(self, day: date, hour: float) -> datetime:
        hours = int(hour)
        minutes = int((hour - hours) * 60)
        local = datetime.combine(day, dtime(hours, minutes), tzinfo=self.zone)
        return local.astimezone(UTC)

    def clock(self) -> datetime:
        return self.clock_value

    def later(self, when: datetime, low_hours: float, high_hours: float) -> datetime:
        return when + timedelta(hours=self.rng.uniform(low_hours, high_hours))

    def assembly_day(self, territory: str, on_or_after: date) -> date:
        """The neighbourhood's next regular assembly (every two weeks) on or after a day."""
        offset = (on_or_after - self.first_day).days - self.assembly_offset[territory]
        wait = (-offset) % ASSEMBLY_EVERY_DAYS
        return on_or_after + timedelta(days=wait)

    def next_weekday(self, after: date, weekday: int) -> date:
        return after + timedelta(days=(weekday - after.weekday()) % 7 or 7)

    # -- planning ----------------------------------------------------------------------

    def plan(self, when: datetime, events: int, action: Callable[[], list[Any]]) -> bool:
        """Schedules a step; a step after now never happens (False)."""
        if when >= self.now:
            return False
        receipt = 1 if self.rng.random() < self.receipt_fraction else 0
        if receipt:
            inner = action

            def action() -> list[Any]:
                changed = inner()
                self.counts["receipts"] += 1
                changed.append(
                    IdempotencyReceipt(
                        municipality=self.m,
                        public_id=uuid4().hex + uuid4().hex,
                        command="bench",
                        fingerprint=uuid4().hex,
                        result={"id": "bench", "version": 1},
                        actor="integration:bench",
                    )
                )
                return changed

        heapq.heappush(self.heap, (when, next(self.seq), _Step(action, events + receipt)))
        self.planned_events += events + receipt
        return True

    def plan_assembly(self, territory: str, day: date) -> str | None:
        assembly_id = f"asm-hist-{territory}-{day.isoformat()}"
        if assembly_id in self.assemblies_planned:
            return assembly_id
        rng = self.rng
        kind = rng.choices(list(AssemblyKind), [50, 20, 15, 15])[0]
        attendance = (
            rng.randint(150, 600)
            if kind is AssemblyKind.ITINERANT_ASSEMBLY
            else rng.randint(18, 120)
        )

        def hold() -> list[Any]:
            self.counts["assemblies"] += 1
            return [
                Assembly.hold(
                    municipality=self.m,
                    public_id=assembly_id,
                    territory_id=territory,
                    kind=kind,
                    held_on=day,
                    attendance=attendance,
                    facilitator=rng.choice(["Mariana Torres Aguilar (DGPPC)", None]),
                    actor=FACILITATOR,
                )
            ]

        if not self.plan(self.at(day, 10), 1, hold):
            return None
        self.assemblies_planned.add(assembly_id)
        return assembly_id

    def plan_session(self, table_id: str, day: date) -> str | None:
        key = (table_id, day)
        if key in self.sessions_planned:
            return self.sessions_planned[key]
        session_id = str(uuid4())
        members = self.table_members[table_id]

        def hold() -> list[Any]:
            table = self.tables[table_id]
            table.hold_session(
                session_id=session_id,
                held_on=day,
                attending_agency_ids=list(members),
                minutes=f"Sesión ordinaria del {demo.fecha(day)}: revisión de los planteamientos "
                "turnados a la mesa y seguimiento de acuerdos.",
                actor=_secretary(table_id),
            )
            self.counts["sessions"] += 1
            return [table]

        if not self.plan(self.at(day, 9), 1, hold):
            return None
        self.sessions_planned[key] = session_id
        return session_id

    def plan_case(self) -> None:
        rng = self.rng
        number = next(self.case_numbers)
        territory = rng.choices(self.neighbourhoods, self.weights)[0]
        directorate = self.directorate_of[territory]
        day = self.first_day + timedelta(days=rng.randrange(self.days))
        from_assembly = rng.random() < 0.7
        assembly_id = None
        if from_assembly:
            # The assembly of the neighbourhood on or before that day.
            day = self.assembly_day(territory, day)
            if day >= self.today:
                day -= timedelta(days=ASSEMBLY_EVERY_DAYS)
            assembly_id = self.plan_assembly(territory, day)
            raised = self.at(day, rng.uniform(10.5, 13.5))
            actor = FACILITATOR
        else:
            raised = self.at(day, rng.uniform(7, 21))
            actor = SUAC
        if raised >= self.now:
            return
        theme = rng.choice(list(Theme))
        title, description = rng.choice(CASE_TEMPLATES[theme])
        words = {
            "street": rng.choice(STREETS),
            "street2": rng.choice(STREETS),
            "place": place_for(title, rng),
            "colonia": self.name_of[territory],
            "n": rng.randint(3, 12),
        }
        external_id = f"hist-{number:07d}"
        case_id = str(uuid4())

        def raise_case(theme: Theme = theme) -> list[Any]:
            case = Case(
                municipality=self.m,
                public_id=case_id,
                territory_id=territory,
                theme=theme,
                title=fill(title, words),
                description=fill(description, words),
                assembly_id=assembly_id,
                external_id=external_id,
                reporter_sealed=None,
                location=None,
                actor=actor,
            )
            self.cases[case_id] = case
            self.counts["cases"] += 1
            return [case]

        self.plan(raised, 1, raise_case)
        official = ROSA if directorate == TEOTONGO else f"coordinator:enlace-{directorate[3:]}"

        def case_step(when: datetime, command: str, **kwargs: Any) -> bool:
            """Plans ``case.<command>(**kwargs)`` (arguments bound now)."""

            def act() -> list[Any]:
                case = self.cases[case_id]
                getattr(case, command)(**kwargs)
                return [case]

            return self.plan(when, 1, act)

        fate = rng.random()
        if fate < 0.04:
            return  # never triaged
        triaged = self.later(raised, 3, 6 * 24)
        priority = rng.choices(
            list(Priority), [10, 40, 35, 15] if theme in SAFETY_LIKE else [25, 45, 25, 5]
        )[0]
        if rng.random() < 0.3:
            theme = RETHEMED.get(title, theme)
        if not case_step(triaged, "triage", theme=theme, priority=priority, actor=official):
            return
        roll = rng.random()
        if roll < 0.05:
            reason, referral = rng.choice(DECLINE_REASONS)
            case_step(
                self.later(triaged, 1, 72),
                "decline",
                reason=reason,
                referred_to=referral,
                actor=official,
            )
            return
        candidates = self.merge_candidates.setdefault((directorate, theme), [])
        earlier = [(t, i) for t, i in candidates if t < raised]
        if roll < 0.09 and earlier:
            target = max(earlier)[1]
            case_step(self.later(triaged, 1, 48), "merge_into", target_id=target, actor=official)
            return
        candidates.append((raised, case_id))
        if roll > 0.93:
            return  # triaged, waiting for a table
        tables = _tables_for(theme, directorate)
        if priority is Priority.URGENT and theme is Theme.SAFETY:
            tables.append(GENERAL_CABINET)
        routed = self.later(triaged, 1, 48)
        if not case_step(routed, "route", table_ids=list(tables), actor=official):
            return
        table_id = tables[0]
        session_day = self.next_weekday(
            routed.astimezone(self.zone).date(), self.table_weekday[table_id]
        )
        if rng.random() < 0.1:
            session_day += timedelta(days=7)  # not on this session's agenda
        session_id = self.plan_session(table_id, session_day)
        if session_id is None:
            return
        templates = ANSWERS[title]
        members = self.table_members[table_id]
        preferred = [t for t in templates if t[0] in members] or templates
        count = 1 if rng.random() < 0.6 else 2
        outcomes: list[datetime | None] = []
        for n, (agency, text, low, high) in enumerate(
            rng.sample(preferred, min(count, len(preferred)))
        ):
            outcomes.append(
                self.plan_commitment(
                    case_id,
                    territory,
                    table_id,
                    session_id,
                    session_day,
                    agency,
                    fill(text, words),
                    low,
                    high,
                    first=n == 0,
                )
            )
        if not outcomes or not all(outcomes):
            return
        last = max(o for o in outcomes if o is not None)
        outcome = rng.random()
        if outcome >= 0.85:
            return
        resolve_on = self.later(last, 24, 10 * 24)
        summary = "Los acuerdos se cumplieron y la comunidad los validó en asamblea."
        if not case_step(resolve_on, "resolve", summary=summary, actor=official):
            return
        if outcome >= 0.65:
            return
        close_day = self.assembly_day(
            territory, resolve_on.astimezone(self.zone).date() + timedelta(days=1)
        )
        closing = self.plan_assembly(territory, close_day)
        if closing is None:
            return
        closed = self.at(close_day, 12)
        if not case_step(closed, "close", assembly_id=closing, actor=official):
            return
        if rng.random() < 0.1:
            reason = "El problema volvió a presentarse semanas después del cierre."
            case_step(self.later(closed, 7 * 24, 60 * 24), "reopen", reason=reason, actor=official)

    def plan_commitment(
        self,
        case_id: str,
        territory: str,
        table_id: str,
        session_id: str,
        session_day: date,
        agency: str,
        description: str,
        low: int,
        high: int,
        *,
        first: bool,
    ) -> datetime | None:
        """Plans one commitment's life; returns when the assembly validated it, if it did."""
        rng = self.rng
        commitment_id = str(uuid4())
        made = self.at(session_day, rng.uniform(10, 13))
        due_on = session_day + timedelta(days=rng.randint(low, high))
        post_id = head_post(agency) if rng.random() < 0.85 else None
        secretary = _secretary(table_id)
        worker = staff(agency)

        def make(agency: str = agency, due_on: date = due_on) -> list[Any]:
            case = self.cases[case_id]
            commitment = Commitment.make(
                municipality=self.m,
                public_id=commitment_id,
                case_id=case_id,
                table_id=table_id,
                session_id=session_id,
                assembly_id=None,
                responsible_agency_id=agency,
                post_id=post_id,
                accountable_official_id=self.holders.get(post_id) if post_id else None,
                description=description,
                agreed_on=session_day,
                due_on=due_on,
                actor=secretary,
            )
            case.start_attention(commitment_id=commitment_id, table_id=table_id, actor=secretary)
            self.commitments[commitment_id] = commitment
            self.counts["commitments"] += 1
            return [commitment, case]

        # The case's AttentionStarted comes with its first commitment.
        if not self.plan(made, 2 if first else 1, make):
            return None

        def step(when: datetime, command: str, **kwargs: Any) -> bool:
            """Plans ``commitment.<command>(**kwargs)`` (arguments bound now)."""

            def act() -> list[Any]:
                commitment = self.commitments[commitment_id]
                getattr(commitment, command)(**kwargs)
                return [commitment]

            return self.plan(when, 1, act)

        when = made
        fate = rng.random()
        if rng.random() < 0.04:
            others = [a for a in self.table_members[table_id] if a != agency]
            if others:
                new_agency = rng.choice(others)
                when = self.later(when, 24, 7 * 24)
                new_post = head_post(new_agency)
                if not step(
                    when,
                    "reassign",
                    responsible_agency_id=new_agency,
                    post_id=new_post,
                    accountable_official_id=self.holders.get(new_post),
                    reason="La mesa acordó que el área con atribuciones es otra.",
                    actor=secretary,
                ):
                    return None
                agency, worker = new_agency, staff(new_agency)
        if fate < 0.07:
            reason = rng.choice(OTHER_AGREEMENT)
            step(self.later(when, 24, 30 * 24), "cancel", reason=reason, actor=secretary)
            return None
        if rng.random() < 0.18:
            new_due = due_on + timedelta(days=rng.randint(5, 21))
            reason = rng.choice(RESCHEDULE_REASONS)
            when = self.later(when, 24, max(48, (due_on - session_day).days * 12))
            if not step(when, "reschedule", due_on=new_due, reason=reason, actor=worker):
                return None
            due_on = new_due
        span_hours = max(48.0, (due_on - session_day).days * 24.0)
        reports = rng.choice([1, 1, 2, 2, 3, 4])
        progress = 0
        for _ in range(reports):
            progress = min(95, progress + rng.choice([10, 15, 20, 25, 30]))
            value = progress
            note = rng.choice(PROGRESS_NOTES)
            when = self.later(when, 12, span_hours / reports)
            if not step(when, "report_progress", progress=value, note=note, actor=worker):
                return None
        if fate > 0.88:
            return None  # stalled: still owed, and overdue once its date passes
        rounds = 2 if fate < 0.12 else 1  # disputed once, then done again
        for round_ in range(rounds):
            when = self.later(when, 24, 10 * 24)
            done_on = max(session_day, when.astimezone(self.zone).date())
            evidence = rng.choice(EVIDENCE).format(key=f"{commitment_id}-{round_}")
            if not step(
                when, "report_fulfilment", evidence=evidence, reported_on=done_on, actor=worker
            ):
                return None
            if fate > 0.8:
                return None  # fulfilled, awaiting the community's word
            assembly_day = self.assembly_day(
                territory, when.astimezone(self.zone).date() + timedelta(days=1)
            )
            assembly_id = self.plan_assembly(territory, assembly_day)
            if assembly_id is None:
                return None
            when = self.at(assembly_day, rng.uniform(11, 13))
            if round_ < rounds - 1:
                reason = rng.choice(DISPUTE_REASONS)
                if not step(
                    when,
                    "dispute",
                    assembly_id=assembly_id,
                    reason=reason,
                    held_on=assembly_day,
                    of_the_community=True,  # planned in the case's own territory
                    actor=FACILITATOR,
                ):
                    return None
                when = self.later(when, 24, 7 * 24)
                note = rng.choice(PROGRESS_NOTES)
                if not step(when, "report_progress", progress=90, note=note, actor=worker):
                    return None
            elif not step(
                when,
                "validate",
                assembly_id=assembly_id,
                held_on=assembly_day,
                of_the_community=True,
                actor=FACILITATOR,
            ):
                return None
        return when

    # -- playing --------------------------------------------------------------------------

    def play(
        self, batch_events: int, progress: Callable[[int], None] | None = None
    ) -> tuple[int, int]:
        """Runs every planned step in time order, saving in batches; (events, batches).

        A batch's events are saved in the order their steps ran, not aggregate by
        aggregate: a commitment made for a case already changed in the batch must come
        before the case's ``AttentionStarted``, as one command saves them."""
        dirty: dict[Any, Any] = {}
        events: list[Any] = []
        pending = 0
        written = 0
        batches = 0

        def flush() -> None:
            nonlocal pending, written, batches
            if events:
                # The aggregates too (their events already taken): the library takes
                # their snapshots.
                self.app.save(*events, *dirty.values())
                batches += 1
            written += pending
            pending = 0
            dirty.clear()
            events.clear()
            if progress:
                progress(written)

        with events_stamped_by(self.clock):
            while self.heap:
                when, _, step = heapq.heappop(self.heap)
                self.clock_value = when
                for aggregate in step.action():
                    events.extend(aggregate.collect_events())
                    dirty[aggregate.id] = aggregate
                pending += step.events
                if pending >= batch_events:
                    flush()
            flush()
        return written, batches


def generate(
    app: TequioApplication,
    *,
    municipality: str,
    target_events: int,
    days: int = 540,
    seed: int = 2026,
    receipt_fraction: float = 0.25,
    batch_events: int = 200,
    zone: ZoneInfo | None = None,
    say: Callable[[str], None] = print,
) -> DatasetSummary:
    """Loads the demo, then plays a simulated history until about ``target_events``."""
    started = time.perf_counter()
    summary = demo.load_demo(app, municipality=municipality)
    demo_seconds = time.perf_counter() - started
    say(
        f"  demo: {summary.events_written} events from {summary.commands} commands "
        f"in {demo_seconds:.1f} s"
    )
    history = History(
        app,
        municipality,
        days=days,
        seed=seed,
        receipt_fraction=receipt_fraction,
        zone=zone or app.time_zone,
        now=datetime.now(tz=UTC) - timedelta(minutes=5),
    )
    for table_id, *_ in TABLES:
        history.tables[table_id] = app.repository.get(Table.id_for(municipality, table_id))
    for code, *_ in demo.AGENCIES:
        post: Post = app.repository.get(Post.id_for(municipality, head_post(code)))
        history.holders[head_post(code)] = post.holder_id
    remaining = max(0, target_events - summary.events_written)
    while history.planned_events < remaining:
        history.plan_case()
    planned = time.perf_counter()
    say(
        f"  history: {history.planned_events} events planned over {days} days "
        f"in {planned - started - demo_seconds:.1f} s; writing..."
    )
    marks = [0]

    def progress(written: int) -> None:
        if written - marks[0] >= 50_000:
            marks[0] = written
            say(f"  ... {written} events ({written / (time.perf_counter() - planned):.0f}/s)")

    history_started = time.perf_counter()
    written, batches = history.play(batch_events, progress)
    history_seconds = time.perf_counter() - history_started
    total = app.current_position()
    seconds = time.perf_counter() - started
    active = [
        (c.public_id, c.responsible_agency_id, c.version)
        for c in history.commitments.values()
        if c.status.value in ("OPEN", "IN_PROGRESS")
    ]
    return DatasetSummary(
        municipality=municipality,
        target_events=target_events,
        events=total,
        demo_events=summary.events_written,
        demo_seconds=round(demo_seconds, 1),
        history_events=written,
        history_seconds=round(history_seconds, 1),
        seconds=round(seconds, 1),
        events_per_second=round(written / history_seconds, 0) if history_seconds else 0.0,
        cases=history.counts["cases"] + summary.counts["cases"],
        commitments=history.counts["commitments"] + summary.counts["commitments"],
        assemblies=history.counts["assemblies"] + summary.counts["assemblies"],
        sessions=history.counts["sessions"] + summary.counts["sessions"],
        receipts=history.counts["receipts"],
        days=days,
        batches=batches,
        active_commitments=active,
        case_ids=list(history.cases),
    )
