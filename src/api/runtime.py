"""What the lifespan builds and request handlers share (no module-level singletons)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from api.availability import DatabaseCheck
from api.query_cache import QueryCache
from cases.application import TequioApplication
from cases.clock import Clock
from projections.cases.queries import CaseQueries
from projections.commitments.queries import CommitmentQueries
from projections.directory.queries import DirectoryQueries
from projections.feed.queries import FeedQueries
from projections.forums.queries import ForumQueries
from projections.positions import ProgressWatch
from projections.runtime import ProjectionService
from projections.scorecards.queries import ScorecardQueries
from projections.timelines.queries import TimelineQueries
from tequio.database import Database
from tequio.settings import Settings


@dataclass(frozen=True)
class ReadModels:
    directory: DirectoryQueries
    forums: ForumQueries
    cases: CaseQueries
    commitments: CommitmentQueries
    scorecards: ScorecardQueries
    timelines: TimelineQueries
    feed: FeedQueries

    @classmethod
    def on(cls, pool: asyncpg.Pool) -> ReadModels:
        return cls(
            DirectoryQueries(pool),
            ForumQueries(pool),
            CaseQueries(pool),
            CommitmentQueries(pool),
            ScorecardQueries(pool),
            TimelineQueries(pool),
            FeedQueries(pool),
        )


@dataclass
class Runtime:
    settings: Settings
    database: Database
    application: TequioApplication
    pool: asyncpg.Pool
    clock: Clock
    queries: ReadModels
    projections: ProjectionService | None
    # Read your own writes: waits for the read models to have a notification id.
    progress: ProgressWatch
    # Is PostgreSQL up? Asked before each command (a success is trusted briefly).
    database_check: DatabaseCheck
    # Answers of read-only queries (ADR 0016); None when TEQUIO_QUERY_CACHE_SIZE=0.
    query_cache: QueryCache | None = None
