"""The application service: one method per command of the contract.

Methods take primitives and ids and return a :class:`CommandResult` (the
public id, the new version, and the notification id a reader can wait on).
No aggregate object leaves this module.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    JSONTranscoder,
    Transcoder,
)

from cases import clock as clocks
from cases.base import TequioAggregate
from cases.case import Case
from cases.commitment import Commitment
from cases.directory import Agency, Post, Territory
from cases.errors import (
    BadInputError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RuleViolation,
    TequioError,
)
from cases.event_store_upkeep import keep_upkeep_short
from cases.forums import Assembly, Table
from cases.ids import (
    case_id_for_external,
    check_public_id,
    new_public_id,
    official_id_for,
)
from cases.receipts import IdempotencyReceipt
from cases.reporter_vault import ReporterVault
from cases.schema_lock import schema_lock
from cases.stored_events_check import check_stored_events_open
from cases.transcoder import FastJSONTranscoder
from cases.values import (
    BUSINESS_DATES,
    AssemblyKind,
    GovernmentLevel,
    Priority,
    TableKind,
    Theme,
    register_value_transcodings,
)

A = TypeVar("A", bound=TequioAggregate)

# Control characters no person types, and the code points XML 1.0 cannot carry (lone
# surrogates, U+FFFE, U+FFFF): one of them would make every Open311 XML answer that
# includes the text unreadable.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
MAX_TITLE = 200
MAX_TEXT = 5000
MAX_NAME = 200
MAX_LIST = 100
# Levels of the territory tree walked up from a territory (it has four or five).
MAX_TERRITORY_DEPTH = 20
# Tables whose kind a process remembers (they are few; a bound all the same).
TABLE_KINDS_REMEMBERED = 10_000
# Locks that serialise loading one aggregate (see _find), shared by hash.
GET_LOCKS = 64


@dataclass(frozen=True)
class CommandContext:
    """Who acts, for which municipality, and with which idempotency key."""

    actor: str
    municipality: str
    idempotency_key: str | None = None
    # When set, the caller may change only commitments of this agency.
    agency_scope: str | None = None
    # The security cabinets whose commitments the caller may change; None: every one.
    cabinet_scope: frozenset[str] | None = None


@dataclass(frozen=True)
class CommandResult:
    id: str
    version: int
    notification_id: int | None
    replayed: bool = False


@dataclass
class _Outcome:
    """What a command decided: the aggregates to save and the one it answers about."""

    subject: TequioAggregate
    changed: list[TequioAggregate]
    result_id: str | None = None


class TequioApplication(Application[UUID]):
    name = "Tequio"
    snapshotting_intervals = {Case: 50, Commitment: 50, Table: 50, Post: 50}  # noqa: RUF012

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: clocks.Clock | None = None,
        time_zone: str = "America/Mexico_City",
    ) -> None:
        super().__init__(env)
        check_stored_events_open(self.recorder, self.mapper.cipher, self.mapper.compressor)
        self._cabinet_tables: dict[UUID, bool] = {}
        self._get_locks = [threading.Lock() for _ in range(GET_LOCKS)]
        self.clock: clocks.Clock = clock or clocks.SystemClock()
        self.time_zone = ZoneInfo(time_zone)
        self.reporter_vault = ReporterVault(
            self.recorder.datastore,  # type: ignore[attr-defined]
            self.env.get("CIPHER_KEY"),
        )
        with schema_lock(self.recorder.datastore):  # type: ignore[attr-defined]
            self.reporter_vault.create_tables()

    def construct_recorder(self) -> ApplicationRecorder:
        # The library makes its tables (and a function) here, unless told not to:
        # one process at a time.
        creates = getattr(self.factory, "env_create_table", lambda: False)
        if not creates():
            return super().construct_recorder()
        with schema_lock(getattr(self.factory, "datastore", None)):
            recorder = super().construct_recorder()
            keep_upkeep_short(
                getattr(recorder, "datastore", None), getattr(recorder, "events_table_name", "")
            )
            return recorder

    def construct_transcoder(self) -> Transcoder:
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_transcodings(transcoder)

    def today(self) -> date:
        return clocks.today(self.clock, self.time_zone)

    def _not_after_today(self, value: date, field: str) -> None:
        """What already happened (a session, an agreement, a fulfilment) has a date
        that is not yet to come: a future one is a typo that would skew the figures."""
        _business_date(value, field)
        today = self.today()
        if value > today:
            raise BadInputError(
                "date_in_the_future", field=field, date=value.isoformat(), today=today.isoformat()
            )

    # -- directory --------------------------------------------------------------

    def add_territory(
        self,
        ctx: CommandContext,
        *,
        name: str,
        kind: str,
        territory_id: str | None = None,
        parent_id: str | None = None,
    ) -> CommandResult:
        params = _params(locals())

        def decide() -> _Outcome:
            public_id = _given_or_new(territory_id, "id")
            if parent_id is not None:
                self._load(Territory, ctx, parent_id)
            territory = Territory(
                municipality=ctx.municipality,
                public_id=public_id,
                name=_text(name, "name", MAX_NAME),
                kind=_text(kind, "kind", 60),
                parent_id=parent_id,
                actor=ctx.actor,
            )
            return self._new(Territory, ctx, territory)

        return self._execute(ctx, "addTerritory", params, decide)

    def update_territory(
        self,
        ctx: CommandContext,
        *,
        territory_id: str,
        name: str,
        kind: str,
        parent_id: str | None = None,
    ) -> CommandResult:
        params = _params(locals())

        def decide() -> _Outcome:
            territory = self._load(Territory, ctx, territory_id)
            # Walk up from the new parent: placing a territory under one of its own
            # descendants would make the tree a cycle.
            ancestor_id = parent_id
            while ancestor_id is not None:
                if ancestor_id == territory_id:
                    raise RuleViolation("territory_cycle", id=territory_id)
                ancestor_id = self._load(Territory, ctx, ancestor_id).parent_id
            territory.update(
                name=_text(name, "name", MAX_NAME),
                kind=_text(kind, "kind", 60),
                parent_id=parent_id,
                actor=ctx.actor,
            )
            return _Outcome(territory, [territory])

        return self._execute(ctx, "updateTerritory", params, decide)

    def add_agency(
        self,
        ctx: CommandContext,
        *,
        name: str,
        level: GovernmentLevel,
        agency_id: str | None = None,
    ) -> CommandResult:
        params = _params(locals())

        def decide() -> _Outcome:
            agency = Agency(
                municipality=ctx.municipality,
                public_id=_given_or_new(agency_id, "id"),
                name=_text(name, "name", MAX_NAME),
                level=level,
                actor=ctx.actor,
            )
            return self._new(Agency, ctx, agency)

        return self._execute(ctx, "addAgency", params, decide)

    def update_agency(
        self, ctx: CommandContext, *, agency_id: str, name: str, level: GovernmentLevel
    ) -> CommandResult:
        params = _params(locals())

        def decide() -> _Outcome:
            agency = self._load(Agency, ctx, agency_id)
            agency.update(name=_text(name, "name", MAX_NAME), level=level, actor=ctx.actor)
            return _Outcome(agency, [agency])

        return self._execute(ctx, "updateAgency", params, decide)

    def add_post(
        self,
        ctx: CommandContext,
        *,
        title: str,
        agency_id: str,
        post_id: str | None = None,
    ) -> CommandResult:
        params = _params(locals())

        def decide() -> _Outcome:
            self._load(Agency, ctx, agency_id)
            post = Post(
                municipality=ctx.municipality,
                public_id=_given_or_new(post_id, "id"),
                title=_text(title, "title", MAX_NAME),
                agency_id=agency_id,
                actor=ctx.actor,
            )
            return self._new(Post, ctx, post)

        return self._execute(ctx, "addPost", params, decide)

    def appoint_to_post(
        self,
        ctx: CommandContext,
        *,
        post_id: str,
        official_name: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        params = _params(locals())

        def decide() -> _Outcome:
            post = self._load(Post, ctx, post_id, expected_version)
            name = _text(official_name, "officialName", MAX_NAME)
            post.appoint(
                official_id=official_id_for(ctx.municipality, name),
                official_name=name,
                actor=ctx.actor,
            )
            return _Outcome(post, [post])

        return self._execute(ctx, "appointToPost", params, decide)

    # -- forums -------------------------------------------------------------------

    def create_table(
        self,
        ctx: CommandContext,
        *,
        name: str,
        kind: TableKind,
        member_agency_ids: Sequence[str],
        territory_id: str | None = None,
        table_id: str | None = None,
    ) -> CommandResult:
        params = _params(locals())

        def decide() -> _Outcome:
            if territory_id is not None:
                self._load(Territory, ctx, territory_id)
            members = _id_list(member_agency_ids, "memberAgencyIds")
            for agency_id in members:
                self._load(Agency, ctx, agency_id)
            table = Table.create(
                municipality=ctx.municipality,
                public_id=_given_or_new(table_id, "id"),
                name=_text(name, "name", MAX_NAME),
                kind=kind,
                territory_id=territory_id,
                member_agency_ids=members,
                actor=ctx.actor,
            )
            return self._new(Table, ctx, table)

        return self._execute(ctx, "createTable", params, decide)

    def change_table_members(
        self,
        ctx: CommandContext,
        *,
        table_id: str,
        member_agency_ids: Sequence[str],
        expected_version: int | None = None,
    ) -> CommandResult:
        params = _params(locals())

        def decide() -> _Outcome:
            table = self._load(Table, ctx, table_id, expected_version)
            members = _id_list(member_agency_ids, "memberAgencyIds")
            for agency_id in members:
                self._load(Agency, ctx, agency_id)
            table.change_members(member_agency_ids=members, actor=ctx.actor)
            return _Outcome(table, [table])

        return self._execute(ctx, "changeTableMembers", params, decide)

    def hold_session(
        self,
        ctx: CommandContext,
        *,
        table_id: str,
        held_on: date,
        attending_agency_ids: Sequence[str],
        minutes: str | None = None,
    ) -> CommandResult:
        params = _params(locals())

        self._not_after_today(held_on, "heldOn")

        def decide() -> _Outcome:
            table = self._load(Table, ctx, table_id)
            attending = _id_list(attending_agency_ids, "attendingAgencyIds", allow_empty=True)
            for agency_id in attending:
                self._load(Agency, ctx, agency_id)
            session_id = new_public_id()
            table.hold_session(
                session_id=session_id,
                held_on=held_on,
                attending_agency_ids=attending,
                minutes=_optional_text(minutes, "minutes", MAX_TEXT * 4),
                actor=ctx.actor,
            )
            return _Outcome(table, [table], result_id=session_id)

        return self._execute(ctx, "holdSession", params, decide)

    def hold_assembly(
        self,
        ctx: CommandContext,
        *,
        territory_id: str,
        kind: AssemblyKind,
        held_on: date,
        attendance: int,
        facilitator: str | None = None,
        assembly_id: str | None = None,
    ) -> CommandResult:
        params = _params(locals())

        self._not_after_today(held_on, "heldOn")

        def decide() -> _Outcome:
            self._load(Territory, ctx, territory_id)
            assembly = Assembly.hold(
                municipality=ctx.municipality,
                public_id=_given_or_new(assembly_id, "id"),
                territory_id=territory_id,
                kind=kind,
                held_on=held_on,
                attendance=attendance,
                facilitator=_optional_text(facilitator, "facilitator", MAX_NAME),
                actor=ctx.actor,
            )
            return self._new(Assembly, ctx, assembly)

        return self._execute(ctx, "holdAssembly", params, decide)

    # -- cases --------------------------------------------------------------------

    def raise_case(
        self,
        ctx: CommandContext,
        *,
        territory_id: str,
        theme: Theme,
        title: str,
        description: str,
        assembly_id: str | None = None,
        external_id: str | None = None,
        reporter: dict[str, str | None] | None = None,
        location: dict[str, Any] | None = None,
    ) -> CommandResult:
        # The contact is left out of the idempotency fingerprint: a hash of a phone
        # number can be reversed by trying them all, and receipts are never erased.
        params = {k: v for k, v in _params(locals()).items() if k != "reporter"}

        def decide() -> _Outcome:
            self._load(Territory, ctx, territory_id)
            if assembly_id is not None:
                self._load(Assembly, ctx, assembly_id)
            if external_id is not None:
                public_id = case_id_for_external(
                    ctx.municipality, _text(external_id, "externalId", 200)
                )
                existing = self._find(Case, ctx, public_id)
                if existing is not None:
                    # Re-importing the same external case changes nothing.
                    return _Outcome(existing, [])
            else:
                public_id = new_public_id()
            checked_title = _text(title, "title", MAX_TITLE)
            checked_description = _text(description, "description", MAX_TEXT)
            place = _location(location)
            contact = _reporter(reporter)
            # Sealed last, once every other input is known to be good.
            sealed = (
                self.reporter_vault.seal(Case.id_for(ctx.municipality, public_id), contact)
                if contact
                else None
            )
            case = Case(
                municipality=ctx.municipality,
                public_id=public_id,
                territory_id=territory_id,
                theme=theme,
                title=checked_title,
                description=checked_description,
                assembly_id=assembly_id,
                external_id=external_id,
                reporter_sealed=sealed,
                actor=ctx.actor,
                location=place,
            )
            return _Outcome(case, [case])

        # Sealing a contact writes its key outside the event store: a retry must not.
        return self._execute(ctx, "raiseCase", params, decide, look_first=bool(reporter))

    def reveal_reporter(self, ctx: CommandContext, *, case_id: str) -> dict[str, str] | None:
        """The reporter's contact (None if none was given or it was erased).

        The disclosure is recorded, with who asked and when, before it is made."""
        case = self._load(Case, ctx, case_id)
        if not case.has_reporter or case.reporter_erased:
            return None
        self.reporter_vault.record_read(ctx.municipality, case_id, ctx.actor, self.clock.now())
        raised = next(iter(self.repository.event_store.get(case.id, lte=1)))
        return self.reporter_vault.open(case.id, raised.reporter_sealed)  # type: ignore[attr-defined]

    def reporter_reads(self, ctx: CommandContext, *, case_id: str) -> list[dict[str, Any]]:
        """Who read the case's reporter contact, and when, oldest first."""
        self._load(Case, ctx, case_id)
        return self.reporter_vault.reads(ctx.municipality, case_id)

    def erase_reporter(self, ctx: CommandContext, *, case_id: str, reason: str) -> CommandResult:
        """Crypto-shreds the reporter's contact; the erasure itself is recorded as an event."""
        params = _params(locals())

        def decide() -> _Outcome:
            case = self._load(Case, ctx, case_id)
            case.erase_reporter(reason=_text(reason, "reason", MAX_TEXT), actor=ctx.actor)
            return _Outcome(case, [case])

        result = self._execute(ctx, "eraseReporter", params, decide)
        # After the event is saved, so a failure here leaves a recorded erasure that a
        # retry (a no-op for the aggregate) completes by destroying the key.
        self.reporter_vault.destroy(Case.id_for(ctx.municipality, case_id))
        return result

    def triage_case(
        self,
        ctx: CommandContext,
        *,
        case_id: str,
        expected_version: int,
        theme: Theme,
        priority: Priority,
    ) -> CommandResult:
        return self._change_case(
            ctx,
            "triageCase",
            _params(locals()),
            lambda case: case.triage(theme=theme, priority=priority, actor=ctx.actor),
        )

    def route_case(
        self,
        ctx: CommandContext,
        *,
        case_id: str,
        expected_version: int,
        table_ids: Sequence[str],
    ) -> CommandResult:
        tables = _id_list(table_ids, "tableIds")

        def change(case: Case) -> None:
            for table_id in tables:
                self._load(Table, ctx, table_id)
            case.route(table_ids=tables, actor=ctx.actor)

        return self._change_case(ctx, "routeCase", _params(locals()), change)

    def resolve_case(
        self, ctx: CommandContext, *, case_id: str, expected_version: int, summary: str
    ) -> CommandResult:
        text = _text(summary, "summary", MAX_TEXT)
        return self._change_case(
            ctx,
            "resolveCase",
            _params(locals()),
            lambda case: case.resolve(summary=text, actor=ctx.actor),
        )

    def close_case(
        self,
        ctx: CommandContext,
        *,
        case_id: str,
        expected_version: int,
        assembly_id: str | None = None,
    ) -> CommandResult:
        def change(case: Case) -> None:
            if assembly_id is not None:
                self._load(Assembly, ctx, assembly_id)
            case.close(assembly_id=assembly_id, actor=ctx.actor)

        return self._change_case(ctx, "closeCase", _params(locals()), change)

    def reopen_case(
        self, ctx: CommandContext, *, case_id: str, expected_version: int, reason: str
    ) -> CommandResult:
        text = _text(reason, "reason", MAX_TEXT)
        return self._change_case(
            ctx,
            "reopenCase",
            _params(locals()),
            lambda case: case.reopen(reason=text, actor=ctx.actor),
        )

    def merge_case(
        self,
        ctx: CommandContext,
        *,
        case_id: str,
        expected_version: int,
        into_case_id: str,
    ) -> CommandResult:
        def change(case: Case) -> None:
            if into_case_id == case_id:
                raise ConflictError("merge_into_itself")
            target = self._load(Case, ctx, into_case_id)
            if target.merged_into is not None:
                raise ConflictError("merge_into_merged", id=into_case_id)
            case.merge_into(target_id=into_case_id, actor=ctx.actor)

        return self._change_case(ctx, "mergeCase", _params(locals()), change)

    def decline_case(
        self,
        ctx: CommandContext,
        *,
        case_id: str,
        expected_version: int,
        reason: str,
        referred_to: str | None = None,
    ) -> CommandResult:
        text = _text(reason, "reason", MAX_TEXT)
        referral = _optional_text(referred_to, "referredTo", MAX_NAME)
        return self._change_case(
            ctx,
            "declineCase",
            _params(locals()),
            lambda case: case.decline(reason=text, referred_to=referral, actor=ctx.actor),
        )

    # -- commitments ----------------------------------------------------------------

    def make_commitment(
        self,
        ctx: CommandContext,
        *,
        case_id: str,
        responsible_agency_id: str,
        description: str,
        due_on: date,
        table_id: str | None = None,
        session_id: str | None = None,
        assembly_id: str | None = None,
        post_id: str | None = None,
        agreed_on: date | None = None,
    ) -> CommandResult:
        params = _params(locals())
        if agreed_on is not None:
            self._not_after_today(agreed_on, "agreedOn")

        _business_date(due_on, "dueOn")

        def decide() -> _Outcome:
            case = self._load(Case, ctx, case_id)
            self._load(Agency, ctx, responsible_agency_id)
            if table_id is not None:
                table = self._load(Table, ctx, table_id)
                if session_id is not None:
                    table.require_session(session_id)
            elif session_id is not None:
                raise BadInputError("session_needs_table", session_id=session_id)
            if assembly_id is not None:
                self._load(Assembly, ctx, assembly_id)
            accountable = None
            if post_id is not None:
                post = self._load(Post, ctx, post_id)
                if post.agency_id != responsible_agency_id:
                    raise BadInputError(
                        "post_not_of_agency",
                        post_id=post_id,
                        post_agency=post.agency_id,
                        agency_id=responsible_agency_id,
                    )
                accountable = post.holder_id
            public_id = new_public_id()
            commitment = Commitment.make(
                municipality=ctx.municipality,
                public_id=public_id,
                case_id=case_id,
                table_id=table_id,
                session_id=session_id,
                assembly_id=assembly_id,
                responsible_agency_id=responsible_agency_id,
                post_id=post_id,
                accountable_official_id=accountable,
                description=_text(description, "description", MAX_TEXT),
                agreed_on=agreed_on or self.today(),
                due_on=due_on,
                actor=ctx.actor,
            )
            case.start_attention(commitment_id=public_id, table_id=table_id, actor=ctx.actor)
            return _Outcome(commitment, [commitment, case])

        return self._execute(ctx, "makeCommitment", params, decide)

    def report_progress(
        self,
        ctx: CommandContext,
        *,
        commitment_id: str,
        expected_version: int,
        progress: int,
        note: str,
    ) -> CommandResult:
        text = _text(note, "note", MAX_TEXT)
        return self._change_commitment(
            ctx,
            "reportProgress",
            _params(locals()),
            lambda c: c.report_progress(progress=progress, note=text, actor=ctx.actor),
        )

    def reschedule_commitment(
        self,
        ctx: CommandContext,
        *,
        commitment_id: str,
        expected_version: int,
        due_on: date,
        reason: str,
    ) -> CommandResult:
        text = _text(reason, "reason", MAX_TEXT)
        _business_date(due_on, "dueOn")
        return self._change_commitment(
            ctx,
            "rescheduleCommitment",
            _params(locals()),
            lambda c: c.reschedule(due_on=due_on, reason=text, actor=ctx.actor),
        )

    def reassign_commitment(
        self,
        ctx: CommandContext,
        *,
        commitment_id: str,
        expected_version: int,
        responsible_agency_id: str,
        reason: str,
        post_id: str | None = None,
    ) -> CommandResult:
        text = _text(reason, "reason", MAX_TEXT)

        def change(c: Commitment) -> None:
            self._load(Agency, ctx, responsible_agency_id)
            accountable = None
            if post_id is not None:
                post = self._load(Post, ctx, post_id)
                if post.agency_id != responsible_agency_id:
                    raise BadInputError(
                        "post_not_of_agency",
                        post_id=post_id,
                        post_agency=post.agency_id,
                        agency_id=responsible_agency_id,
                    )
                accountable = post.holder_id
            c.reassign(
                responsible_agency_id=responsible_agency_id,
                post_id=post_id,
                accountable_official_id=accountable,
                reason=text,
                actor=ctx.actor,
            )

        return self._change_commitment(ctx, "reassignCommitment", _params(locals()), change)

    def report_fulfilment(
        self,
        ctx: CommandContext,
        *,
        commitment_id: str,
        expected_version: int,
        evidence: str,
        reported_on: date | None = None,
    ) -> CommandResult:
        params = _params(locals())
        text = _text(evidence, "evidence", MAX_TEXT)
        on = reported_on or self.today()
        self._not_after_today(on, "reportedOn")
        return self._change_commitment(
            ctx,
            "reportFulfilment",
            params,
            lambda c: c.report_fulfilment(evidence=text, reported_on=on, actor=ctx.actor),
        )

    def validate_fulfilment(
        self,
        ctx: CommandContext,
        *,
        commitment_id: str,
        expected_version: int,
        assembly_id: str,
    ) -> CommandResult:
        def change(c: Commitment) -> None:
            held_on, of_the_community = self._assembly_for(ctx, assembly_id, c)
            c.validate(
                assembly_id=assembly_id,
                held_on=held_on,
                of_the_community=of_the_community,
                actor=ctx.actor,
            )

        # Validation is the community's word, recorded by staff: not agency-scoped.
        return self._change_commitment(
            ctx, "validateFulfilment", _params(locals()), change, agency_scoped=False
        )

    def dispute_fulfilment(
        self,
        ctx: CommandContext,
        *,
        commitment_id: str,
        expected_version: int,
        assembly_id: str,
        reason: str,
    ) -> CommandResult:
        text = _text(reason, "reason", MAX_TEXT)

        def change(c: Commitment) -> None:
            held_on, of_the_community = self._assembly_for(ctx, assembly_id, c)
            c.dispute(
                assembly_id=assembly_id,
                reason=text,
                held_on=held_on,
                of_the_community=of_the_community,
                actor=ctx.actor,
            )

        return self._change_commitment(
            ctx, "disputeFulfilment", _params(locals()), change, agency_scoped=False
        )

    def cancel_commitment(
        self, ctx: CommandContext, *, commitment_id: str, expected_version: int, reason: str
    ) -> CommandResult:
        text = _text(reason, "reason", MAX_TEXT)
        return self._change_commitment(
            ctx,
            "cancelCommitment",
            _params(locals()),
            lambda c: c.cancel(reason=text, actor=ctx.actor),
        )

    # -- reading the write side (for checks, never for display) ---------------------

    def commitment_agency(self, ctx: CommandContext, commitment_id: str) -> str:
        return self._load(Commitment, ctx, commitment_id).responsible_agency_id

    def table_kind(self, ctx: CommandContext, table_id: str) -> TableKind:
        return self._load(Table, ctx, table_id).kind

    def current_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    # -- machinery ----------------------------------------------------------------

    def _change_case(
        self,
        ctx: CommandContext,
        command: str,
        params: dict[str, Any],
        change: Callable[[Case], None],
    ) -> CommandResult:
        def decide() -> _Outcome:
            case = self._load(Case, ctx, params["case_id"], params["expected_version"])
            change(case)
            return _Outcome(case, [case])

        return self._execute(ctx, command, params, decide)

    def _change_commitment(
        self,
        ctx: CommandContext,
        command: str,
        params: dict[str, Any],
        change: Callable[[Commitment], None],
        *,
        agency_scoped: bool = True,
    ) -> CommandResult:
        def decide() -> _Outcome:
            commitment = self._load(Commitment, ctx, params["commitment_id"])
            # Who may change it before the version: a caller who may not is told so,
            # not asked to reload and try again (nor told the version of a cabinet's).
            self._require_cabinet_member(ctx, commitment)
            if (
                agency_scoped
                and ctx.agency_scope is not None
                and commitment.responsible_agency_id != ctx.agency_scope
            ):
                raise ForbiddenError(
                    "not_your_agency",
                    agency_id=ctx.agency_scope,
                    responsible=commitment.responsible_agency_id,
                )
            _require_version(commitment, params["expected_version"])
            change(commitment)
            return _Outcome(commitment, [commitment])

        return self._execute(ctx, command, params, decide)

    def _execute(
        self,
        ctx: CommandContext,
        command: str,
        params: dict[str, Any],
        decide: Callable[[], _Outcome],
        *,
        look_first: bool = False,
    ) -> CommandResult:
        """Decides and saves, once per idempotency key.

        The receipt of an earlier attempt is looked for only when this attempt cannot
        go through: its decision fails (the first attempt moved the version on, or
        changed what a rule looks at), decides nothing new, or its save collides with
        the receipt. A first attempt, by far the common case, pays no lookup.
        ``look_first`` looks before deciding, for commands whose decision writes
        outside the event store (sealing a reporter's contact)."""
        receipt_id = fingerprint = None
        if ctx.idempotency_key is not None:
            receipt_id = _receipt_public_id(ctx)
            fingerprint = _fingerprint(command, params)
            if look_first:
                replay = self._replay(ctx, receipt_id, fingerprint)
                if replay is not None:
                    return replay
        try:
            outcome = decide()
        except TequioError:
            if receipt_id is not None and fingerprint is not None:
                replay = self._replay(ctx, receipt_id, fingerprint)
                if replay is not None:
                    return replay
            raise
        subject = outcome.subject
        result = CommandResult(
            id=outcome.result_id or subject.public_id,
            version=subject.version,
            notification_id=None,
        )
        to_save: list[TequioAggregate] = list(outcome.changed)
        if receipt_id is not None and fingerprint is not None:
            to_save.append(
                IdempotencyReceipt(
                    municipality=ctx.municipality,
                    public_id=receipt_id,
                    command=command,
                    fingerprint=fingerprint,
                    result={"id": result.id, "version": result.version},
                    actor=ctx.actor,
                )
            )
        if not outcome.changed:
            # Nothing new to record (an idempotent re-import): nothing to wait for.
            if receipt_id is not None and fingerprint is not None:
                replay = self._replay(ctx, receipt_id, fingerprint)
                if replay is not None:
                    return replay
            return CommandResult(result.id, result.version, self.current_position())
        try:
            recordings = self.save(*to_save)
        except IntegrityError:
            if receipt_id is not None and fingerprint is not None:
                replay = self._replay(ctx, receipt_id, fingerprint)
                if replay is not None:
                    return replay
            raise ConflictError("concurrent_write", kind=subject.KIND) from None
        # A command that changed nothing (e.g. routing to tables already routed to) records
        # no event: then there is nothing newer to wait for than the current position.
        notification_ids = [r.notification.id for r in recordings]
        return CommandResult(
            id=result.id,
            version=result.version,
            notification_id=max(notification_ids) if notification_ids else self.current_position(),
        )

    def _replay(
        self, ctx: CommandContext, receipt_id: str, fingerprint: str
    ) -> CommandResult | None:
        receipt = self._find(IdempotencyReceipt, ctx, receipt_id)
        if receipt is None:
            return None
        if receipt.fingerprint != fingerprint:
            # The API scopes a client's key per operation ("key#field"): show the client's.
            client_key = (ctx.idempotency_key or "").rsplit("#", 1)[0]
            raise ConflictError("idempotency_key_reused", key=client_key)
        return CommandResult(
            id=receipt.result["id"],
            version=receipt.result["version"],
            notification_id=self.current_position(),
            replayed=True,
        )

    def _load(
        self,
        cls: type[A],
        ctx: CommandContext,
        public_id: str,
        expected_version: int | None = None,
    ) -> A:
        aggregate = self._find(cls, ctx, public_id)
        if aggregate is None:
            raise NotFoundError(cls.KIND, public_id)
        if expected_version is not None:
            _require_version(aggregate, expected_version)
        return aggregate

    def _assembly_for(
        self, ctx: CommandContext, assembly_id: str, commitment: Commitment
    ) -> tuple[date, bool]:
        """The day ``assembly_id`` was held, and whether it is of the community the
        commitment's case comes from: held in the case's territory, in one that contains
        it, or in one within it (a section's assembly on its neighbourhood's case)."""
        assembly = self._load(Assembly, ctx, assembly_id)
        case = self._load(Case, ctx, commitment.case_id)
        held = assembly.territory_id
        related = held in self._territory_line(ctx, case.territory_id) or (
            case.territory_id in self._territory_line(ctx, held)
        )
        return assembly.held_on, related

    def _territory_line(self, ctx: CommandContext, territory_id: str) -> list[str]:
        """``territory_id`` and the territories above it, up to the root."""
        line = [territory_id]
        while len(line) <= MAX_TERRITORY_DEPTH:
            territory = self._find(Territory, ctx, line[-1])
            if territory is None or territory.parent_id is None:
                break
            line.append(territory.parent_id)
        return line

    def _require_cabinet_member(self, ctx: CommandContext, commitment: Commitment) -> None:
        """A commitment agreed at a security cabinet is changed only by those who may
        see it: the cabinet's members and the cabinet-wide roles. To anyone else it
        does not exist, so the refusal is the one an unknown id gets."""
        table_id = commitment.table_id
        if ctx.cabinet_scope is None or table_id is None or table_id in ctx.cabinet_scope:
            return
        if self._is_security_cabinet(ctx, table_id):
            raise NotFoundError(Commitment.KIND, commitment.public_id)

    def _is_security_cabinet(self, ctx: CommandContext, table_id: str) -> bool:
        # A table's kind never changes once created: remembered for the process's life.
        key = Table.id_for(ctx.municipality, table_id)
        known = self._cabinet_tables.get(key)
        if known is None:
            table = self._find(Table, ctx, table_id)
            if table is None:
                return False
            known = table.is_security_cabinet
            if len(self._cabinet_tables) >= TABLE_KINDS_REMEMBERED:
                self._cabinet_tables.clear()
            self._cabinet_tables[key] = known
        return known

    def _find(self, cls: type[A], ctx: CommandContext, public_id: str) -> A | None:
        aggregate_id = cls.id_for(ctx.municipality, public_id)
        # The library brings a cached aggregate up to date in place under its own lock,
        # then copies it for the caller after releasing that lock: another command's
        # update of the same aggregate could then be copied half done. One get of an
        # aggregate at a time (locks shared by hash) keeps the copy whole.
        lock = self._get_locks[hash(aggregate_id) % len(self._get_locks)]
        try:
            with lock:
                aggregate: TequioAggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, cls):  # pragma: no cover - ids are namespaced by kind
            return None
        return aggregate

    def _new(self, cls: type[A], ctx: CommandContext, aggregate: A) -> _Outcome:
        if self._find(cls, ctx, aggregate.public_id) is not None:
            raise ConflictError("already_exists", kind=cls.KIND, id=aggregate.public_id)
        return _Outcome(aggregate, [aggregate])


# -- input checks and helpers ------------------------------------------------------


def _require_version(aggregate: TequioAggregate, expected_version: int) -> None:
    if expected_version < 1:
        # Versions count from 1: no one read this one, so it is not "stale".
        raise BadInputError("bad_expected_version", expected=expected_version)
    if aggregate.version != expected_version:
        raise ConflictError(
            "stale_version",
            kind=aggregate.KIND,
            expected=expected_version,
            actual=aggregate.version,
        )


def _params(scope: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in scope.items() if k not in ("self", "ctx") and not callable(v)}


def _fingerprint(command: str, params: dict[str, Any]) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if hasattr(value, "value"):
            return value.value
        if isinstance(value, (set, frozenset, tuple)):
            return sorted(value)
        return str(value)

    payload = json.dumps([command, params], sort_keys=True, default=default)
    return hashlib.sha256(payload.encode()).hexdigest()


def _receipt_public_id(ctx: CommandContext) -> str:
    key = ctx.idempotency_key or ""
    if not key.strip() or len(key) > 200:
        raise BadInputError("bad_id", value=key[:120], field="Idempotency-Key")
    return hashlib.sha256(f"{ctx.actor}\x00{key}".encode()).hexdigest()


def _given_or_new(value: str | None, field: str) -> str:
    return new_public_id() if value is None else check_public_id(value, field)


def _business_date(value: date, field: str) -> None:
    """A date of the municipality's business (agreed, due, done, held) lies in
    ``BUSINESS_DATES``: a slip such as 0026 or 20260 would otherwise show a commitment
    739,940 days overdue at the top of every board (and before 1922, Mexico City's
    offset had seconds, which no integrator's datetime parser reads)."""
    first, last = BUSINESS_DATES
    if not first <= value <= last:
        raise BadInputError(
            "date_out_of_range",
            field=field,
            date=value.isoformat(),
            first=first.isoformat(),
            last=last.isoformat(),
        )


def _text(value: str, field: str, max_length: int) -> str:
    stripped = value.strip()
    if not stripped:
        raise BadInputError("blank", field=field)
    if len(stripped) > max_length:
        raise BadInputError("too_long", field=field, max=max_length)
    if CONTROL_CHARACTERS.search(stripped):
        # PostgreSQL cannot store NUL in text, and no person types the others: refuse
        # them here, before an event that no read model could ever copy is recorded.
        raise BadInputError("control_characters", field=field)
    return stripped


def _optional_text(value: str | None, field: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    return _text(value, field, max_length)


def _id_list(values: Sequence[str], field: str, *, allow_empty: bool = False) -> list[str]:
    if not values and not allow_empty:
        raise BadInputError("empty_list", field=field)
    if len(values) > MAX_LIST:
        raise BadInputError("too_many_items", field=field, max=MAX_LIST)
    return sorted({check_public_id(v, field) for v in values})


def _location(location: dict[str, Any] | None) -> dict[str, Any] | None:
    """A public place: latitude and longitude (WGS 84 degrees), an address, or both."""
    if not location:
        return None
    lat, long = location.get("lat"), location.get("long")
    if (lat is None) != (long is None):
        raise BadInputError("location_half", field="location")
    place: dict[str, Any] = {}
    if lat is not None and long is not None:
        for name, value, bound in (("lat", lat, 90), ("long", long, 180)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadInputError("location_range", field=f"location.{name}", max=bound)
            if not -bound <= float(value) <= bound:
                raise BadInputError("location_range", field=f"location.{name}", max=bound)
            place[name] = float(value)
    address = _optional_text(location.get("address"), "location.address", MAX_NAME)
    if address:
        place["address"] = address
    return place or None


EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _reporter(reporter: dict[str, str | None] | None) -> dict[str, str] | None:
    if not reporter:
        return None
    cleaned = {
        key: _text(value, f"reporter.{key}", MAX_NAME)
        for key, value in reporter.items()
        if key in ("name", "phone", "email") and value is not None and value.strip()
    }
    # Only the shape: a coordinator must be able to write back, and a typo caught
    # now is a resident reached later. Whether the address exists is not asked.
    if "email" in cleaned and not EMAIL.fullmatch(cleaned["email"]):
        raise BadInputError("bad_email", field="reporter.email")
    return cleaned or None


__all__ = [
    "CommandContext",
    "CommandResult",
    "ForbiddenError",
    "TequioApplication",
    "asdict",
]
