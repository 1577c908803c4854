"""Value types shared by the aggregates: the vocabulary of the contract."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

from eventsourcing.persistence import Transcoder, Transcoding

# The dates of the municipality's business: when something was agreed, is due, was
# done or was held.
BUSINESS_DATES = (date(2000, 1, 1), date(2099, 12, 31))


class Theme(Enum):
    PARTICIPATION = "PARTICIPATION"
    ECONOMY = "ECONOMY"
    CULTURE = "CULTURE"
    SAFETY = "SAFETY"
    ENVIRONMENT = "ENVIRONMENT"
    PUBLIC_SPACE = "PUBLIC_SPACE"
    WATER = "WATER"
    HEALTH = "HEALTH"
    GENDER = "GENDER"
    SPORTS = "SPORTS"
    MOBILITY = "MOBILITY"
    EDUCATION = "EDUCATION"
    CIVIL_PROTECTION = "CIVIL_PROTECTION"
    URBAN_SERVICES = "URBAN_SERVICES"


class Priority(Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    URGENT = "URGENT"


class CaseStatus(Enum):
    RAISED = "RAISED"
    TRIAGED = "TRIAGED"
    ROUTED = "ROUTED"
    IN_ATTENTION = "IN_ATTENTION"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    DECLINED = "DECLINED"
    MERGED = "MERGED"


class CommitmentStatus(Enum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    FULFILLED = "FULFILLED"
    VALIDATED = "VALIDATED"
    # Reserved by the contract; a dispute returns a commitment to IN_PROGRESS
    # (docs/decisions/0004-dispute-returns-to-in-progress.md).
    DISPUTED = "DISPUTED"
    CANCELLED = "CANCELLED"


class TableKind(Enum):
    WORKING_TABLE = "WORKING_TABLE"
    TECHNICAL_TABLE = "TECHNICAL_TABLE"
    SECURITY_CABINET = "SECURITY_CABINET"


class GovernmentLevel(Enum):
    MUNICIPAL = "MUNICIPAL"
    CITY = "CITY"
    STATE = "STATE"
    FEDERAL = "FEDERAL"
    COMMUNITY = "COMMUNITY"


class AssemblyKind(Enum):
    COMMUNITY_ASSEMBLY = "COMMUNITY_ASSEMBLY"
    DIALOGUE_FOR_PEACE = "DIALOGUE_FOR_PEACE"
    ITINERANT_ASSEMBLY = "ITINERANT_ASSEMBLY"
    PLANNING_WORKSHOP = "PLANNING_WORKSHOP"


ENUMS: tuple[type[Enum], ...] = (
    Theme,
    Priority,
    CaseStatus,
    CommitmentStatus,
    TableKind,
    GovernmentLevel,
    AssemblyKind,
)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def _enum_transcoding(enum_class: type[Enum]) -> Transcoding:
    """One transcoding per enum: the stored name is stable even if the module moves."""

    class EnumAsValue(Transcoding):
        type = enum_class
        name = f"tequio_{enum_class.__name__}"

        def encode(self, obj: Any) -> str:
            return str(obj.value)

        def decode(self, data: str) -> Any:
            return enum_class(data)

    return EnumAsValue()


def register_value_transcodings(transcoder: Transcoder) -> None:
    register = transcoder.register  # type: ignore[attr-defined]
    register(DateAsISO())
    for enum_class in ENUMS:
        register(_enum_transcoding(enum_class))
