"""Who may do what: the role table of the contract, in one place.

Resolvers ask this module; they never test roles themselves. Object-level
rules that depend on an aggregate's current state (an agency's own
commitments) are enforced by the application service through
``CommandContext.agency_scope``, so a stale read model cannot let a write through.
"""

from __future__ import annotations

from api.auth import Caller, Role
from api.errors import ApiError

R = Role

# Mutation name → roles allowed to call it.
MUTATIONS: dict[str, frozenset[Role]] = {
    "raiseCase": frozenset({R.ADMIN, R.COORDINATOR, R.INTEGRATION}),
    "triageCase": frozenset({R.ADMIN, R.COORDINATOR}),
    "routeCase": frozenset({R.ADMIN, R.COORDINATOR}),
    "resolveCase": frozenset({R.ADMIN, R.COORDINATOR}),
    "closeCase": frozenset({R.ADMIN, R.COORDINATOR}),
    "reopenCase": frozenset({R.ADMIN, R.COORDINATOR}),
    "mergeCase": frozenset({R.ADMIN, R.COORDINATOR}),
    "declineCase": frozenset({R.ADMIN, R.COORDINATOR}),
    "makeCommitment": frozenset({R.ADMIN, R.COORDINATOR, R.SECRETARY}),
    "reportProgress": frozenset({R.ADMIN, R.SECRETARY, R.AGENCY_STAFF}),
    "rescheduleCommitment": frozenset({R.ADMIN, R.SECRETARY, R.AGENCY_STAFF}),
    "reportFulfilment": frozenset({R.ADMIN, R.SECRETARY, R.AGENCY_STAFF}),
    "reassignCommitment": frozenset({R.ADMIN, R.COORDINATOR, R.SECRETARY}),
    "validateFulfilment": frozenset({R.ADMIN, R.COORDINATOR, R.SECRETARY}),
    "disputeFulfilment": frozenset({R.ADMIN, R.COORDINATOR, R.SECRETARY}),
    "cancelCommitment": frozenset({R.ADMIN, R.SECRETARY}),
    "addTerritory": frozenset({R.ADMIN, R.COORDINATOR}),
    "addAgency": frozenset({R.ADMIN, R.COORDINATOR}),
    "addPost": frozenset({R.ADMIN, R.COORDINATOR}),
    "appointToPost": frozenset({R.ADMIN, R.COORDINATOR}),
    "createTable": frozenset({R.ADMIN, R.COORDINATOR, R.SECRETARY}),
    "holdAssembly": frozenset({R.ADMIN, R.COORDINATOR}),
    "holdSession": frozenset({R.ADMIN, R.SECRETARY}),
    "eraseReporter": frozenset({R.ADMIN, R.COORDINATOR}),
    # Webhooks: where Tequio sends events, and with which secret, is the admin's call.
    "createWebhookSubscription": frozenset({R.ADMIN}),
    "updateWebhookSubscription": frozenset({R.ADMIN}),
    "rotateWebhookSecret": frozenset({R.ADMIN}),
    "deleteWebhookSubscription": frozenset({R.ADMIN}),
    "redeliverWebhook": frozenset({R.ADMIN}),
}

# Who may read a reporter's contact (each read is recorded), and who may audit those reads.
PERSONAL_DATA_READERS = frozenset({R.COORDINATOR})
PERSONAL_DATA_AUDITORS = frozenset({R.ADMIN, R.COORDINATOR})

# Roles that see every security cabinet's material.
CABINET_WIDE = frozenset({R.ADMIN, R.COORDINATOR, R.SECRETARY})

# Who may read the event feed (GET /events): it holds no personal data and no cabinet
# material, but it does name the staff who acted.
FEED_READERS = frozenset({R.ADMIN, R.INTEGRATION})

# Who may read webhook subscriptions and their delivery logs (receivers' URLs).
WEBHOOK_ADMINS = frozenset({R.ADMIN})

OPERATION_ES = {
    "cabinetBriefing": "leer informes de gabinete",
}


def require_mutation(caller: Caller, mutation: str) -> None:
    if caller.is_public:
        raise ApiError("UNAUTHENTICATED", "unauthenticated")
    if not caller.has(*MUTATIONS[mutation]):
        raise ApiError("FORBIDDEN", "forbidden_role", operation=mutation)
    if caller.roles == {R.AGENCY_STAFF} and caller.agency_id is None:
        raise ApiError("FORBIDDEN", "agency_staff_needs_agency")


def agency_scope(caller: Caller) -> str | None:
    """An agency_staff caller (with no broader role) changes only its agency's commitments."""
    if caller.has(R.ADMIN, R.SECRETARY, R.COORDINATOR):
        return None
    if caller.has(R.AGENCY_STAFF):
        return caller.agency_id or "\x00no-agency"
    return None


def cabinet_scope(caller: Caller) -> frozenset[str] | None:
    """None: every cabinet's commitments are visible; a set: only those cabinets'."""
    if caller.has(*CABINET_WIDE):
        return None
    if caller.has(R.CABINET_MEMBER):
        return caller.table_ids
    return frozenset()


def require_briefing(caller: Caller, cabinet_id: str) -> None:
    if caller.is_public:
        raise ApiError("UNAUTHENTICATED", "unauthenticated")
    if caller.has(*CABINET_WIDE):
        return
    if caller.has(R.CABINET_MEMBER) and cabinet_id in caller.table_ids:
        return
    raise ApiError("FORBIDDEN", "forbidden_cabinet", table_id=cabinet_id)


def require_personal_data(caller: Caller, *, audit: bool = False) -> None:
    """Reporters' contacts are for the coordinators who triage cases, on record."""
    if caller.is_public:
        raise ApiError("UNAUTHENTICATED", "unauthenticated")
    if audit and not caller.has(*PERSONAL_DATA_AUDITORS):
        raise ApiError("FORBIDDEN", "forbidden_personal_data_audit")
    if not audit and not caller.has(*PERSONAL_DATA_READERS):
        raise ApiError("FORBIDDEN", "forbidden_personal_data")


def may_see_actors(caller: Caller) -> bool:
    """Who did what inside government is staff information, not the public view's."""
    return not caller.is_public


def may_see_table(caller: Caller, table_kind: str, table_id: str) -> bool:
    if table_kind != "SECURITY_CABINET":
        return True
    scope = cabinet_scope(caller)
    return scope is None or table_id in scope


def require_feed_reader(caller: Caller) -> None:
    if caller.is_public:
        raise ApiError("UNAUTHENTICATED", "unauthenticated")
    if not caller.has(*FEED_READERS):
        raise ApiError("FORBIDDEN", "forbidden_role", operation="GET /events")


def require_webhook_admin(caller: Caller, operation: str) -> None:
    if caller.is_public:
        raise ApiError("UNAUTHENTICATED", "unauthenticated")
    if not caller.has(*WEBHOOK_ADMINS):
        raise ApiError("FORBIDDEN", "forbidden_role", operation=operation)
