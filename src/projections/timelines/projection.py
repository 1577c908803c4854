"""Timelines: every event of a case or a commitment, in order, with its displayable facts.

The reporter (personal data) is never copied. Summaries in English or Spanish
are made at read time from ``type`` and ``data`` (see ``summaries.py``).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from psycopg import Cursor
from psycopg.rows import DictRow

from cases.case import Case
from cases.commitment import Commitment
from projections.base import (
    TequioProjection,
    TequioView,
    event_class,
    event_fields,
    index,
    jsonb,
    remember,
)

ENTRIES = "timelines_entries"
SUBJECTS = "timelines_subjects"

CASE_EVENT = event_class(Case, "Event")
CASE_RAISED = event_class(Case, "Raised")
COMMITMENT_EVENT = event_class(Commitment, "Event")
COMMITMENT_MADE = event_class(Commitment, "Made")

# Shown elsewhere in the entry (subject_id, actor), so left out of ``data``.
NOT_DATA = frozenset({"public_id", "actor"})


ENTRY_COLUMNS = (
    "municipality",
    "subject_kind",
    "subject_id",
    "case_id",
    "position",
    "at",
    "type",
    "actor",
    "data",
)

# Subjects kept in memory by a running projection before it starts over.
SUBJECT_CACHE_SIZE = 100_000


class TimelinesView(TequioView):
    TABLES = (ENTRIES, SUBJECTS)
    WRITE_ORDER = (SUBJECTS, ENTRIES)
    APPENDED = (ENTRIES,)
    CREATE = (
        f"CREATE TABLE IF NOT EXISTS {ENTRIES} ("
        " municipality text NOT NULL, subject_kind text NOT NULL, subject_id text NOT NULL,"
        " case_id text NOT NULL, position bigint PRIMARY KEY, at timestamptz NOT NULL,"
        " type text NOT NULL, actor text, data jsonb NOT NULL)",
        index(ENTRIES, "subject", "municipality, subject_kind, subject_id, position"),
        index(ENTRIES, "case", "municipality, case_id, position"),
        index(ENTRIES, "changes", "municipality, subject_kind, position"),
        f"CREATE TABLE IF NOT EXISTS {SUBJECTS} ("
        " uuid uuid PRIMARY KEY, municipality text NOT NULL, kind text NOT NULL,"
        " id text NOT NULL, case_id text NOT NULL)",
    )


# Events whose free text may name a person (an erasure request's reason): only the
# fact that they happened is shown.
FACT_ONLY = frozenset({"ReporterErased"})


def _data(e: Any) -> Any:
    if type(e).__name__ in FACT_ONLY:
        return jsonb({})
    return jsonb(event_fields(e, NOT_DATA))


class TimelinesProjection(TequioProjection[TimelinesView]):
    name = "timelines"

    def __init__(self, view: TimelinesView) -> None:
        super().__init__(view)
        # uuid -> (municipality, kind, public id, case id), fixed when the subject is
        # created; a subject not in memory is read from the view's table.
        self._subjects: dict[Any, tuple[str, str, str, str]] = {}

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register(CASE_RAISED)
    def _case_raised(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self._subject(curs, e, "case", e.public_id)
            self._entry(curs, e, tracking)

    @process_event.register(COMMITMENT_MADE)
    def _commitment_made(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self._subject(curs, e, "commitment", e.case_id)
            self._entry(curs, e, tracking)

    @process_event.register(CASE_EVENT)
    @process_event.register(COMMITMENT_EVENT)
    def _subject_event(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self._entry(curs, e, tracking)

    def _subject(self, curs: Cursor[DictRow], e: Any, kind: str, case_id: str) -> None:
        self.view.write(
            curs,
            SUBJECTS,
            f"INSERT INTO {SUBJECTS} (uuid, municipality, kind, id, case_id)"
            " VALUES (%s, %s, %s, %s, %s)",
            (e.originator_id, e.municipality, kind, e.public_id, case_id),
            row=e.originator_id,
        )
        subject = (e.municipality, kind, e.public_id, case_id)
        remember(self._subjects, e.originator_id, subject, SUBJECT_CACHE_SIZE)

    def _known(self, curs: Cursor[DictRow], e: Any) -> tuple[str, str, str, str]:
        subject = self._subjects.get(e.originator_id)
        if subject is not None:
            return subject
        curs.execute(
            f"SELECT municipality, kind, id, case_id FROM {SUBJECTS} WHERE uuid = %s",
            (e.originator_id,),
        )
        row = curs.fetchone()
        if row is None:
            raise LookupError(f"{e.originator_id} has no timeline (its creation was not seen)")
        subject = (row["municipality"], row["kind"], row["id"], row["case_id"])
        remember(self._subjects, e.originator_id, subject, SUBJECT_CACHE_SIZE)
        return subject

    def _entry(self, curs: Cursor[DictRow], e: Any, tracking: Tracking) -> None:
        municipality, kind, subject_id, case_id = self._known(curs, e)
        self.view.append(
            curs,
            ENTRIES,
            ENTRY_COLUMNS,
            (
                municipality,
                kind,
                subject_id,
                case_id,
                tracking.notification_id,
                e.timestamp,
                type(e).__name__,
                getattr(e, "actor", None),
                _data(e),
            ),
        )
