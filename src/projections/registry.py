"""Every read model, in the order they are started, rebuilt and reported."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from projections.base import TequioProjection, TequioView
from projections.cases.projection import CasesProjection, CasesView
from projections.commitments.projection import CommitmentsProjection, CommitmentsView
from projections.directory.projection import DirectoryProjection, DirectoryView
from projections.feed.projection import FeedProjection, FeedView
from projections.forums.projection import ForumsProjection, ForumsView
from projections.scorecards.projection import ScorecardsProjection, ScorecardsView
from projections.timelines.projection import TimelinesProjection, TimelinesView

ProjectionPair = tuple[type[TequioProjection[Any]], type[TequioView]]

# Each running projection's heartbeat row (written every few seconds by the process
# that keeps it): a heartbeat older than this means nobody keeps it now.
STATUS_TABLE = "projections_status"
HEARTBEAT_STALE_AFTER = 10.0

PROJECTIONS: MappingProxyType[str, ProjectionPair] = MappingProxyType(
    {
        projection.name: (projection, view)
        for projection, view in (
            (DirectoryProjection, DirectoryView),
            (ForumsProjection, ForumsView),
            (CasesProjection, CasesView),
            (CommitmentsProjection, CommitmentsView),
            (ScorecardsProjection, ScorecardsView),
            (TimelinesProjection, TimelinesView),
            (FeedProjection, FeedView),
        )
    }
)


def select(names: list[str] | None) -> list[str]:
    """The named projections in registry order (all when ``names`` is empty or None)."""
    if not names:
        return list(PROJECTIONS)
    unknown = sorted(set(names) - set(PROJECTIONS))
    if unknown:
        raise KeyError(f"unknown projection {', '.join(unknown)} (known: {', '.join(PROJECTIONS)})")
    return [name for name in PROJECTIONS if name in names]


def tracking_table(name: str) -> str:
    """The library names a view's tracking table after the projection."""
    return f"{name.lower()}_tracking"
