"""The commitment board: every commitment's status, progress, dates and where it was agreed.

Overdue and days overdue are not stored: queries derive them from ``due_on``
and the ``today`` the caller passes. The projection keeps its own small maps of
table kinds, case territories and the territory tree (from the events it sees
like every other event), so it never reads another read model's tables.
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

COMMITMENTS = "commitments_commitments"
TABLE_KINDS = "commitments_tables"
CASE_TERRITORIES = "commitments_cases"
TERRITORIES = "commitments_territories"

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


class CommitmentsView(TequioView):
    TABLES = (COMMITMENTS, TABLE_KINDS, CASE_TERRITORIES, TERRITORIES)
    # A commitment is made with its table's kind and its case's territory.
    WRITE_ORDER = (TABLE_KINDS, CASE_TERRITORIES, TERRITORIES, COMMITMENTS)
    CREATE = (
        f"CREATE TABLE IF NOT EXISTS {COMMITMENTS} ("
        " municipality text NOT NULL, id text NOT NULL, uuid uuid NOT NULL UNIQUE,"
        " version integer NOT NULL, case_id text NOT NULL, description text NOT NULL,"
        " responsible_agency_id text NOT NULL, post_id text, accountable_when_made_id text,"
        " status text NOT NULL, progress integer NOT NULL DEFAULT 0,"
        " progress_before_fulfilment integer,"
        " due_on date NOT NULL, agreed_on date NOT NULL,"
        " made_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
        " reschedules integer NOT NULL DEFAULT 0, disputes integer NOT NULL DEFAULT 0,"
        " last_dispute_reason text, fulfilled_at timestamptz, fulfilled_on date, evidence text,"
        " validated_at timestamptz, cancelled_reason text,"
        " table_id text, table_kind text, territory_id text, assembly_id text, session_id text,"
        " PRIMARY KEY (municipality, id))",
        index(COMMITMENTS, "due", "municipality, due_on, id"),
        index(COMMITMENTS, "case", "municipality, case_id"),
        index(COMMITMENTS, "agency", "municipality, responsible_agency_id"),
        index(COMMITMENTS, "table", "municipality, table_id"),
        index(COMMITMENTS, "territory", "municipality, territory_id"),
        f"CREATE TABLE IF NOT EXISTS {TABLE_KINDS} ("
        " municipality text NOT NULL, id text NOT NULL, kind text NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        f"CREATE TABLE IF NOT EXISTS {CASE_TERRITORIES} ("
        " municipality text NOT NULL, id text NOT NULL, territory_id text NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        *territory_ddl(TERRITORIES),
    )


def _set(columns: str) -> str:
    """An UPDATE of one commitment by its aggregate id, with version and updated_at."""
    return (
        f"UPDATE {COMMITMENTS} SET {columns}, version = %(version)s, updated_at = %(at)s"
        " WHERE uuid = %(uuid)s"
    )


MAKE = (
    f"INSERT INTO {COMMITMENTS} (municipality, id, uuid, version, case_id, description,"
    " responsible_agency_id, post_id, accountable_when_made_id, status, progress,"
    " due_on, agreed_on, made_at, updated_at, table_id, table_kind, territory_id,"
    " assembly_id, session_id)"
    " VALUES (%(municipality)s, %(id)s, %(uuid)s, %(version)s, %(case_id)s, %(description)s,"
    " %(agency)s, %(post_id)s, %(accountable)s, 'OPEN', 0, %(due_on)s, %(agreed_on)s,"
    " %(at)s, %(at)s, %(table_id)s,"
    f" (SELECT kind FROM {TABLE_KINDS}"
    "   WHERE municipality = %(municipality)s AND id = %(table_id)s),"
    f" (SELECT territory_id FROM {CASE_TERRITORIES}"
    "   WHERE municipality = %(municipality)s AND id = %(case_id)s),"
    " %(assembly_id)s, %(session_id)s)"
)
PROGRESS = _set("progress = %(progress)s, status = 'IN_PROGRESS'")
RESCHEDULE = _set("due_on = %(due_on)s, reschedules = reschedules + 1")
# Who was accountable when the commitment was made stays; `accountable` follows the post.
REASSIGN = _set("responsible_agency_id = %(agency)s, post_id = %(post_id)s")
FULFIL = _set(
    "status = 'FULFILLED', progress_before_fulfilment = progress, progress = 100,"
    " fulfilled_at = %(at)s, fulfilled_on = %(fulfilled_on)s, evidence = %(evidence)s"
)
VALIDATE = _set("status = 'VALIDATED', validated_at = %(at)s")
# The community says it is not done: work goes on, at the progress reported before.
DISPUTE = _set(
    "status = 'IN_PROGRESS', progress = coalesce(progress_before_fulfilment, progress),"
    " progress_before_fulfilment = NULL, fulfilled_at = NULL, fulfilled_on = NULL,"
    " disputes = disputes + 1, last_dispute_reason = %(reason)s"
)
CANCEL = _set("status = 'CANCELLED', cancelled_reason = %(reason)s")


class CommitmentsProjection(TequioProjection[CommitmentsView]):
    name = "commitments"

    def __init__(self, view: CommitmentsView) -> None:
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
                {"uuid": e.originator_id, "version": e.originator_version, "at": e.timestamp}
                | params,
                missing=Missing("commitment", e.originator_id, "is not on the board"),
                row=e.originator_id,
            )

    # -- what the board copies from other aggregates ------------------------------------

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

    # -- the commitment's own story -----------------------------------------------------

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
                    "version": e.originator_version,
                    "case_id": e.case_id,
                    "description": e.description,
                    "agency": e.responsible_agency_id,
                    "post_id": e.post_id,
                    "accountable": e.accountable_official_id,
                    "due_on": e.due_on,
                    "agreed_on": e.agreed_on,
                    "at": e.timestamp,
                    "table_id": e.table_id,
                    "assembly_id": e.assembly_id,
                    "session_id": e.session_id,
                },
                row=e.originator_id,
            )

    @process_event.register(PROGRESS_REPORTED)
    def _progress_reported(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, PROGRESS, progress=e.progress)

    @process_event.register(RESCHEDULED)
    def _rescheduled(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, RESCHEDULE, due_on=e.due_on)

    @process_event.register(REASSIGNED)
    def _reassigned(self, e: Any, tracking: Tracking) -> None:
        self._update(
            e,
            tracking,
            REASSIGN,
            agency=e.responsible_agency_id,
            post_id=e.post_id,
        )

    @process_event.register(FULFILMENT_REPORTED)
    def _fulfilment_reported(self, e: Any, tracking: Tracking) -> None:
        self._update(
            e,
            tracking,
            FULFIL,
            evidence=e.evidence,
            fulfilled_on=reported_day(e, self.zone),
        )

    @process_event.register(VALIDATED)
    def _validated(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, VALIDATE)

    @process_event.register(DISPUTED)
    def _disputed(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, DISPUTE, reason=e.reason)

    @process_event.register(CANCELLED)
    def _cancelled(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, CANCEL, reason=e.reason)
