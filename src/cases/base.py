"""What every Tequio aggregate shares: its municipality (the tenant) and its public id."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from cases.ids import aggregate_id


class TequioAggregate(Aggregate):
    KIND: ClassVar[str] = ""
    municipality: str
    public_id: str

    @classmethod
    def create_id(cls, municipality: str, public_id: str) -> UUID:
        return aggregate_id(municipality, cls.KIND, public_id)

    @classmethod
    def id_for(cls, municipality: str, public_id: str) -> UUID:
        return aggregate_id(municipality, cls.KIND, public_id)
