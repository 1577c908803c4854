"""Reads of the timelines (async, asyncpg)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from projections.timelines.projection import ENTRIES

SUBJECT_KINDS = ("case", "commitment")


class TimelineQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def timelines(
        self, municipality: str, subject_kind: str, subject_ids: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Per subject id (``subject_kind`` is 'case' or 'commitment'), its entries in
        order: ``{subject_kind, subject_id, case_id, position, at, type, actor, data}``
        (``data`` a dict of the event's displayable facts). A case's timeline holds the
        case's own events; each commitment has its own."""
        if subject_kind not in SUBJECT_KINDS:
            raise ValueError(f"subject_kind must be one of {SUBJECT_KINDS}")
        rows = await self._pool.fetch(
            "SELECT subject_kind, subject_id, case_id, position, at, type, actor, data"
            f" FROM {ENTRIES} WHERE municipality = $1 AND subject_kind = $2"
            " AND subject_id = any($3::text[]) ORDER BY subject_id, position",
            municipality,
            subject_kind,
            list(subject_ids),
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for record in rows:
            row = dict(record)
            if isinstance(row["data"], str):  # asyncpg returns jsonb as text by default
                row["data"] = json.loads(row["data"])
            found.setdefault(row["subject_id"], []).append(row)
        return found

    async def changed_after(
        self, municipality: str, subject_kind: str, position: int, limit: int = 500
    ) -> list[tuple[int, str]]:
        """``(position, subject_id)`` of the entries recorded after ``position``, in order:
        what changed since a reader last looked (live boards)."""
        if subject_kind not in SUBJECT_KINDS:
            raise ValueError(f"subject_kind must be one of {SUBJECT_KINDS}")
        rows = await self._pool.fetch(
            f"SELECT position, subject_id FROM {ENTRIES} WHERE municipality = $1"
            " AND subject_kind = $2 AND position > $3 ORDER BY position LIMIT $4",
            municipality,
            subject_kind,
            position,
            limit,
        )
        return [(r["position"], r["subject_id"]) for r in rows]

    async def latest_entries(
        self,
        municipality: str,
        *,
        case_ids: Sequence[str],
        commitment_ids: Sequence[str],
        types: Sequence[str],
    ) -> dict[str, dict[str, Any]]:
        """Per case id, its newest entry of one of ``types``, among the case's own entries
        and those of the commitments named (the caller names only the commitments its
        reader may see): ``{subject_kind, subject_id, case_id, position, at, type, data}``."""
        rows = await self._pool.fetch(
            "SELECT DISTINCT ON (case_id) subject_kind, subject_id, case_id, position, at,"
            f" type, data FROM {ENTRIES} WHERE municipality = $1 AND type = any($4::text[])"
            " AND ((subject_kind = 'case' AND subject_id = any($2::text[]))"
            " OR (subject_kind = 'commitment' AND subject_id = any($3::text[])))"
            " ORDER BY case_id, position DESC",
            municipality,
            list(case_ids),
            list(commitment_ids),
            list(types),
        )
        found: dict[str, dict[str, Any]] = {}
        for record in rows:
            row = dict(record)
            if isinstance(row["data"], str):  # asyncpg returns jsonb as text by default
                row["data"] = json.loads(row["data"])
            found[row["case_id"]] = row
        return found
