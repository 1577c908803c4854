"""The event feed: one row per published notification, keyed by its position in the log.

Each row holds the public CloudEvent attributes of one domain event (``id``,
``type``, ``subject``, ``time``) and its public ``data``; ``queries.py`` turns rows
into CloudEvents. What is never published (the event is still tracked, so the
position advances and read-your-writes waits work):

- idempotency receipts, and any event class not listed in ``types.PUBLISHED``;
- every event of a ``SECURITY_CABINET`` table (its creation, members, sessions and
  minutes) and of a commitment agreed at one (its table is a cabinet, or its
  session is a cabinet's session);
- personal data: fields named ``reporter*``/``contact`` (``projections.base``), and
  the free-text reason of a reporter erasure (it may name the person).

Cabinet traces in public events are removed too: a case routed to a cabinet lists
only its other tables, and a case put in attention by a cabinet commitment does not
name it. The view keeps its own small copy of each aggregate's kind, public id and
confidentiality (ADR 0008), so it can be dropped and rebuilt alone.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking
from psycopg import Cursor
from psycopg.rows import DictRow

from projections.base import (
    TequioProjection,
    TequioView,
    enum_value,
    event_fields,
    index,
    jsonb,
    remember,
)
from projections.feed.types import EVENT_KINDS, type_name
from projections.rules import SECURITY_CABINET

EVENTS = "feed_events"
SUBJECTS = "feed_subjects"
CABINET_SESSIONS = "feed_cabinet_sessions"

EVENT_COLUMNS = ("position", "municipality", "id", "type", "subject", "time", "data")

# Shown as the CloudEvent's ``subject``, so left out of ``data``.
NOT_DATA = frozenset({"public_id"})
# Events whose free text may name a person: only the fact (and who recorded it).
FACT_ONLY = frozenset({"ReporterErased"})


class FeedView(TequioView):
    TABLES = (EVENTS, SUBJECTS, CABINET_SESSIONS)
    APPENDED = (EVENTS,)
    CREATE = (
        f"CREATE TABLE IF NOT EXISTS {EVENTS} ("
        " position bigint PRIMARY KEY, municipality text NOT NULL, id text NOT NULL,"
        " type text NOT NULL, subject text NOT NULL, time timestamptz NOT NULL,"
        " data jsonb NOT NULL, UNIQUE (municipality, id))",
        index(EVENTS, "log", "municipality, position"),
        index(EVENTS, "type", "municipality, type, position"),
        index(EVENTS, "subject", "municipality, subject, position"),
        f"CREATE TABLE IF NOT EXISTS {SUBJECTS} ("
        " uuid uuid PRIMARY KEY, municipality text NOT NULL, kind text NOT NULL,"
        " public_id text NOT NULL, confidential boolean NOT NULL,"
        " UNIQUE (municipality, kind, public_id))",
        f"CREATE TABLE IF NOT EXISTS {CABINET_SESSIONS} ("
        " municipality text NOT NULL, id text NOT NULL, PRIMARY KEY (municipality, id))",
    )


# Facts kept in memory by a running projection (each map) before it starts over.
SUBJECT_CACHE_SIZE = 100_000


class FeedProjection(TequioProjection[FeedView]):
    name = "feed"

    def __init__(self, view: FeedView) -> None:
        super().__init__(view)
        # Facts fixed when they are first recorded, so an entry stays true even if the
        # batch that added it is rolled back and replayed; a fact not in memory is read
        # from the view's tables (and then kept, found or not: what is recorded later
        # comes through this projection and is kept then).
        # uuid -> (municipality, public id, confidential)
        self._subjects: dict[Any, tuple[str, str, bool]] = {}
        # (municipality, kind, public id) -> confidential (None: never recorded)
        self._confidential: dict[tuple[str, str, str], bool | None] = {}
        # (municipality, session id) -> the session was a cabinet's
        self._cabinet_sessions: dict[tuple[str, str], bool] = {}

    def handles(self, event_class: type) -> bool:
        return event_class in EVENT_KINDS

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        e: Any = domain_event
        published = EVENT_KINDS.get(type(e))
        if published is None:
            self.view.skip(tracking)
            return
        kind, event_name = published
        created = isinstance(domain_event, Aggregate.Created)
        with self.view.tracked(tracking) as curs:
            if created:
                municipality, public_id = e.municipality, e.public_id
                confidential = self._is_confidential(curs, kind, e)
                self.view.write(
                    curs,
                    SUBJECTS,
                    f"INSERT INTO {SUBJECTS} (uuid, municipality, kind, public_id, confidential)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (e.originator_id, municipality, kind, public_id, confidential),
                    row=e.originator_id,
                )
                self._remember(e.originator_id, (municipality, public_id, confidential), kind)
            else:
                municipality, public_id, confidential = self._subject(curs, e)
            if event_name == "SessionHeld":
                self._keep(self._cabinet_sessions, (municipality, e.session_id), confidential)
            if confidential:
                if event_name == "SessionHeld":  # commitments of this session are the cabinet's
                    self.view.write(
                        curs,
                        CABINET_SESSIONS,
                        f"INSERT INTO {CABINET_SESSIONS} (municipality, id) VALUES (%s, %s)",
                        (municipality, e.session_id),
                        row=(municipality, e.session_id),
                    )
                return
            data = self._data(curs, municipality, event_name, e)
            self.view.append(
                curs,
                EVENTS,
                EVENT_COLUMNS,
                (
                    tracking.notification_id,
                    municipality,
                    f"{kind}/{public_id}/{e.originator_version}",
                    type_name(kind, event_name),
                    f"{kind}/{public_id}",
                    e.timestamp,
                    jsonb(data),
                ),
            )

    # -- what may be published ----------------------------------------------------------

    def _subject(self, curs: Cursor[DictRow], e: Any) -> tuple[str, str, bool]:
        known = self._subjects.get(e.originator_id)
        if known is not None:
            return known
        curs.execute(
            f"SELECT municipality, kind, public_id, confidential FROM {SUBJECTS} WHERE uuid = %s",
            (e.originator_id,),
        )
        row = curs.fetchone()
        if row is None:
            raise LookupError(f"{e.originator_id} is not in the feed (its creation was not seen)")
        subject = (row["municipality"], row["public_id"], row["confidential"])
        self._remember(e.originator_id, subject, row["kind"])
        return subject

    def _remember(self, uuid: Any, subject: tuple[str, str, bool], kind: str) -> None:
        self._keep(self._subjects, uuid, subject)
        municipality, public_id, confidential = subject
        self._keep(self._confidential, (municipality, kind, public_id), confidential)

    @staticmethod
    def _keep(facts: dict[Any, Any], key: Any, value: Any) -> None:
        remember(facts, key, value, SUBJECT_CACHE_SIZE)

    def _is_confidential(self, curs: Cursor[DictRow], kind: str, e: Any) -> bool:
        if kind == "table":
            return bool(enum_value(e.kind) == SECURITY_CABINET)
        if kind == "commitment":
            if e.table_id is not None and self._cabinets(curs, e.municipality, [e.table_id]):
                return True
            if e.session_id is not None:
                return self._cabinet_session(curs, e.municipality, e.session_id)
        return False

    def _cabinet_session(self, curs: Cursor[DictRow], municipality: str, session_id: str) -> bool:
        known = self._cabinet_sessions.get((municipality, session_id))
        if known is None:
            curs.execute(
                f"SELECT 1 FROM {CABINET_SESSIONS} WHERE municipality = %s AND id = %s",
                (municipality, session_id),
            )
            known = curs.fetchone() is not None
            self._keep(self._cabinet_sessions, (municipality, session_id), known)
        return known

    def _confidentiality(
        self, curs: Cursor[DictRow], municipality: str, kind: str, public_ids: list[str]
    ) -> dict[str, bool | None]:
        """Whether each of ``public_ids`` (of ``kind``) is confidential; None if the feed
        has not seen it."""
        answer = {i: self._confidential.get((municipality, kind, i)) for i in public_ids}
        unknown = [i for i in public_ids if (municipality, kind, i) not in self._confidential]
        if unknown:
            curs.execute(
                f"SELECT public_id, confidential FROM {SUBJECTS}"
                " WHERE municipality = %s AND kind = %s AND public_id = any(%s)",
                (municipality, kind, unknown),
            )
            found = {row["public_id"]: row["confidential"] for row in curs.fetchall()}
            for public_id in unknown:
                # The answer, not the memory: keeping one fact may forget the others.
                answer[public_id] = found.get(public_id)
                self._keep(self._confidential, (municipality, kind, public_id), answer[public_id])
        return answer

    def _cabinets(self, curs: Cursor[DictRow], municipality: str, table_ids: list[str]) -> set[str]:
        """Those of ``table_ids`` that are security cabinets."""
        found = self._confidentiality(curs, municipality, "table", table_ids)
        return {table_id for table_id, confidential in found.items() if confidential}

    def _data(
        self, curs: Cursor[DictRow], municipality: str, event_name: str, e: Any
    ) -> dict[str, Any]:
        data = event_fields(e, NOT_DATA)
        if event_name in FACT_ONLY:
            return {"actor": data.get("actor")}
        if event_name == "Routed":
            hidden = self._cabinets(curs, municipality, list(data["table_ids"]))
            data["table_ids"] = [t for t in data["table_ids"] if t not in hidden]
        elif event_name == "AttentionStarted":
            commitment = data["commitment_id"]
            found = self._confidentiality(curs, municipality, "commitment", [commitment])
            if found[commitment] is not False:  # a cabinet's, or not published
                # Who agreed it would name the cabinet as surely as its id.
                del data["commitment_id"]
                data.pop("actor", None)
        return data
