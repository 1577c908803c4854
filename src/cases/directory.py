"""The directory: territories, agencies (and community groups), posts and who holds them.

Changes are events too, so "who was accountable on that day" has an answer.
"""

from __future__ import annotations

from eventsourcing.domain import event

from cases.base import TequioAggregate
from cases.errors import RuleViolation
from cases.values import GovernmentLevel


class Territory(TequioAggregate):
    """A node of the territory tree: municipality, directorate, neighbourhood, section."""

    KIND = "territory"

    @event("Added")
    def __init__(
        self,
        *,
        municipality: str,
        public_id: str,
        name: str,
        kind: str,
        parent_id: str | None,
        actor: str,
    ) -> None:
        self.municipality = municipality
        self.public_id = public_id
        self.parent_id = parent_id

    def update(self, *, name: str, kind: str, parent_id: str | None, actor: str) -> None:
        if parent_id == self.public_id:
            raise RuleViolation("territory_cycle", id=self.public_id)
        self._updated(name=name, kind=kind, parent_id=parent_id, actor=actor)

    @event("Updated")
    def _updated(self, *, name: str, kind: str, parent_id: str | None, actor: str) -> None:
        self.parent_id = parent_id


class Agency(TequioAggregate):
    """A government unit at some level, or a community group (level COMMUNITY)."""

    KIND = "agency"

    @event("Added")
    def __init__(
        self,
        *,
        municipality: str,
        public_id: str,
        name: str,
        level: GovernmentLevel,
        actor: str,
    ) -> None:
        self.municipality = municipality
        self.public_id = public_id

    def update(self, *, name: str, level: GovernmentLevel, actor: str) -> None:
        self._updated(name=name, level=level, actor=actor)

    @event("Updated")
    def _updated(self, *, name: str, level: GovernmentLevel, actor: str) -> None:
        pass


class Post(TequioAggregate):
    """A position in an agency, held by one official at a time."""

    KIND = "post"

    @event("Added")
    def __init__(
        self,
        *,
        municipality: str,
        public_id: str,
        title: str,
        agency_id: str,
        actor: str,
    ) -> None:
        self.municipality = municipality
        self.public_id = public_id
        self.agency_id = agency_id
        self.holder_id: str | None = None

    def appoint(self, *, official_id: str, official_name: str, actor: str) -> None:
        if not official_name.strip():
            raise RuleViolation("post_vacant_name")
        if official_id == self.holder_id:
            raise RuleViolation("already_holds_post", name=official_name, post_id=self.public_id)
        self._holder_appointed(
            official_id=official_id,
            official_name=official_name,
            previous_official_id=self.holder_id,
            actor=actor,
        )

    @event("HolderAppointed")
    def _holder_appointed(
        self,
        *,
        official_id: str,
        official_name: str,
        previous_official_id: str | None,
        actor: str,
    ) -> None:
        # The previous holder's term ends at this event's timestamp.
        self.holder_id = official_id
