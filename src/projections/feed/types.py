"""Which domain events the feed publishes, and their CloudEvents ``type`` names.

A type is ``mx.tequio.<kind>.<event>.v1``: the aggregate's kind and the event class
name in snake case, e.g. ``Commitment.ProgressReported`` is
``mx.tequio.commitment.progress_reported.v1``. The ``v1`` is the version of the
feed's ``data`` shape for that type, not the event's ``class_version``: an upcast
event keeps its feed type as long as its published fields do not change.

Events not listed here are never published (fail closed): idempotency receipts, and
any event class added later until someone decides what of it is public.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from cases.base import TequioAggregate
from cases.case import Case
from cases.commitment import Commitment
from cases.directory import Agency, Post, Territory
from cases.forums import Assembly, Table
from projections.base import event_class

TYPE_PREFIX = "mx.tequio"
TYPE_VERSION = "v1"

# Per aggregate, the events the feed publishes (the creation event first).
PUBLISHED: tuple[tuple[type[TequioAggregate], tuple[str, ...]], ...] = (
    (Territory, ("Added", "Updated")),
    (Agency, ("Added", "Updated")),
    (Post, ("Added", "HolderAppointed")),
    (Assembly, ("Held",)),
    (Table, ("Created", "MembersChanged", "SessionHeld")),
    (
        Case,
        (
            "Raised",
            "Triaged",
            "Routed",
            "AttentionStarted",
            "Resolved",
            "Closed",
            "Reopened",
            "MergedAsDuplicate",
            "Declined",
            "ReporterErased",
        ),
    ),
    (
        Commitment,
        (
            "Made",
            "ProgressReported",
            "Rescheduled",
            "Reassigned",
            "FulfilmentReported",
            "Validated",
            "Disputed",
            "Cancelled",
        ),
    ),
)


def snake(name: str) -> str:
    """``ProgressReported`` → ``progress_reported``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def type_name(kind: str, event_name: str) -> str:
    return f"{TYPE_PREFIX}.{kind}.{snake(event_name)}.{TYPE_VERSION}"


# Event class → (aggregate kind, event class name). Checked at import: a renamed event
# class fails loudly here rather than silently dropping out of the feed.
EVENT_KINDS: MappingProxyType[type, tuple[str, str]] = MappingProxyType(
    {
        event_class(aggregate, name): (aggregate.KIND, name)
        for aggregate, names in PUBLISHED
        for name in names
    }
)

# Every type the feed can carry, in the order of ``PUBLISHED``.
EVENT_TYPES: tuple[str, ...] = tuple(type_name(kind, name) for kind, name in EVENT_KINDS.values())

# The kinds a ``subject`` (``<kind>/<public id>``) can name.
SUBJECT_KINDS: tuple[str, ...] = tuple(aggregate.KIND for aggregate, _ in PUBLISHED)
