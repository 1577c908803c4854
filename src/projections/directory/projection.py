"""The directory read model: territories, agencies, posts, officials;
and who held which post when."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from cases.directory import Agency, Post, Territory
from projections.base import TequioProjection, TequioView, enum_value, event_class, index

TERRITORIES = "directory_territories"
AGENCIES = "directory_agencies"
POSTS = "directory_posts"
OFFICIALS = "directory_officials"
POST_TERMS = "directory_post_terms"

TERRITORY_ADDED = event_class(Territory, "Added")
TERRITORY_UPDATED = event_class(Territory, "Updated")
AGENCY_ADDED = event_class(Agency, "Added")
AGENCY_UPDATED = event_class(Agency, "Updated")
POST_ADDED = event_class(Post, "Added")
HOLDER_APPOINTED = event_class(Post, "HolderAppointed")


class DirectoryView(TequioView):
    TABLES = (TERRITORIES, AGENCIES, POSTS, OFFICIALS, POST_TERMS)
    CREATE = (
        f"CREATE TABLE IF NOT EXISTS {TERRITORIES} ("
        " municipality text NOT NULL, id text NOT NULL, uuid uuid NOT NULL UNIQUE,"
        " name text NOT NULL, kind text NOT NULL, parent_id text,"
        " version integer NOT NULL, updated_at timestamptz NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        index(TERRITORIES, "parent", "municipality, parent_id"),
        f"CREATE TABLE IF NOT EXISTS {AGENCIES} ("
        " municipality text NOT NULL, id text NOT NULL, uuid uuid NOT NULL UNIQUE,"
        " name text NOT NULL, level text NOT NULL,"
        " version integer NOT NULL, updated_at timestamptz NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        f"CREATE TABLE IF NOT EXISTS {POSTS} ("
        " municipality text NOT NULL, id text NOT NULL, uuid uuid NOT NULL UNIQUE,"
        " title text NOT NULL, agency_id text NOT NULL, holder_id text,"
        " version integer NOT NULL, updated_at timestamptz NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        index(POSTS, "agency", "municipality, agency_id"),
        f"CREATE TABLE IF NOT EXISTS {OFFICIALS} ("
        " municipality text NOT NULL, id text NOT NULL, name text NOT NULL,"
        " PRIMARY KEY (municipality, id))",
        # One row per term; the open term has ended_at NULL. ``position`` (the
        # notification id of the appointment) keeps two appointments apart.
        f"CREATE TABLE IF NOT EXISTS {POST_TERMS} ("
        " municipality text NOT NULL, post_id text NOT NULL, official_id text NOT NULL,"
        " started_at timestamptz NOT NULL, ended_at timestamptz, position bigint NOT NULL,"
        " PRIMARY KEY (municipality, post_id, position))",
        index(POST_TERMS, "at", "municipality, post_id, started_at"),
    )


class DirectoryProjection(TequioProjection[DirectoryView]):
    name = "directory"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register(TERRITORY_ADDED)
    def _territory_added(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            curs.execute(
                f"INSERT INTO {TERRITORIES} (municipality, id, uuid, name, kind, parent_id,"
                " version, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    e.municipality,
                    e.public_id,
                    e.originator_id,
                    e.name,
                    e.kind,
                    e.parent_id,
                    e.originator_version,
                    e.timestamp,
                ),
            )

    @process_event.register(TERRITORY_UPDATED)
    def _territory_updated(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            curs.execute(
                f"UPDATE {TERRITORIES} SET name = %s, kind = %s, parent_id = %s,"
                " version = %s, updated_at = %s WHERE uuid = %s",
                (e.name, e.kind, e.parent_id, e.originator_version, e.timestamp, e.originator_id),
            )

    @process_event.register(AGENCY_ADDED)
    def _agency_added(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            curs.execute(
                f"INSERT INTO {AGENCIES} (municipality, id, uuid, name, level, version, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    e.municipality,
                    e.public_id,
                    e.originator_id,
                    e.name,
                    enum_value(e.level),
                    e.originator_version,
                    e.timestamp,
                ),
            )

    @process_event.register(AGENCY_UPDATED)
    def _agency_updated(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            curs.execute(
                f"UPDATE {AGENCIES} SET name = %s, level = %s, version = %s, updated_at = %s"
                " WHERE uuid = %s",
                (e.name, enum_value(e.level), e.originator_version, e.timestamp, e.originator_id),
            )

    @process_event.register(POST_ADDED)
    def _post_added(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            curs.execute(
                f"INSERT INTO {POSTS} (municipality, id, uuid, title, agency_id, holder_id,"
                " version, updated_at) VALUES (%s, %s, %s, %s, %s, NULL, %s, %s)",
                (
                    e.municipality,
                    e.public_id,
                    e.originator_id,
                    e.title,
                    e.agency_id,
                    e.originator_version,
                    e.timestamp,
                ),
            )

    @process_event.register(HOLDER_APPOINTED)
    def _holder_appointed(self, e: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as curs:
            curs.execute(
                f"UPDATE {POSTS} SET holder_id = %s, version = %s, updated_at = %s"
                " WHERE uuid = %s RETURNING municipality, id",
                (e.official_id, e.originator_version, e.timestamp, e.originator_id),
            )
            post = curs.fetchone()
            if post is None:
                raise LookupError(f"post {e.originator_id} is not in the directory")
            municipality, post_id = post["municipality"], post["id"]
            curs.execute(
                f"INSERT INTO {OFFICIALS} (municipality, id, name) VALUES (%s, %s, %s)"
                " ON CONFLICT (municipality, id) DO UPDATE SET name = EXCLUDED.name",
                (municipality, e.official_id, e.official_name),
            )
            # The previous holder's term ends at this event's timestamp.
            curs.execute(
                f"UPDATE {POST_TERMS} SET ended_at = %s"
                " WHERE municipality = %s AND post_id = %s AND ended_at IS NULL",
                (e.timestamp, municipality, post_id),
            )
            curs.execute(
                f"INSERT INTO {POST_TERMS} (municipality, post_id, official_id, started_at,"
                " ended_at, position) VALUES (%s, %s, %s, %s, NULL, %s)",
                (municipality, post_id, e.official_id, e.timestamp, tracking.notification_id),
            )
