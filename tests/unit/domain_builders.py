"""Builders for the pure domain tests: aggregates made directly, no database."""

from __future__ import annotations

from datetime import date
from typing import Any

from cases.case import Case
from cases.commitment import Commitment
from cases.values import Theme

MUNICIPALITY = "iztapalapa"
AGREED_ON = date(2026, 11, 17)  # Tuesday: the lighting table meets
DUE_ON = date(2026, 11, 20)  # Friday


def new_commitment(**overrides: Any) -> Commitment:
    kwargs: dict[str, Any] = {
        "municipality": MUNICIPALITY,
        "public_id": "lamps",
        "case_id": "camino-real",
        "table_id": "alumbrado",
        "session_id": None,
        "assembly_id": None,
        "responsible_agency_id": "servicios-urbanos",
        "post_id": "jefatura-alumbrado",
        "accountable_official_id": "jorge",
        "description": "Repair 12 lamps on Calle Camino Real",
        "agreed_on": AGREED_ON,
        "due_on": DUE_ON,
        "actor": "secretary:ana",
    }
    kwargs.update(overrides)
    return Commitment.make(**kwargs)


def new_case(**overrides: Any) -> Case:
    kwargs: dict[str, Any] = {
        "municipality": MUNICIPALITY,
        "public_id": "camino-real",
        "territory_id": "smt-avisadero",
        "theme": Theme.SAFETY,
        "title": "Dark stretch of Calle Camino Real",
        "description": "Two women were assaulted there at night.",
        "assembly_id": "dialogo-avisadero",
        "external_id": None,
        "reporter_sealed": {"v": 1, "ciphertext": "c2VhbGVk"},
        "location": None,
        "actor": "coordinator:rosa",
    }
    kwargs.update(overrides)
    return Case(**kwargs)
