"""The forums read model: working tables and cabinets, their sessions, and assemblies."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from psycopg import Cursor
from psycopg.rows import DictRow

from cases.forums import Assembly, Table
from projections.base import (
    Missing,
    TequioProjection,
    TequioView,
    enum_value,
    event_class,
    index,
    remember,
)

FORUM_TABLES = "forums_tables"
SESSIONS = "forums_sessions"
ASSEMBLIES = "forums_assemblies"

TABLE_CREATED = event_class(Table, "Created")
MEMBERS_CHANGED = event_class(Table, "MembersChanged")
SESSION_HELD = event_class(Table, "SessionHeld")
ASSEMBLY_HELD = event_class(Assembly, "Held")


class ForumsView(TequioView):
    TABLES = (FORUM_TABLES, SESSIONS, ASSEMBLIES)
    # Sessions and assemblies are recorded once and never change.
    APPENDED = (SESSIONS, ASSEMBLIES)
    CREATE = (
        f"CREATE TABLE IF NOT EXISTS {FORUM_TABLES} ("
        " municipality text NOT NULL, id text NOT NULL, uuid uuid NOT NULL UNIQUE,"
        " name text NOT NULL, kind text NOT NULL, territory_id text,"
        " member_agency_ids text[] NOT NULL, version integer NOT NULL,"
        " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        index(FORUM_TABLES, "kind", "municipality, kind"),
        f"CREATE TABLE IF NOT EXISTS {SESSIONS} ("
        " municipality text NOT NULL, id text NOT NULL, table_id text NOT NULL,"
        " held_on date NOT NULL, attending_agency_ids text[] NOT NULL, minutes text,"
        " recorded_at timestamptz NOT NULL, position bigint NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        index(SESSIONS, "table", "municipality, table_id, held_on"),
        f"CREATE TABLE IF NOT EXISTS {ASSEMBLIES} ("
        " municipality text NOT NULL, id text NOT NULL, uuid uuid NOT NULL UNIQUE,"
        " kind text NOT NULL, territory_id text NOT NULL, held_on date NOT NULL,"
        " attendance integer NOT NULL, facilitator text, recorded_at timestamptz NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        index(ASSEMBLIES, "territory", "municipality, territory_id, held_on"),
    )


SESSION_COLUMNS = (
    "municipality",
    "id",
    "table_id",
    "held_on",
    "attending_agency_ids",
    "minutes",
    "recorded_at",
    "position",
)
ASSEMBLY_COLUMNS = (
    "municipality",
    "id",
    "uuid",
    "kind",
    "territory_id",
    "held_on",
    "attendance",
    "facilitator",
    "recorded_at",
)

# Tables (uuid -> municipality and public id) kept in memory before starting over.
TABLE_CACHE_SIZE = 10_000


class ForumsProjection(TequioProjection[ForumsView]):
    name = "forums"

    def __init__(self, view: ForumsView) -> None:
        super().__init__(view)
        # Fixed when the table is created; one not in memory is read from the view.
        self._tables: dict[Any, tuple[str, str]] = {}

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register(TABLE_CREATED)
    def _table_created(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self.view.write(
                curs,
                FORUM_TABLES,
                f"INSERT INTO {FORUM_TABLES} (municipality, id, uuid, name, kind, territory_id,"
                " member_agency_ids, version, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    e.municipality,
                    e.public_id,
                    e.originator_id,
                    e.name,
                    enum_value(e.kind),
                    e.territory_id,
                    list(e.member_agency_ids),
                    e.originator_version,
                    e.timestamp,
                    e.timestamp,
                ),
                row=e.originator_id,
            )
        remember(self._tables, e.originator_id, (e.municipality, e.public_id), TABLE_CACHE_SIZE)

    @process_event.register(MEMBERS_CHANGED)
    def _members_changed(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self.view.write(
                curs,
                FORUM_TABLES,
                f"UPDATE {FORUM_TABLES} SET member_agency_ids = %s, version = %s, updated_at = %s"
                " WHERE uuid = %s",
                (list(e.member_agency_ids), e.originator_version, e.timestamp, e.originator_id),
                missing=_not_seen(e),
                row=e.originator_id,
            )

    @process_event.register(SESSION_HELD)
    def _session_held(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self.view.write(
                curs,
                FORUM_TABLES,
                f"UPDATE {FORUM_TABLES} SET version = %s, updated_at = %s WHERE uuid = %s",
                (e.originator_version, e.timestamp, e.originator_id),
                missing=_not_seen(e),
                row=e.originator_id,
            )
            municipality, table_id = self._table(curs, e)
            self.view.append(
                curs,
                SESSIONS,
                SESSION_COLUMNS,
                (
                    municipality,
                    e.session_id,
                    table_id,
                    e.held_on,
                    list(e.attending_agency_ids),
                    e.minutes,
                    e.timestamp,
                    tracking.notification_id,
                ),
            )

    @process_event.register(ASSEMBLY_HELD)
    def _assembly_held(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            self.view.append(
                curs,
                ASSEMBLIES,
                ASSEMBLY_COLUMNS,
                (
                    e.municipality,
                    e.public_id,
                    e.originator_id,
                    enum_value(e.kind),
                    e.territory_id,
                    e.held_on,
                    e.attendance,
                    e.facilitator,
                    e.timestamp,
                ),
            )

    def _table(self, curs: Cursor[DictRow], e: Any) -> tuple[str, str]:
        known = self._tables.get(e.originator_id)
        if known is not None:
            return known
        curs.execute(
            f"SELECT municipality, id FROM {FORUM_TABLES} WHERE uuid = %s", (e.originator_id,)
        )
        row = curs.fetchone()
        if row is None:
            raise LookupError(_not_seen(e))
        known = (row["municipality"], row["id"])
        remember(self._tables, e.originator_id, known, TABLE_CACHE_SIZE)
        return known


def _not_seen(e: Any) -> Missing:
    return Missing("table", e.originator_id, "is not in the forums read model")
