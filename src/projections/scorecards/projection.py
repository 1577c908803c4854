"""Agency scorecards: the facts of each commitment that the counters are made of.

One small row per commitment (agency, status, dates, reschedules, when its
fulfilment was reported and whether that was on time); the counters are summed
at query time, so a scorecard can be cut by territory, respects cabinet
confidentiality, and counts ``overdue`` against the ``today`` the caller passes.

Decisions (see ``queries.py`` for the counters):

- ``fulfilled`` counts commitments whose fulfilment report currently stands
  (status FULFILLED or VALIDATED), once each. A disputed report no longer counts;
  a later report counts again (still once). Cancelling it removes it.
- ``on_time``: the standing report's day (``FulfilmentReported.reported_on``, or
  for events without it the event's timestamp as a date in the municipality's
  time zone) is on or before the due date in force at that moment.
- days to fulfil: from ``agreed_on`` to that day.
- a reassigned commitment counts for its current responsible agency.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from cases.case import Case
from cases.commitment import Commitment
from cases.forums import Table
from projections.base import Missing, TequioProjection, TequioView, enum_value, event_class, index
from projections.rules import reported_day, time_zone
from projections.territory_tree import (
    TERRITORY_ADDED,
    TERRITORY_UPDATED,
    add_territory,
    move_territory,
    territory_ddl,
)

COMMITMENTS = "scorecards_commitments"
TABLE_KINDS = "scorecards_tables"
CASE_TERRITORIES = "scorecards_cases"
TERRITORIES = "scorecards_territories"

CASE_RAISED = event_class(Case, "Raised")
TABLE_CREATED = event_class(Table, "Created")
MADE = event_class(Commitment, "Made")
PROGRESS_REPORTED = event_class(Commitment, "ProgressReported")
RESCHEDULED = event_class(Commitment, "Rescheduled")
REASSIGNED = event_class(Commitment, "Reassigned")
FULFILMENT_REPORTED = event_class(Commitment, "FulfilmentReported")
VALIDATED = event_class(Commitment, "Validated")
DISPUTED = event_class(Commitment, "Disputed")
CANCELLED = event_class(Commitment, "Cancelled")


class ScorecardsView(TequioView):
    TABLES = (COMMITMENTS, TABLE_KINDS, CASE_TERRITORIES, TERRITORIES)
    # A commitment is made with its table's kind and its case's territory.
    WRITE_ORDER = (TABLE_KINDS, CASE_TERRITORIES, TERRITORIES, COMMITMENTS)
    CREATE = (
        f"CREATE TABLE IF NOT EXISTS {COMMITMENTS} ("
        " municipality text NOT NULL, id text NOT NULL, uuid uuid NOT NULL UNIQUE,"
        " agency_id text NOT NULL, status text NOT NULL,"
        " due_on date NOT NULL, agreed_on date NOT NULL,"
        " territory_id text, table_id text, table_kind text,"
        " reschedules integer NOT NULL DEFAULT 0,"
        " fulfilled_on date, on_time boolean,"
        " PRIMARY KEY (municipality, id))",
        index(COMMITMENTS, "agency", "municipality, agency_id"),
        f"CREATE TABLE IF NOT EXISTS {TABLE_KINDS} ("
        " municipality text NOT NULL, id text NOT NULL, kind text NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        f"CREATE TABLE IF NOT EXISTS {CASE_TERRITORIES} ("
        " municipality text NOT NULL, id text NOT NULL, territory_id text NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        *territory_ddl(TERRITORIES),
    )


def _set(columns: str) -> str:
    return f"UPDATE {COMMITMENTS} SET {columns} WHERE uuid = %(uuid)s"


MAKE = (
    f"INSERT INTO {COMMITMENTS} (municipality, id, uuid, agency_id, status, due_on, agreed_on,"
    " territory_id, table_id, table_kind)"
    " VALUES (%(municipality)s, %(id)s, %(uuid)s, %(agency)s, 'OPEN', %(due_on)s, %(agreed_on)s,"
    f" (SELECT territory_id FROM {CASE_TERRITORIES}"
    "   WHERE municipality = %(municipality)s AND id = %(case_id)s),"
    " %(table_id)s,"
    f" (SELECT kind FROM {TABLE_KINDS}"
    "   WHERE municipality = %(municipality)s AND id = %(table_id)s))"
)
STATUS = _set("status = %(status)s")
RESCHEDULE = _set("due_on = %(due_on)s, reschedules = reschedules + 1")
REASSIGN = _set("agency_id = %(agency)s")
FULFIL = _set(
    "status = 'FULFILLED', fulfilled_on = %(fulfilled_on)s, on_time = %(fulfilled_on)s <= due_on"
)
DISPUTE = _set("status = 'IN_PROGRESS', fulfilled_on = NULL, on_time = NULL")


class ScorecardsProjection(TequioProjection[ScorecardsView]):
    name = "scorecards"

    def __init__(self, view: ScorecardsView) -> None:
        super().__init__(view)
        self.zone = time_zone()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    def _update(self, e: Any, tracking: Tracking, statement: str, **params: Any) -> None:
        with self.view.tracked(tracking) as curs:
            self.view.write(
                curs,
                COMMITMENTS,
                statement,
                {"uuid": e.originator_id} | params,
                missing=Missing("commitment", e.originator_id, "is not in the scorecards"),
                row=e.originator_id,
            )

    @process_event.register(TERRITORY_ADDED)
    def _territory_added(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            add_territory(curs, TERRITORIES, e)

    @process_event.register(TERRITORY_UPDATED)
    def _territory_updated(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            move_territory(curs, TERRITORIES, e)

    @process_event.register(TABLE_CREATED)
    def _table_created(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self.view.write(
                curs,
                TABLE_KINDS,
                f"INSERT INTO {TABLE_KINDS} (municipality, id, kind) VALUES (%s, %s, %s)",
                (e.municipality, e.public_id, enum_value(e.kind)),
                row=e.originator_id,
            )

    @process_event.register(CASE_RAISED)
    def _case_raised(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self.view.write(
                curs,
                CASE_TERRITORIES,
                f"INSERT INTO {CASE_TERRITORIES} (municipality, id, territory_id)"
                " VALUES (%s, %s, %s)",
                (e.municipality, e.public_id, e.territory_id),
                row=e.originator_id,
            )

    @process_event.register(MADE)
    def _made(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self.view.write(
                curs,
                COMMITMENTS,
                MAKE,
                {
                    "municipality": e.municipality,
                    "id": e.public_id,
                    "uuid": e.originator_id,
                    "agency": e.responsible_agency_id,
                    "due_on": e.due_on,
                    "agreed_on": e.agreed_on,
                    "case_id": e.case_id,
                    "table_id": e.table_id,
                },
                row=e.originator_id,
            )

    @process_event.register(PROGRESS_REPORTED)
    def _progress_reported(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, STATUS, status="IN_PROGRESS")

    @process_event.register(RESCHEDULED)
    def _rescheduled(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, RESCHEDULE, due_on=e.due_on)

    @process_event.register(REASSIGNED)
    def _reassigned(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, REASSIGN, agency=e.responsible_agency_id)

    @process_event.register(FULFILMENT_REPORTED)
    def _fulfilment_reported(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, FULFIL, fulfilled_on=reported_day(e, self.zone))

    @process_event.register(VALIDATED)
    def _validated(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, STATUS, status="VALIDATED")

    @process_event.register(DISPUTED)
    def _disputed(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, DISPUTE)

    @process_event.register(CANCELLED)
    def _cancelled(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, STATUS, status="CANCELLED")
