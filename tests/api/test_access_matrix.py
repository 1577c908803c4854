"""Who may do what, cell by cell: every mutation of the running schema and every sensitive
read, for every kind of caller the contract names, over HTTP.

The expected table below is written from the words of the contract (``contract.md``:
the roles, and who sees a security cabinet's commitments), not imported from
``api.policy``: if a rule there is lost, a cell here goes red. Mutations are read from
the running schema, so a new mutation without a row here fails its cells.

Each mutation cell acts on a target made for it alone (through the application
service, which is fast), so an allowed call is never refused because an earlier cell
changed the same object. "Allowed" means the call succeeds and changes something (an
event recorded, or the webhook row it names); a refusal must carry the exact
``extensions.code`` and change nothing at all.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pytest
from access_support import (
    OTHER_AGENCY,
    OWN_AGENCY,
    PROFILES,
    fresh_database,
    profile_tokens,
    serve_app,
    settings_for,
)
from anyio import to_thread
from graphql import get_named_type, is_leaf_type
from graphql_client import GraphQLClient
from world import CABINET, LIGHTING_TABLE, MONDAY, MUNICIPALITY, OTHER_CABINET, World

from api.graphql.schema import build_schema
from cases.application import CommandContext, CommandResult, TequioApplication
from cases.clock import FixedClock
from cases.values import AssemblyKind, GovernmentLevel, Priority, Theme
from projections.positions import wait_for
from tequio.database import ConnectionInfo

SCHEMA = build_schema()._schema
SCHEMA_MUTATIONS = SCHEMA.mutation_type.fields

ALLOWED = "allowed"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
SEEN = "seen"
HIDDEN = "hidden"

ADMIN = "admin"
COORDINATOR = "coordinator"
SECRETARY = "secretary"
OWN_STAFF = "agency_staff_own_agency"
INTEGRATION = "integration"
THIS_CABINET = "cabinet_member_this_cabinet"

# -- the contract's words, as a table ------------------------------------------------------
#
# admin: everything. coordinator: records assemblies, triages and routes cases (and so
# runs a case's life: resolve, close, reopen, merge, decline), keeps the directory, and
# records what an assembly agreed or said of a fulfilment. secretary: runs table and
# cabinet sessions and records commitments and what happens to them. agency_staff:
# updates its own agency's commitments (progress, new date, fulfilment), nothing else.
# cabinet_member: reads only. integration: Open311 writes, i.e. raises cases.
# Every other authenticated caller is FORBIDDEN; the public is UNAUTHENTICATED.

MAY_CALL: dict[str, frozenset[str]] = {
    "raiseCase": frozenset({ADMIN, COORDINATOR, INTEGRATION}),
    "triageCase": frozenset({ADMIN, COORDINATOR}),
    "routeCase": frozenset({ADMIN, COORDINATOR}),
    "resolveCase": frozenset({ADMIN, COORDINATOR}),
    "closeCase": frozenset({ADMIN, COORDINATOR}),
    "reopenCase": frozenset({ADMIN, COORDINATOR}),
    "mergeCase": frozenset({ADMIN, COORDINATOR}),
    "declineCase": frozenset({ADMIN, COORDINATOR}),
    "eraseReporter": frozenset({ADMIN, COORDINATOR}),
    "makeCommitment": frozenset({ADMIN, COORDINATOR, SECRETARY}),
    "reportProgress": frozenset({ADMIN, SECRETARY, OWN_STAFF}),
    "rescheduleCommitment": frozenset({ADMIN, SECRETARY, OWN_STAFF}),
    "reportFulfilment": frozenset({ADMIN, SECRETARY, OWN_STAFF}),
    "reassignCommitment": frozenset({ADMIN, COORDINATOR, SECRETARY}),
    "validateFulfilment": frozenset({ADMIN, COORDINATOR, SECRETARY}),
    "disputeFulfilment": frozenset({ADMIN, COORDINATOR, SECRETARY}),
    "cancelCommitment": frozenset({ADMIN, SECRETARY}),
    "addTerritory": frozenset({ADMIN, COORDINATOR}),
    "addAgency": frozenset({ADMIN, COORDINATOR}),
    "addPost": frozenset({ADMIN, COORDINATOR}),
    "appointToPost": frozenset({ADMIN, COORDINATOR}),
    "createTable": frozenset({ADMIN, COORDINATOR, SECRETARY}),
    "holdAssembly": frozenset({ADMIN, COORDINATOR}),
    "holdSession": frozenset({ADMIN, SECRETARY}),
    # Where Tequio sends events, and with which secret: the admin's call. (The contract
    # lists "webhooks" under integration: read here as receiving them.)
    "createWebhookSubscription": frozenset({ADMIN}),
    "updateWebhookSubscription": frozenset({ADMIN}),
    "rotateWebhookSecret": frozenset({ADMIN}),
    "deleteWebhookSubscription": frozenset({ADMIN}),
    "redeliverWebhook": frozenset({ADMIN}),
}

# "A commitment agreed at a SECURITY_CABINET table is visible only to that cabinet's
# members, secretary, coordinator and admin."
CABINET_READERS = frozenset({ADMIN, COORDINATOR, SECRETARY, THIS_CABINET})
CABINET_WIDE = frozenset({ADMIN, COORDINATOR, SECRETARY})


def refusal(profile: str) -> str:
    return UNAUTHENTICATED if profile == "public" else FORBIDDEN


def expected_mutation_outcome(mutation: str, profile: str) -> str:
    return ALLOWED if profile in MAY_CALL[mutation] else refusal(profile)


def expected_cabinet_mutation_outcome(mutation: str, profile: str) -> str:
    """On a cabinet's commitment: only who may both call the mutation and see it; to a
    caller who may call it but not see it, the commitment does not exist."""
    callers = set(MAY_CALL[mutation])
    if OWN_STAFF in callers:
        # Another agency's staff passes the role check; which agency is responsible is
        # asked of a commitment it may see.
        callers.add("agency_staff_other_agency")
    if profile not in callers:
        return refusal(profile)
    return ALLOWED if profile in CABINET_READERS else NOT_FOUND


# -- targets: a fresh object for every cell -------------------------------------------------


@dataclass(frozen=True)
class Made:
    id: str
    version: int


class Setup:
    """Makes cells' targets through the application service (blocking: run in a thread)."""

    def __init__(self, application: TequioApplication) -> None:
        self.app = application
        self.ctx = CommandContext(actor="setup.matrix", municipality=MUNICIPALITY)
        self.position = 0
        self.serial = itertools.count(1)
        self.assembly_id = self.record(
            application.hold_assembly(
                self.ctx,
                territory_id="smt-avisadero",
                kind=AssemblyKind.COMMUNITY_ASSEMBLY,
                held_on=MONDAY.date(),
                attendance=30,
            )
        ).id

    def record(self, result: CommandResult) -> Made:
        self.position = max(self.position, result.notification_id or 0)
        return Made(result.id, result.version)

    def name(self, prefix: str) -> str:
        return f"{prefix}-{next(self.serial)}"

    def case(
        self,
        *,
        status: str = "RAISED",
        theme: Theme = Theme.URBAN_SERVICES,
        territory: str = "smt-avisadero",
        reporter: dict[str, str | None] | None = None,
        assembly_id: str | None = None,
        tables: tuple[str, ...] = (),
    ) -> Made:
        title = self.name("Caso de la matriz")
        made = self.record(
            self.app.raise_case(
                self.ctx,
                territory_id=territory,
                theme=theme,
                title=title,
                description=f"{title}: planteado en asamblea.",
                assembly_id=assembly_id,
                reporter=reporter,
            )
        )
        if status in ("TRIAGED", "RESOLVED") or tables:
            made = self.record(
                self.app.triage_case(
                    self.ctx,
                    case_id=made.id,
                    expected_version=made.version,
                    theme=theme,
                    priority=Priority.HIGH,
                )
            )
        if tables:
            made = self.record(
                self.app.route_case(
                    self.ctx, case_id=made.id, expected_version=made.version, table_ids=tables
                )
            )
        if status == "RESOLVED":
            made = self.record(
                self.app.resolve_case(
                    self.ctx, case_id=made.id, expected_version=made.version, summary="Atendido"
                )
            )
        return made

    def commitment(
        self,
        *,
        table: str = LIGHTING_TABLE,
        agency: str = OWN_AGENCY,
        fulfilled: bool = False,
        case_id: str | None = None,
        description: str | None = None,
        due_on: date = date(2026, 11, 30),
    ) -> Made:
        made = self.record(
            self.app.make_commitment(
                self.ctx,
                case_id=case_id or self.case(tables=(table,)).id,
                responsible_agency_id=agency,
                description=description or self.name("Compromiso de la matriz"),
                due_on=due_on,
                table_id=table,
            )
        )
        if fulfilled:
            made = self.record(
                self.app.report_fulfilment(
                    self.ctx,
                    commitment_id=made.id,
                    expected_version=made.version,
                    evidence="Fotografías",
                )
            )
        return made

    def post(self) -> Made:
        return self.record(
            self.app.add_post(self.ctx, title=self.name("Jefatura"), agency_id=OTHER_AGENCY)
        )


Variables = dict[str, Any]
Target = Callable[..., Variables]


def on_case(c: Made, **more: Any) -> Variables:
    return {"caseId": c.id, "expectedVersion": c.version, **more}


def on_commitment(c: Made, **more: Any) -> Variables:
    return {"commitmentId": c.id, "expectedVersion": c.version, **more}


# Mutation name → the variables of one call, on a target made for it alone. Targets of
# commitment mutations take the table the commitment is agreed at.
TARGETS: dict[str, Target] = {
    "raiseCase": lambda s: {
        "input": {
            "territoryId": "smt-avisadero",
            "theme": "URBAN_SERVICES",
            "title": s.name("Bache"),
            "description": "Un bache frente a la escuela.",
        }
    },
    "triageCase": lambda s: on_case(s.case(), theme="SAFETY", priority="HIGH"),
    "routeCase": lambda s: on_case(s.case(status="TRIAGED"), tableIds=[LIGHTING_TABLE]),
    "resolveCase": lambda s: on_case(s.case(status="TRIAGED"), summary="Reparado"),
    "closeCase": lambda s: on_case(s.case(status="RESOLVED")),
    "reopenCase": lambda s: on_case(s.case(status="RESOLVED"), reason="Volvió a fallar"),
    "mergeCase": lambda s: on_case(s.case(), intoCaseId=s.case().id),
    "declineCase": lambda s: on_case(s.case(), reason="No es competencia municipal"),
    "eraseReporter": lambda s: {
        "caseId": s.case(reporter={"name": "Vecina", "phone": "5550000000"}).id,
        "reason": "La persona pidió borrar sus datos",
    },
    "makeCommitment": lambda s: {
        "input": {
            "caseId": s.case(tables=(LIGHTING_TABLE,)).id,
            "responsibleAgencyId": OWN_AGENCY,
            "description": "Cambiar luminarias",
            "dueOn": "2026-11-30",
            "tableId": LIGHTING_TABLE,
        }
    },
    "reportProgress": lambda s, table=LIGHTING_TABLE: on_commitment(
        s.commitment(table=table), progress=40, note="Avance"
    ),
    "rescheduleCommitment": lambda s, table=LIGHTING_TABLE: on_commitment(
        s.commitment(table=table), dueOn="2026-12-15", reason="Falta material"
    ),
    "reportFulfilment": lambda s, table=LIGHTING_TABLE: on_commitment(
        s.commitment(table=table), evidence="Fotografías de la obra"
    ),
    "reassignCommitment": lambda s, table=LIGHTING_TABLE: on_commitment(
        s.commitment(table=table), responsibleAgencyId=OTHER_AGENCY, reason="Es de obras"
    ),
    "validateFulfilment": lambda s, table=LIGHTING_TABLE: on_commitment(
        s.commitment(table=table, fulfilled=True), assemblyId=s.assembly_id
    ),
    "disputeFulfilment": lambda s, table=LIGHTING_TABLE: on_commitment(
        s.commitment(table=table, fulfilled=True),
        assemblyId=s.assembly_id,
        reason="Siguen apagadas",
    ),
    "cancelCommitment": lambda s, table=LIGHTING_TABLE: on_commitment(
        s.commitment(table=table), reason="Duplicado"
    ),
    "addTerritory": lambda s: {
        "id": s.name("colonia"),
        "name": "Colonia nueva",
        "kind": "colonia",
        "parentId": "dt-teotongo",
    },
    "addAgency": lambda s: {"id": s.name("area"), "name": "Área nueva", "level": "MUNICIPAL"},
    "addPost": lambda s: {"id": s.name("puesto"), "title": "Jefatura", "agencyId": OTHER_AGENCY},
    "appointToPost": lambda s: {"postId": s.post().id, "officialName": s.name("Funcionaria")},
    "createTable": lambda s: {
        "input": {
            "id": s.name("mesa"),
            "name": "Mesa nueva",
            "kind": "WORKING_TABLE",
            "territoryId": "dt-teotongo",
            "memberAgencyIds": [OWN_AGENCY],
        }
    },
    "holdAssembly": lambda s: {
        "input": {
            "territoryId": "smt-avisadero",
            "kind": "COMMUNITY_ASSEMBLY",
            "heldOn": "2026-11-16",
            "attendance": 25,
        }
    },
    "holdSession": lambda s: {
        "input": {
            "tableId": LIGHTING_TABLE,
            "heldOn": "2026-11-16",
            "attendingAgencyIds": [OWN_AGENCY],
        }
    },
}

# Mutations that change one commitment, read from the schema: each also gets cells on a
# commitment agreed at a security cabinet.
COMMITMENT_MUTATIONS = sorted(
    name for name, field in SCHEMA_MUTATIONS.items() if "commitmentId" in field.args
)


def mutation_document(mutation: str, variables: Variables) -> str:
    """The operation for one call, its variables typed as the running schema types them."""
    field = SCHEMA_MUTATIONS[mutation]
    declared = ", ".join(f"${name}: {field.args[name].type}" for name in variables)
    passed = ", ".join(f"{name}: ${name}" for name in variables)
    answer = get_named_type(field.type)
    selection = (
        "" if is_leaf_type(answer) else "{ id }" if "id" in answer.fields else "{ __typename }"
    )
    return f"mutation({declared}) {{ {mutation}({passed}) {selection} }}"


# -- webhooks: targets and what they change are rows of their own tables -------------------

# No event of this type is recorded by any cell, so no delivery is ever queued for the
# subscriptions made here.
QUIET_EVENT_TYPE = "mx.tequio.table.members_changed.v1"
HOOK_URL = "http://127.0.0.1:9/matriz"


async def subscription_row(matrix: Matrix, variables: Variables) -> Any:
    return await matrix.pool.fetchval(
        "SELECT row_to_json(s)::text FROM webhook_subscriptions s WHERE id = $1::uuid",
        variables["id"],
    )


async def delivery_row(matrix: Matrix, variables: Variables) -> Any:
    return await matrix.pool.fetchval(
        "SELECT row_to_json(d)::text FROM webhook_deliveries d WHERE id = $1",
        int(variables["deliveryId"]),
    )


async def subscriptions_at(matrix: Matrix, variables: Variables) -> Any:
    return await matrix.pool.fetchval(
        "SELECT count(*) FROM webhook_subscriptions WHERE url = $1", variables["url"]
    )


async def new_subscription(matrix: Matrix) -> Variables:
    return {"url": f"{HOOK_URL}/{matrix.setup.name('alta')}", "eventTypes": [QUIET_EVENT_TYPE]}


async def existing(matrix: Matrix, **more: Any) -> Variables:
    return {"id": await matrix.subscribe(), **more}


async def dead_letter(matrix: Matrix) -> Variables:
    return {"deliveryId": await matrix.dead_letter(await matrix.subscribe())}


WEBHOOK_TARGETS: dict[str, Callable[[Matrix], Awaitable[Variables]]] = {
    "createWebhookSubscription": new_subscription,
    "updateWebhookSubscription": lambda m: existing(m, active=False),
    "rotateWebhookSecret": lambda m: existing(m, keepPreviousForHours=1),
    "deleteWebhookSubscription": existing,
    "redeliverWebhook": dead_letter,
}
# What a webhook call changes, instead of the event log (which it leaves alone).
CHANGES: dict[str, Callable[[Matrix, Variables], Awaitable[Any]]] = {
    "createWebhookSubscription": subscriptions_at,
    "updateWebhookSubscription": subscription_row,
    "rotateWebhookSecret": subscription_row,
    "deleteWebhookSubscription": subscription_row,
    "redeliverWebhook": delivery_row,
}


# -- one running app for the module --------------------------------------------------------


@dataclass
class Matrix:
    api: GraphQLClient
    application: TequioApplication
    pool: Any
    setup: Setup
    tokens: dict[str, str | None]
    webhooks: Any

    async def prepare(self, make: Callable[[Setup], Any]) -> Any:
        """Makes a target, and waits until every read model shows it."""
        made = await to_thread.run_sync(make, self.setup)
        assert await wait_for(self.pool, self.setup.position, timeout=10)
        return made

    async def target(self, mutation: str) -> Variables:
        if mutation in WEBHOOK_TARGETS:
            return await WEBHOOK_TARGETS[mutation](self)
        variables: Variables = await self.prepare(TARGETS[mutation])
        return variables

    async def subscribe(self, url: str | None = None) -> str:
        """A webhook subscription made in the store directly; its id."""
        async with self.pool.acquire() as conn, conn.transaction():
            row, _ = await self.webhooks.create(
                conn,
                MUNICIPALITY,
                "setup.matrix",
                url=url or f"{HOOK_URL}/{self.setup.name('suscripcion')}",
                event_types=[QUIET_EVENT_TYPE],
                description=None,
            )
        return str(row["id"])

    async def dead_letter(self, subscription_id: str) -> str:
        """A delivery the dispatcher gave up on, which an admin may send again; its id."""
        delivery_id = await self.pool.fetchval(
            "INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, subject,"
            " position, body, status, attempts, created_at, give_up_after, dead_lettered_at)"
            " VALUES ($1::uuid, $2, $3, 'table/matriz', 0, '{}'::bytea, 'DEAD_LETTERED', 5,"
            " now(), now(), now()) RETURNING id",
            subscription_id,
            self.setup.name("evento"),
            QUIET_EVENT_TYPE,
        )
        return str(delivery_id)

    async def state(self, mutation: str, variables: Variables) -> tuple[int, Any]:
        """The event log's head, and the rows a webhook call would change."""
        position = await to_thread.run_sync(self.application.current_position)
        rows = await CHANGES[mutation](self, variables) if mutation in CHANGES else None
        return position, rows

    async def attempt(
        self, mutation: str, variables: Variables, profile: str, token: str | None = None
    ) -> tuple[str, str | None]:
        """Calls ``mutation`` as ``profile`` (or with ``token``): ``allowed`` or the
        refusal's code, and the refusal's ``extensions.reason``."""
        before = await self.state(mutation, variables)
        response = await self.api.post(
            mutation_document(mutation, variables),
            variables,
            token=token or self.tokens[profile],
        )
        after = await self.state(mutation, variables)
        body = response.json()
        assert response.status_code == 200, body
        if body.get("errors"):
            assert body["data"] is None, body
            assert after == before, f"refused, yet something changed: {before} -> {after}"
            codes = {e["extensions"]["code"] for e in body["errors"]}
            assert len(codes) == 1, body
            return codes.pop(), body["errors"][0]["extensions"].get("reason")
        assert body["data"][mutation], body
        assert after != before, "allowed, yet nothing changed"
        return ALLOWED, None


@pytest.fixture(scope="module")
async def matrix(server_info: ConnectionInfo) -> AsyncIterator[Matrix]:
    with fresh_database(server_info, "access") as info:
        async with serve_app(settings_for(info, MUNICIPALITY), FixedClock(MONDAY)) as (app, api):
            await World(api).set_up()
            runtime = app.state.runtime
            setup = await to_thread.run_sync(Setup, runtime.application)
            yield Matrix(
                api,
                runtime.application,
                runtime.pool,
                setup,
                profile_tokens(api),
                app.state.webhooks,
            )


# -- mutations -----------------------------------------------------------------------------


def test_every_mutation_of_the_running_schema_has_a_row() -> None:
    assert set(SCHEMA_MUTATIONS) - set(MAY_CALL) == set()
    assert set(SCHEMA_MUTATIONS) - set(TARGETS) - set(WEBHOOK_TARGETS) == set()
    # A row for a mutation the schema lacks is a typo (or a mutation removed unnoticed).
    assert set(MAY_CALL) - set(SCHEMA_MUTATIONS) == set()
    assert set(TARGETS) | set(WEBHOOK_TARGETS) == set(MAY_CALL)


def _require_row(mutation: str) -> None:
    if mutation not in MAY_CALL or mutation not in {**TARGETS, **WEBHOOK_TARGETS}:
        pytest.fail(f"{mutation} is in the schema but has no row in the access matrix")
    if mutation not in SCHEMA_MUTATIONS:
        pytest.fail(f"{mutation} has a row but is not in the running schema")


@pytest.mark.parametrize(
    ("mutation", "profile"),
    [
        pytest.param(m, p, id=f"{m}-{p}")
        for m in sorted(set(SCHEMA_MUTATIONS) | set(MAY_CALL))
        for p in PROFILES
    ],
)
async def test_mutation_access(matrix: Matrix, mutation: str, profile: str) -> None:
    _require_row(mutation)
    variables = await matrix.target(mutation)
    outcome, reason = await matrix.attempt(mutation, variables, profile)
    assert outcome == expected_mutation_outcome(mutation, profile)
    if profile == "agency_staff_no_agency" and OWN_STAFF in MAY_CALL[mutation]:
        # Refused for what the token lacks, whichever commitment it names.
        assert reason == "agency_staff_needs_agency"


@pytest.mark.parametrize(
    ("mutation", "profile"),
    [pytest.param(m, p, id=f"{m}-{p}") for m in COMMITMENT_MUTATIONS for p in PROFILES],
)
async def test_cabinet_commitment_mutation_access(
    matrix: Matrix, mutation: str, profile: str
) -> None:
    """The commitment is agreed at a security cabinet, and its responsible agency is the
    own-agency staff's: that staff may not change what it may not see."""
    _require_row(mutation)
    target = TARGETS[mutation]
    variables = await matrix.prepare(lambda s: target(s, table=CABINET))
    outcome, _ = await matrix.attempt(mutation, variables, profile)
    assert outcome == expected_cabinet_mutation_outcome(mutation, profile)


# Tokens may carry several roles. A broader role is not narrowed by also being agency
# staff, and another role does not widen what agency staff may change.
MULTI_ROLE_CALLERS: dict[str, tuple[list[str], str | None, str]] = {
    "secretary_and_agency_staff_other_agency": (
        ["secretary", "agency_staff"],
        OTHER_AGENCY,
        ALLOWED,
    ),
    "agency_staff_own_agency_and_cabinet_member": (
        ["agency_staff", "cabinet_member"],
        OWN_AGENCY,
        ALLOWED,
    ),
    "agency_staff_other_agency_and_cabinet_member": (
        ["agency_staff", "cabinet_member"],
        OTHER_AGENCY,
        FORBIDDEN,
    ),
    "agency_staff_no_agency_and_cabinet_member": (
        ["agency_staff", "cabinet_member"],
        None,
        FORBIDDEN,
    ),
}
AGENCY_SCOPED = sorted(m for m, allowed in MAY_CALL.items() if OWN_STAFF in allowed)


@pytest.mark.parametrize(
    ("mutation", "caller"),
    [pytest.param(m, c, id=f"{m}-{c}") for m in AGENCY_SCOPED for c in MULTI_ROLE_CALLERS],
)
async def test_multi_role_agency_scope(matrix: Matrix, mutation: str, caller: str) -> None:
    roles, agency, expected = MULTI_ROLE_CALLERS[caller]
    token = matrix.api.token(caller, roles, agency=agency, tables=[CABINET])
    variables = await matrix.prepare(TARGETS[mutation])
    outcome, _ = await matrix.attempt(mutation, variables, caller, token=token)
    assert outcome == expected


# -- sensitive reads -----------------------------------------------------------------------

ACTOR = "setup.matrix"
PATROLS = "Patrullajes nocturnos en Camino Real (matriz)"
CHECKPOINT = "Punto de revisión en el mercado (otro gabinete)"
CABINET_ONLY_AGENCY = "gabinete-solo"
REPORTER = {"name": "Graciela Informante", "phone": "5512345678", "email": "graciela@example.mx"}
CABINET_NAME = "Gabinete zonal Teotongo"
STORY_HOOK = "http://127.0.0.1:9/receptor-de-la-historia"


@dataclass(frozen=True)
class Story:
    """A safety case from an assembly, routed to the cabinet and to a working table, with
    one commitment at each; the cabinet's is the only one of its agency. Another safety
    case in the same zone has a commitment agreed at the other cabinet."""

    case: str
    cabinet_commitment: str
    working_commitment: str
    assembly: str
    other_cabinet_commitment: str
    webhook_subscription: str = ""


@pytest.fixture(scope="module")
async def story(matrix: Matrix) -> Story:
    def make(s: Setup) -> Story:
        s.record(
            s.app.add_agency(
                s.ctx,
                name="Agencia solo de gabinete",
                level=GovernmentLevel.CITY,
                agency_id=CABINET_ONLY_AGENCY,
            )
        )
        case = s.case(
            theme=Theme.SAFETY,
            reporter=dict(REPORTER),
            assembly_id=s.assembly_id,
            tables=(CABINET, LIGHTING_TABLE),
        )
        patrols = s.commitment(
            case_id=case.id,
            table=CABINET,
            agency=CABINET_ONLY_AGENCY,
            description=PATROLS,
            due_on=date(2026, 11, 18),
        )
        lamps = s.commitment(case_id=case.id, table=LIGHTING_TABLE, due_on=date(2026, 11, 20))
        market = s.case(theme=Theme.SAFETY, territory="smt-mercado", tables=(OTHER_CABINET,))
        checkpoint = s.commitment(
            case_id=market.id,
            table=OTHER_CABINET,
            agency="ssc",
            description=CHECKPOINT,
            due_on=date(2026, 11, 17),
        )
        # One recorded disclosure of the reporter's contact, for the audit reads.
        assert s.app.reveal_reporter(s.ctx, case_id=case.id) == REPORTER
        return Story(case.id, patrols.id, lamps.id, s.assembly_id, checkpoint.id)

    story: Story = await matrix.prepare(make)
    return replace(story, webhook_subscription=await matrix.subscribe(STORY_HOOK))


def ids(nodes: Iterable[dict[str, Any]]) -> set[str]:
    return {n["id"] for n in nodes}


def seen_or_hidden(shown: bool, hidden: bool, detail: Any) -> str:
    if shown and not hidden:
        return SEEN
    if hidden and not shown:
        return HIDDEN
    return f"inconsistent: {detail}"


def briefing(data: Any, st: Story) -> str:
    b = data["cabinetBriefing"]
    assert b["cabinet"] == {"id": CABINET}
    return SEEN if st.cabinet_commitment in ids(b["dueSoon"]) else "briefing without it"


def other_cabinet_in_briefing(data: Any, st: Story) -> str:
    b = data["cabinetBriefing"]
    assert b["cabinet"] == {"id": CABINET}
    return SEEN if st.other_cabinet_commitment in ids(b["dueSoon"]) else HIDDEN


def agenda(data: Any, st: Story) -> str:
    a = data["tableAgenda"]
    if a is None:
        return HIDDEN
    assert a["table"] == {"id": CABINET}
    return SEEN if st.cabinet_commitment in ids(a["dueCommitments"]) else "agenda without it"


def commitment_by_id(data: Any, st: Story) -> str:
    c = data["commitment"]
    if c is None:
        return HIDDEN
    assert c == {"id": st.cabinet_commitment, "description": PATROLS, "table": {"id": CABINET}}
    return SEEN


def commitment_lists(data: Any, st: Story) -> str:
    by_case = ids(e["node"] for e in data["byCase"]["edges"])
    at_cabinet = ids(e["node"] for e in data["atCabinet"]["edges"])
    everything = ids(e["node"] for e in data["everything"]["edges"])
    assert st.working_commitment in by_case
    shown = (
        data["byCase"]["totalCount"] == 2
        and st.cabinet_commitment in by_case & at_cabinet & everything
    )
    hidden = (
        data["byCase"]["totalCount"] == 1
        and data["atCabinet"]["totalCount"] == 0
        and st.cabinet_commitment not in everything
    )
    return seen_or_hidden(shown, hidden, data)


def case_commitments(data: Any, st: Story) -> str:
    found = ids(data["case"]["commitments"])
    assert st.working_commitment in found
    return seen_or_hidden(
        found == {st.working_commitment, st.cabinet_commitment},
        found == {st.working_commitment},
        found,
    )


def nested_case_commitments(data: Any, st: Story) -> str:
    via_assembly = [c for c in data["assembly"]["cases"] if c["id"] == st.case]
    assert len(via_assembly) == 1, data
    paths = [
        ids(via_assembly[0]["commitments"]),
        ids(data["commitment"]["case"]["commitments"]),
    ]
    both = {st.working_commitment, st.cabinet_commitment}
    return seen_or_hidden(
        all(p == both for p in paths),
        all(p == {st.working_commitment} for p in paths),
        paths,
    )


def case_tables(data: Any, st: Story) -> str:
    found = ids(data["case"]["tables"])
    return seen_or_hidden(found == {CABINET, LIGHTING_TABLE}, found == {LIGHTING_TABLE}, found)


def table_by_id(data: Any, st: Story) -> str:
    t = data["table"]
    if t is None:
        return HIDDEN
    assert t == {"id": CABINET, "name": CABINET_NAME, "kind": "SECURITY_CABINET"}
    return SEEN


def tables_list(data: Any, st: Story) -> str:
    found = ids(data["tables"])
    assert LIGHTING_TABLE in found
    return SEEN if CABINET in found else HIDDEN


def scorecards(data: Any, st: Story) -> str:
    rows = [r for r in data["agencyScorecards"] if r["agency"]["id"] == CABINET_ONLY_AGENCY]
    if not rows:
        return HIDDEN
    assert [r["made"] for r in rows] == [1]
    return SEEN


def actors(entries: list[dict[str, Any]]) -> str:
    assert entries
    found = {e["actor"] for e in entries}
    return seen_or_hidden(found == {ACTOR}, found == {None}, found)


def case_timeline_actors(data: Any, st: Story) -> str:
    return actors([e for e in data["case"]["timeline"] if e["type"] != "AttentionStarted"])


def cabinet_attention_actor(data: Any, st: Story) -> str:
    """The case went into attention with the cabinet's commitment: who agreed it would
    name the cabinet to a caller who may not see it."""
    (entry,) = [e for e in data["case"]["timeline"] if e["type"] == "AttentionStarted"]
    return seen_or_hidden(entry["actor"] == ACTOR, entry["actor"] is None, entry)


def commitment_timeline_actors(data: Any, st: Story) -> str:
    return actors(data["commitment"]["timeline"])


def case_reporter(data: Any, st: Story) -> str:
    reporter = data["case"]["reporter"]
    if reporter is None:
        return HIDDEN
    assert reporter == REPORTER
    return SEEN


def reporter_reads(data: Any, st: Story) -> str:
    readers = {r["actor"] for r in data["reporterReads"]}
    return SEEN if ACTOR in readers else f"no record of {ACTOR}'s read: {readers}"


def webhook_list(data: Any, st: Story) -> str:
    listed = {s["id"]: s["url"] for s in data["webhookSubscriptions"]}
    return SEEN if listed.get(st.webhook_subscription) == STORY_HOOK else f"not listed: {listed}"


def webhook_by_id(data: Any, st: Story) -> str:
    found = data["webhookSubscription"]
    if found is None:
        return HIDDEN
    assert found == {"id": st.webhook_subscription, "url": STORY_HOOK}
    return SEEN


@dataclass(frozen=True)
class Read:
    document: str
    variables: Callable[[Story], Variables]
    observe: Callable[[Any, Story], str]
    # Text that must not appear anywhere in a response that does not show it.
    secrets: Callable[[Story], list[str]]
    expected: Callable[[str], str]


def cabinet_readers_see(profile: str) -> str:
    return SEEN if profile in CABINET_READERS else HIDDEN


def only_cabinet_readers(profile: str) -> str:
    return SEEN if profile in CABINET_READERS else refusal(profile)


def other_cabinet_in_this_briefing(profile: str) -> str:
    """This cabinet's briefing covers its zone; what the other cabinet agreed there is
    for the other cabinet's members and cabinet-wide staff only."""
    if profile in CABINET_WIDE:
        return SEEN
    return HIDDEN if profile == THIS_CABINET else refusal(profile)


def authenticated_see(profile: str) -> str:
    return HIDDEN if profile == "public" else SEEN


def only_coordinator(profile: str) -> str:
    """A reporter's contact is never public; inside, only who triages the case reads it."""
    return SEEN if profile == COORDINATOR else refusal(profile)


def only_personal_data_auditors(profile: str) -> str:
    """Who read a reporter's contact is itself personal data: for who may audit it."""
    return SEEN if profile in {ADMIN, COORDINATOR} else refusal(profile)


def only_admin(profile: str) -> str:
    """Where events are sent is the admin's business (receivers' URLs, delivery logs)."""
    return SEEN if profile == ADMIN else refusal(profile)


def commitment_secrets(st: Story) -> list[str]:
    return [st.cabinet_commitment, PATROLS]


def table_secrets(st: Story) -> list[str]:
    return [CABINET, CABINET_NAME]


COMMITMENT_LISTS = """
query($case: ID!, $cabinet: ID!) {
  byCase: commitments(filter: {caseId: $case}) { totalCount edges { node { id description } } }
  atCabinet: commitments(filter: {tableId: $cabinet}) { totalCount edges { node { id } } }
  everything: commitments(first: 500) { edges { node { id } } }
}
"""
NESTED = """
query($assembly: ID!, $lamps: ID!) {
  assembly(id: $assembly) { cases { id commitments { id description } } }
  commitment(id: $lamps) { case { commitments { id description } } }
}
"""

READS: dict[str, Read] = {
    "cabinetBriefing": Read(
        """query($cabinet: ID!) { cabinetBriefing(cabinetId: $cabinet,
          since: "2026-11-01T00:00:00-06:00") { cabinet { id } dueSoon { id description } } }""",
        lambda st: {"cabinet": CABINET},
        briefing,
        commitment_secrets,
        only_cabinet_readers,
    ),
    "cabinetBriefing.otherCabinetCommitment": Read(
        """query($cabinet: ID!) { cabinetBriefing(cabinetId: $cabinet,
          since: "2026-11-01T00:00:00-06:00") { cabinet { id } dueSoon { id description } } }""",
        lambda st: {"cabinet": CABINET},
        other_cabinet_in_briefing,
        lambda st: [st.other_cabinet_commitment, CHECKPOINT],
        other_cabinet_in_this_briefing,
    ),
    "tableAgenda": Read(
        """query($cabinet: ID!) { tableAgenda(tableId: $cabinet) {
          table { id } dueCommitments { id description } overdueCommitments { id } } }""",
        lambda st: {"cabinet": CABINET},
        agenda,
        commitment_secrets,
        cabinet_readers_see,
    ),
    "commitment": Read(
        "query($id: ID!) { commitment(id: $id) { id description table { id } } }",
        lambda st: {"id": st.cabinet_commitment},
        commitment_by_id,
        commitment_secrets,
        cabinet_readers_see,
    ),
    "commitments": Read(
        COMMITMENT_LISTS,
        lambda st: {"case": st.case, "cabinet": CABINET},
        commitment_lists,
        commitment_secrets,
        cabinet_readers_see,
    ),
    "case.commitments": Read(
        "query($id: ID!) { case(id: $id) { commitments { id description } } }",
        lambda st: {"id": st.case},
        case_commitments,
        commitment_secrets,
        cabinet_readers_see,
    ),
    "assembly.cases.commitments+commitment.case.commitments": Read(
        NESTED,
        lambda st: {"assembly": st.assembly, "lamps": st.working_commitment},
        nested_case_commitments,
        commitment_secrets,
        cabinet_readers_see,
    ),
    "agencyScorecards": Read(
        "{ agencyScorecards { agency { id } made } }",
        lambda st: {},
        scorecards,
        lambda st: [CABINET_ONLY_AGENCY],
        cabinet_readers_see,
    ),
    "table": Read(
        "query($cabinet: ID!) { table(id: $cabinet) { id name kind } }",
        lambda st: {"cabinet": CABINET},
        table_by_id,
        table_secrets,
        cabinet_readers_see,
    ),
    "tables": Read(
        "{ tables { id name } }",
        lambda st: {},
        tables_list,
        table_secrets,
        cabinet_readers_see,
    ),
    "case.tables": Read(
        "query($id: ID!) { case(id: $id) { tables { id name } } }",
        lambda st: {"id": st.case},
        case_tables,
        table_secrets,
        cabinet_readers_see,
    ),
    "case.timeline.actor": Read(
        "query($id: ID!) { case(id: $id) { timeline { type actor } } }",
        lambda st: {"id": st.case},
        case_timeline_actors,
        lambda st: [ACTOR],
        authenticated_see,
    ),
    "case.timeline.cabinet_attention_actor": Read(
        "query($id: ID!) { case(id: $id) { timeline { type actor } } }",
        lambda st: {"id": st.case},
        cabinet_attention_actor,
        lambda st: [],  # the same actor did the case's visible steps
        cabinet_readers_see,
    ),
    "commitment.timeline.actor": Read(
        "query($id: ID!) { commitment(id: $id) { timeline { type actor } } }",
        lambda st: {"id": st.working_commitment},
        commitment_timeline_actors,
        lambda st: [ACTOR],
        authenticated_see,
    ),
    "case.reporter": Read(
        "query($id: ID!) { case(id: $id) { id reporter { name phone email } } }",
        lambda st: {"id": st.case},
        case_reporter,
        lambda st: list(REPORTER.values()),
        only_coordinator,
    ),
    "reporterReads": Read(
        "query($id: ID!) { reporterReads(caseId: $id) { actor at } }",
        lambda st: {"id": st.case},
        reporter_reads,
        lambda st: [ACTOR],
        only_personal_data_auditors,
    ),
    "webhookSubscriptions": Read(
        "{ webhookSubscriptions { id url } }",
        lambda st: {},
        webhook_list,
        lambda st: [st.webhook_subscription, STORY_HOOK],
        only_admin,
    ),
    "webhookSubscription": Read(
        "query($id: ID!) { webhookSubscription(id: $id) { id url } }",
        lambda st: {"id": st.webhook_subscription},
        webhook_by_id,
        lambda st: [STORY_HOOK],
        only_admin,
    ),
}


@pytest.mark.parametrize(
    ("read", "profile"),
    [pytest.param(r, p, id=f"{r}-{p}") for r in READS for p in PROFILES],
)
async def test_read_access(matrix: Matrix, story: Story, read: str, profile: str) -> None:
    spec = READS[read]
    response = await matrix.api.post(
        spec.document, spec.variables(story), token=matrix.tokens[profile]
    )
    body = response.json()
    assert response.status_code == 200, body
    if body.get("errors"):
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert len(codes) == 1, body
        outcome = codes.pop()
    else:
        outcome = spec.observe(body["data"], story)
    if outcome != SEEN:
        for secret in spec.secrets(story):
            assert secret not in response.text, f"{outcome}, yet {secret!r} is in the response"
    assert outcome == spec.expected(profile)


# -- the event feed (REST) -----------------------------------------------------------------

# "integration (event feed, ...)": the feed is for integrations, and admins; it is not
# the public's, and staff read the API instead.
FEED_READERS = frozenset({ADMIN, INTEGRATION})
FEED_STATUS = {ALLOWED: 200, UNAUTHENTICATED: 401, FORBIDDEN: 403}


@pytest.mark.parametrize("profile", PROFILES)
async def test_event_feed_access(matrix: Matrix, story: Story, profile: str) -> None:
    token = matrix.tokens[profile]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await matrix.api.http.get(
        "/events", params={"subject": f"case/{story.case}"}, headers=headers
    )
    expected = ALLOWED if profile in FEED_READERS else refusal(profile)
    assert response.status_code == FEED_STATUS[expected], response.text
    if expected == ALLOWED:
        assert story.case in response.text
        # "a reporter's name and contact ... never leave the system in the feed"
        for secret in REPORTER.values():
            assert secret not in response.text
        # Its readers are not a cabinet's: the cabinet's commitment is not in the feed.
        cabinet = await matrix.api.http.get(
            "/events",
            params={"subject": f"commitment/{story.cabinet_commitment}"},
            headers=headers,
        )
        assert cabinet.status_code == 200 and cabinet.json()["events"] == []
        assert PATROLS not in cabinet.text
    else:
        assert response.json()["code"] == expected
        assert story.case not in response.text
