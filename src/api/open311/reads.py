"""Cases as Open311 service requests: the public view, read only through the read models.

Whoever asks, an Open311 answer is the public view: no reporter, no commitment agreed
in a security cabinet (``cabinet_scope=frozenset()``), no actor names.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from api.open311.catalogue import SERVICES, status_notice
from api.runtime import ReadModels
from projections.cases.queries import OPEN_STATUSES
from projections.rules import OWED_STATUSES

PUBLIC_VIEW: frozenset[str] = frozenset()

# Timeline entries whose text explains where a request stands, and the field holding it.
NOTE_FIELDS = {
    "ProgressReported": "note",
    "FulfilmentReported": "evidence",
    "Resolved": "summary",
    "Declined": "reason",
    "Reopened": "reason",
}


def open311_status(case_status: str) -> str:
    return "open" if case_status in OPEN_STATUSES else "closed"


def w3(at: datetime, zone: ZoneInfo) -> str:
    """The spec's w3 date-time, with the municipality's offset, to the second."""
    return at.astimezone(zone).replace(microsecond=0).isoformat()


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    # A commitment due on a day is kept if done by that day's end, local time.
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone)


class Open311Reads:
    def __init__(
        self, queries: ReadModels, municipality: str, zone: ZoneInfo, language: str
    ) -> None:
        self.q = queries
        self.municipality = municipality
        self.zone = zone
        self.language = language

    async def territories(self) -> list[dict[str, Any]]:
        return await self.q.directory.territories(self.municipality)

    async def requests(self, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The spec's request records for these case rows, in the same order."""
        if not cases:
            return []
        m = self.municipality
        case_ids = [c["id"] for c in cases]
        commitments = await self.q.commitments.commitments_by_case_ids(
            m, case_ids, cabinet_scope=PUBLIC_VIEW
        )
        visible = [c for rows in commitments.values() for c in rows]
        agency_ids = sorted({c["responsible_agency_id"] for c in visible})
        agencies = {
            a["id"]: a["name"] for a in await self.q.directory.agencies_by_ids(m, agency_ids)
        }
        territory_ids = sorted({c["territory_id"] for c in cases})
        territories = {
            t["id"]: t["name"] for t in await self.q.directory.territories_by_ids(m, territory_ids)
        }
        notes = await self.q.timelines.latest_entries(
            m,
            case_ids=case_ids,
            commitment_ids=[c["id"] for c in visible],
            types=list(NOTE_FIELDS),
        )
        return [
            self._record(case, commitments.get(case["id"], []), agencies, territories, notes)
            for case in cases
        ]

    def _record(
        self,
        case: dict[str, Any],
        commitments: list[dict[str, Any]],
        agencies: dict[str, str],
        territories: dict[str, str],
        notes: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        language = self.language
        service = SERVICES.get(case["theme"])
        responsible: list[str] = []
        for commitment in commitments:
            name = agencies.get(commitment["responsible_agency_id"])
            if commitment["status"] != "CANCELLED" and name and name not in responsible:
                responsible.append(name)
        owed = [c["due_on"] for c in commitments if c["status"] in OWED_STATUSES]
        updated = max([case["updated_at"], *(c["updated_at"] for c in commitments)])
        note = notes.get(case["id"])
        note_text = None
        if note is not None:
            value = (note.get("data") or {}).get(NOTE_FIELDS[note["type"]])
            note_text = str(value).strip() if value else None
        return {
            "service_request_id": case["id"],
            "status": open311_status(case["status"]),
            "status_notes": note_text,
            "service_name": service.localized(language)["service_name"] if service else None,
            "service_code": case["theme"],
            "description": case["description"],
            "agency_responsible": ", ".join(responsible) or None,
            "service_notice": status_notice(case["status"], case["merged_into"], language),
            "requested_datetime": w3(case["raised_at"], self.zone),
            "updated_datetime": w3(updated, self.zone),
            "expected_datetime": w3(end_of_day(min(owed), self.zone), self.zone) if owed else None,
            "address": _address(case.get("address"), territories.get(case["territory_id"])),
            "address_id": case["territory_id"],
            "zipcode": None,
            "lat": case.get("lat"),
            "long": case.get("long"),
            "media_url": None,
        }


def _address(address: str | None, territory: str | None) -> str | None:
    """Most specific first, as the spec asks: the street address, then the neighbourhood."""
    parts = [address] if address else []
    if territory and not (address and territory.casefold() in address.casefold()):
        parts.append(territory)
    return ", ".join(parts) or None
