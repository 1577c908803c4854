"""Rules the read models share: what is still owed, and who may see cabinet commitments."""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import date, datetime
from zoneinfo import ZoneInfo

from cases.clock import OWED
from projections.pages import Params

# Still owed (so it can be overdue): the same states as ``cases.clock.OWED``.
OWED_STATUSES = sorted(status.value for status in OWED)
FULFILLED_STATUSES = ["FULFILLED", "VALIDATED"]
SECURITY_CABINET = "SECURITY_CABINET"

# None: every commitment is visible. A set of table ids: commitments agreed at a
# security cabinet are visible only if their table is in the set.
CabinetScope = Collection[str] | None


def visible(p: Params, cabinet_scope: CabinetScope, alias: str = "c") -> str:
    """The confidentiality rule as a SQL condition on a row with ``table_kind``/``table_id``."""
    if cabinet_scope is None:
        return "TRUE"
    return (
        f"({alias}.table_kind IS DISTINCT FROM '{SECURITY_CABINET}'"
        f" OR {alias}.table_id = any({p(sorted(cabinet_scope))}::text[]))"
    )


def owed(p: Params, alias: str = "c") -> str:
    return f"{alias}.status = any({p(OWED_STATUSES)}::text[])"


# Dates are judged in the municipality's time zone (``TEQUIO_TIME_ZONE`` overrides).
DEFAULT_TIME_ZONE = "America/Mexico_City"


def time_zone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("TEQUIO_TIME_ZONE") or DEFAULT_TIME_ZONE)


def reported_day(event: object, zone: ZoneInfo) -> date:
    """The day a fulfilment was reported: ``reported_on`` when the event carries it
    (staff may record it days later), else its timestamp as a local date."""
    reported_on = getattr(event, "reported_on", None)
    if isinstance(reported_on, date):
        return reported_on
    timestamp: datetime = getattr(event, "timestamp")  # noqa: B009
    return timestamp.astimezone(zone).date()
