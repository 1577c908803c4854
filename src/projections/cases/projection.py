"""The cases read model: case list and detail, Spanish full-text search, territory tree.

The reporter (personal data) carried by ``Case.Raised`` is never copied here.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from cases.case import Case
from projections.base import Missing, TequioProjection, TequioView, enum_value, event_class, index
from projections.territory_tree import (
    TERRITORY_ADDED,
    TERRITORY_UPDATED,
    add_territory,
    move_territory,
    territory_ddl,
)

CASES = "cases_cases"
TERRITORIES = "cases_territories"

CASE_EVENT = event_class(Case, "Event")
RAISED = event_class(Case, "Raised")
TRIAGED = event_class(Case, "Triaged")
ROUTED = event_class(Case, "Routed")
ATTENTION_STARTED = event_class(Case, "AttentionStarted")
RESOLVED = event_class(Case, "Resolved")
CLOSED = event_class(Case, "Closed")
REOPENED = event_class(Case, "Reopened")
MERGED = event_class(Case, "MergedAsDuplicate")
DECLINED = event_class(Case, "Declined")

# Accents are folded before stemming on both sides (document and query), so
# 'lampara', 'lámparas' and 'LÁMPARAS' all meet; no extension is needed.
FOLD_FROM = "áéíóúüÁÉÍÓÚÜ"
FOLD_TO = "aeiouuAEIOUU"


def folded(expression: str) -> str:
    return f"translate({expression}, '{FOLD_FROM}', '{FOLD_TO}')"


_DOCUMENT = folded("title || ' ' || description")
SEARCH_VECTOR = f"to_tsvector('spanish'::regconfig, {_DOCUMENT})"


def search_query(param: str) -> str:
    return f"websearch_to_tsquery('spanish'::regconfig, {folded(param)})"


class CasesView(TequioView):
    TABLES = (CASES, TERRITORIES)
    CREATE = (
        f"CREATE TABLE IF NOT EXISTS {CASES} ("
        " municipality text NOT NULL, id text NOT NULL, uuid uuid NOT NULL UNIQUE,"
        " version integer NOT NULL, title text NOT NULL, description text NOT NULL,"
        " theme text NOT NULL, priority text, status text NOT NULL,"
        " territory_id text NOT NULL, assembly_id text, external_id text,"
        " raised_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
        " table_ids text[] NOT NULL DEFAULT '{}', merged_into text, referred_to text,"
        f" search tsvector GENERATED ALWAYS AS ({SEARCH_VECTOR}) STORED,"
        " PRIMARY KEY (municipality, id))",
        index(CASES, "search", "search", using="gin"),
        index(CASES, "raised", "municipality, raised_at DESC, id"),
        index(CASES, "territory", "municipality, territory_id"),
        index(CASES, "assembly", "municipality, assembly_id"),
        index(CASES, "tables", "table_ids", using="gin"),
        # Added with Case.Raised v3; ADD IF NOT EXISTS keeps older databases working.
        f"ALTER TABLE {CASES} ADD COLUMN IF NOT EXISTS lat double precision,"
        " ADD COLUMN IF NOT EXISTS long double precision, ADD COLUMN IF NOT EXISTS address text",
        *territory_ddl(TERRITORIES),
    )


def _set(columns: str) -> str:
    """An UPDATE of one case by its aggregate id, with version and updated_at."""
    return (
        f"UPDATE {CASES} SET {columns}, version = %(version)s, updated_at = %(at)s"
        " WHERE uuid = %(uuid)s"
    )


TRIAGE = _set(
    "theme = %(theme)s, priority = %(priority)s,"
    " status = CASE WHEN status = 'RAISED' THEN 'TRIAGED' ELSE status END"
)
ROUTE = _set(
    "table_ids = ARRAY(SELECT DISTINCT unnest(table_ids || %(table_ids)s::text[]) ORDER BY 1),"
    " status = CASE WHEN status = 'TRIAGED' THEN 'ROUTED' ELSE status END"
)
STATUS = _set("status = %(status)s")
# Mirrors Case._reopened: back to where the case was before it was finished.
REOPEN = _set(
    "status = CASE WHEN cardinality(table_ids) > 0 THEN 'ROUTED'"
    " WHEN priority IS NOT NULL THEN 'TRIAGED' ELSE 'RAISED' END"
)
# Any other event of a case (e.g. ReporterErased) shows nothing here but its version:
# clients send that version back as expectedVersion.
VERSION_ONLY = (
    f"UPDATE {CASES} SET version = %(version)s, updated_at = %(at)s WHERE uuid = %(uuid)s"
)
MERGE = _set("status = 'MERGED', merged_into = %(target_id)s")
DECLINE = _set("status = 'DECLINED', referred_to = %(referred_to)s")


def _place(location: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    place = location or {}
    return place.get("lat"), place.get("long"), place.get("address")


class CasesProjection(TequioProjection[CasesView]):
    name = "cases"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    def _update(self, e: Any, tracking: Tracking, statement: str, **params: Any) -> None:
        with self.view.tracked(tracking) as curs:
            self.view.write(
                curs,
                CASES,
                statement,
                {"uuid": e.originator_id, "version": e.originator_version, "at": e.timestamp}
                | params,
                missing=Missing("case", e.originator_id, "is not in the cases read model"),
                row=e.originator_id,
            )

    @process_event.register(CASE_EVENT)
    def _other_case_event(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, VERSION_ONLY)

    @process_event.register(TERRITORY_ADDED)
    def _territory_added(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            add_territory(curs, TERRITORIES, e)

    @process_event.register(TERRITORY_UPDATED)
    def _territory_updated(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            move_territory(curs, TERRITORIES, e)

    @process_event.register(RAISED)
    def _raised(self, e: Any, tracking: Tracking) -> None:
        # Not ``e.reporter``: personal data stays in the (encrypted) event only.
        with self.view.tracked(tracking) as curs:
            self.view.write(
                curs,
                CASES,
                f"INSERT INTO {CASES} (municipality, id, uuid, version, title, description,"
                " theme, priority, status, territory_id, assembly_id, external_id,"
                " raised_at, updated_at, lat, long, address)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, 'RAISED', %s, %s, %s, %s, %s,"
                " %s, %s, %s)",
                (
                    e.municipality,
                    e.public_id,
                    e.originator_id,
                    e.originator_version,
                    e.title,
                    e.description,
                    enum_value(e.theme),
                    e.territory_id,
                    e.assembly_id,
                    e.external_id,
                    e.timestamp,
                    e.timestamp,
                    *_place(e.location),
                ),
                row=e.originator_id,
            )

    @process_event.register(TRIAGED)
    def _triaged(self, e: Any, tracking: Tracking) -> None:
        self._update(
            e, tracking, TRIAGE, theme=enum_value(e.theme), priority=enum_value(e.priority)
        )

    @process_event.register(ROUTED)
    def _routed(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, ROUTE, table_ids=list(e.table_ids))

    @process_event.register(ATTENTION_STARTED)
    def _attention_started(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, STATUS, status="IN_ATTENTION")

    @process_event.register(RESOLVED)
    def _resolved(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, STATUS, status="RESOLVED")

    @process_event.register(CLOSED)
    def _closed(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, STATUS, status="CLOSED")

    @process_event.register(REOPENED)
    def _reopened(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, REOPEN)

    @process_event.register(MERGED)
    def _merged(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, MERGE, target_id=e.target_id)

    @process_event.register(DECLINED)
    def _declined(self, e: Any, tracking: Tracking) -> None:
        self._update(e, tracking, DECLINE, referred_to=e.referred_to)
