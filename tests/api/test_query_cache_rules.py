"""The response cache's rules, without a server (ADR 0016): when the read models'
positions are trusted, what the key holds, the LRU's bounds, and which documents may
be cached at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import asyncpg
import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType

from api.auth import PUBLIC, Caller, Role
from api.graphql.schema import build_schema
from api.policy import cabinet_scope
from api.query_cache import (
    READ_FIELDS,
    READ_ROOT_FIELDS,
    QueryCache,
    ReadModelPositions,
    Tracking,
    Verdict,
    judge,
)

NAMES = ("directory", "commitments")


class FakeWatch:
    """What ReadModelPositions reads of ProgressWatch: ``listening``, ``sessions`` and
    ``known()``."""

    def __init__(self) -> None:
        self.listening = True
        self.sessions = 1
        self._reached: dict[str, int] = {}

    def known(self) -> dict[str, int]:
        return self._reached


class FakeTables:
    """The tracking tables: an oid and a position per read model, or missing."""

    def __init__(self) -> None:
        self.rows: Tracking = {"directory": (1, 10), "commitments": (2, 20)}
        self.missing = False
        self.during_read: Any = None

    async def __call__(self, _pool: Any, names: Any) -> Tracking:
        if self.during_read is not None:
            self.during_read()
        if self.missing:
            raise asyncpg.UndefinedTableError("relation does not exist")
        return {name: self.rows[name] for name in names}


@pytest.fixture
def watch() -> FakeWatch:
    return FakeWatch()


@pytest.fixture
def tables() -> FakeTables:
    return FakeTables()


@pytest.fixture
def positions(watch: FakeWatch, tables: FakeTables) -> ReadModelPositions:
    return ReadModelPositions(watch, None, names=NAMES, read=tables)  # type: ignore[arg-type]


async def test_nothing_is_trusted_before_the_tables_are_read(
    positions: ReadModelPositions, watch: FakeWatch
) -> None:
    watch._reached = {"directory": 10, "commitments": 20}
    assert positions.snapshot() is None
    assert await positions.reread()
    assert positions.snapshot() == (0, (("directory", 10), ("commitments", 20)))


async def test_not_listening_means_no_cache_until_the_tables_are_read_again(
    positions: ReadModelPositions, watch: FakeWatch, tables: FakeTables
) -> None:
    assert await positions.reread()
    watch.listening = False
    assert positions.snapshot() is None
    # Announcements were lost meanwhile: back up, it still waits for a read of the tables.
    tables.rows["commitments"] = (2, 25)
    watch.listening = True
    assert positions.snapshot() is None
    assert await positions.reread()
    assert positions.snapshot() == (0, (("directory", 10), ("commitments", 25)))


async def test_a_reconnection_never_seen_down_still_needs_a_new_read(
    positions: ReadModelPositions, watch: FakeWatch, tables: FakeTables
) -> None:
    assert await positions.reread()
    assert positions.snapshot() is not None
    watch.sessions += 1  # broke and came back between two looks
    assert positions.snapshot() is None
    assert await positions.reread()
    assert positions.snapshot() == (0, (("directory", 10), ("commitments", 20)))


async def test_a_slow_read_keeps_the_positions_only_until_they_are_too_old(
    positions: ReadModelPositions, tables: FakeTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await positions.reread()

    async def slow(_pool: Any, _names: Any) -> Tracking:
        raise TimeoutError  # what asyncio.timeout raises on a busy loop

    monkeypatch.setattr(positions, "_read", slow)
    assert await positions.reread()  # slow is not wrong: still trusted
    assert positions.snapshot() == (0, (("directory", 10), ("commitments", 20)))
    monkeypatch.setattr(positions, "max_age", 0.0)
    assert positions.snapshot() is None  # not read again for too long
    monkeypatch.setattr(positions, "_read", tables)
    monkeypatch.setattr(positions, "max_age", 2.0)
    assert await positions.reread()
    assert positions.snapshot() is not None


async def test_a_read_during_which_the_connection_broke_is_not_trusted(
    positions: ReadModelPositions, watch: FakeWatch, tables: FakeTables
) -> None:
    def break_and_mend() -> None:
        watch.listening = False
        positions.snapshot()  # a request notices the break
        watch.listening = True

    tables.during_read = break_and_mend
    assert not await positions.reread()
    assert positions.snapshot() is None


async def test_what_progress_watch_hears_moves_the_key_forward_never_back(
    positions: ReadModelPositions, watch: FakeWatch
) -> None:
    assert await positions.reread()
    watch._reached = {"directory": 10, "commitments": 21}
    assert positions.snapshot() == (0, (("directory", 10), ("commitments", 21)))
    # ProgressWatch re-reads a table that lags an announcement it heard: it steps back.
    watch._reached = {"directory": 10, "commitments": 20}
    assert positions.snapshot() == (0, (("directory", 10), ("commitments", 21)))


async def test_a_rebuilt_read_model_starts_a_new_epoch_once_it_is_back(
    positions: ReadModelPositions, tables: FakeTables
) -> None:
    assert await positions.reread()
    tables.missing = True  # dropped
    assert not await positions.reread()
    assert positions.snapshot() is None
    tables.missing = False
    tables.rows["commitments"] = (3, 5)  # made again, half replayed
    assert not await positions.reread()
    assert positions.snapshot() is None
    tables.rows["commitments"] = (3, 20)  # back where it was
    assert await positions.reread()
    assert positions.snapshot() == (1, (("directory", 10), ("commitments", 20)))


async def test_a_rebuild_between_two_reads_is_seen_by_its_new_table(
    positions: ReadModelPositions, tables: FakeTables
) -> None:
    assert await positions.reread()
    tables.rows["directory"] = (4, 10)
    assert await positions.reread()
    snapshot = positions.snapshot()
    assert snapshot is not None and snapshot[0] == 1


async def test_without_progress_watchs_positions_nothing_is_cached(
    tables: FakeTables,
) -> None:
    class Opaque:
        listening = True

    positions = ReadModelPositions(Opaque(), None, names=NAMES, read=tables)  # type: ignore[arg-type]
    assert await positions.reread()
    assert positions.snapshot() is None


class Context:
    def __init__(self, caller: Caller = PUBLIC, **kw: Any) -> None:
        self.caller = caller
        self.cabinet_scope = cabinet_scope(caller)
        self.language = kw.get("language", "en")
        self.municipality = kw.get("municipality", "iztapalapa")
        self.today = kw.get("today", date(2026, 11, 16))


MEMBER = Caller(
    subject="jefe.sector",
    roles=frozenset({Role.CABINET_MEMBER}),
    table_ids=frozenset({"gabinete-teotongo"}),
    municipality="iztapalapa",
)
AT = (0, (("directory", 10), ("commitments", 20)))


def key(**kw: Any) -> bytes | None:
    parts: dict[str, Any] = {
        "document": "{ commitments { totalCount } }",
        "operation_name": None,
        "variables": {"a": 1, "b": [1, 2]},
        "context": Context(MEMBER),
        "positions": AT,
    }
    parts.update(kw)
    return QueryCache.key(**parts)


def test_the_key_holds_every_part_an_answer_depends_on() -> None:
    base = key()
    assert base is not None
    assert key(variables={"b": [1, 2], "a": 1}) == base  # canonical JSON
    others = [
        key(document="{ commitments { totalCount } } "),
        key(operation_name="Board"),
        key(variables={"a": 1, "b": [2, 1]}),
        key(context=Context(replace(MEMBER, subject="jefa.cabeza"))),
        key(context=Context(replace(MEMBER, table_ids=frozenset({"gabinete-cabeza"})))),
        key(context=Context(replace(MEMBER, roles=frozenset({Role.SECRETARY})))),
        key(context=Context(replace(MEMBER, agency_id="ssc"))),
        key(context=Context(replace(MEMBER, municipality="tlalpan"))),
        key(context=Context(MEMBER, language="es")),
        key(context=Context(MEMBER, municipality="tlalpan")),
        key(context=Context(MEMBER, today=date(2026, 11, 17))),
        key(positions=(0, (("directory", 10), ("commitments", 21)))),
        key(positions=(1, (("directory", 10), ("commitments", 20)))),
    ]
    assert None not in others
    assert len({base, *others}) == len(others) + 1


def test_the_cache_keeps_at_most_its_size_and_nothing_too_big() -> None:
    cache = QueryCache(
        size=2,
        max_entry_bytes=100,
        positions=None,  # type: ignore[arg-type]
        judge=lambda _: Verdict(True),
    )
    assert cache.put(b"a", b"1" * 10) and cache.put(b"b", b"2" * 10)
    assert cache.get(b"a") == b"1" * 10  # now the most recently used
    assert cache.put(b"c", b"3" * 10)
    assert cache.get(b"b") is None and cache.get(b"a") is not None
    assert not cache.put(b"d", b"4" * 101)
    assert (cache.entries, cache.total_bytes, cache.stats.evictions) == (2, 20, 1)
    assert cache.stats.not_stored == {"too_large": 1}


def test_the_cache_keeps_at_most_its_byte_budget() -> None:
    cache = QueryCache(
        size=10,
        max_entry_bytes=100,
        max_bytes=25,
        positions=None,  # type: ignore[arg-type]
        judge=lambda _: Verdict(True),
    )
    assert cache.put(b"a", b"1" * 10) and cache.put(b"b", b"2" * 10)
    assert cache.put(b"c", b"3" * 10)  # 30 bytes: the least recently used goes
    assert cache.get(b"a") is None and cache.get(b"b") is not None
    assert (cache.entries, cache.total_bytes) == (2, 20)
    assert not cache.put(b"d", b"4" * 26)  # bigger than the whole budget
    assert cache.stats.not_stored == {"too_large": 1}


def test_answers_made_before_the_read_models_moved_on_are_dropped() -> None:
    cache = QueryCache(
        size=10,
        max_entry_bytes=100,
        positions=None,  # type: ignore[arg-type]
        judge=lambda _: Verdict(True),
    )
    later = (0, (("directory", 10), ("commitments", 21)))
    cache.observe(AT)
    assert cache.put(b"a", b"1", AT)
    cache.observe(AT)
    assert cache.get(b"a") == b"1"
    cache.observe(later)
    assert cache.entries == 0 and cache.stats.invalidated == 1
    # A miss that began before the move finishes after it: its answer is not kept.
    assert not cache.put(b"b", b"2", AT)
    assert cache.put(b"c", b"3", later)
    assert cache.stats.not_stored == {"moved_on": 1}


SCHEMA = build_schema()


def verdict(document: str) -> Verdict:
    return judge(SCHEMA._schema, document, rules=SCHEMA.limit_rules, max_tokens=SCHEMA.max_tokens)


@pytest.mark.parametrize(
    "document",
    [
        "{ commitments(first: 50) { totalCount edges { node { id case { title } } } } }",
        'query B { cabinetBriefing(cabinetId: "x", since: "2026-11-01T00:00:00-06:00")'
        " { overdue { daysOverdue } } }",
        'query($s: Boolean!) { case(id: "1") { title @include(if: $s) __typename } }',
    ],
)
def test_reads_of_the_read_models_may_be_cached(document: str) -> None:
    assert verdict(document).cacheable


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ('mutation { addAgency(name: "x", level: MUNICIPAL) { id } }', "a mutation"),
        ("subscription { commitmentChanged { id } }", "a subscription"),
        (
            'query Q { territories { id } } mutation M { addAgency(name: "x", level: CITY) { id } }',
            "a mutation",
        ),
        ('{ case(id: "1") { reporter { name } } }', "Case.reporter is not a cached read"),
        (
            '{ commitment(id: "1") { case { ...R } } } fragment R on Case { who: reporter { email } }',
            "Case.reporter is not a cached read",
        ),
        ('{ reporterReads(caseId: "1") { actor } }', "Query.reporterReads is not a cached read"),
        ("{ webhookSubscriptions { id } }", "Query.webhookSubscriptions is not a cached read"),
        ("{ __schema { types { name } } }", "Query.__schema is not a cached read"),
        ("{ territories { id } ", "does not parse"),
        ("{ territories { nope } }", "not valid"),
        ("{ " + "territories { parent { " * 11 + "id" + " } }" * 11 + " }", "not valid"),
    ],
)
def test_anything_else_is_never_cached(document: str, reason: str) -> None:
    assert verdict(document) == Verdict(False, reason)


def _named(type_: Any) -> Any:
    while isinstance(type_, (GraphQLNonNull, GraphQLList)):
        type_ = type_.of_type
    return type_


def test_every_field_of_a_cached_read_was_decided_on() -> None:
    """A new field on a type a cached read reaches, or a new type, must be added to
    READ_FIELDS (or left out on purpose, as Case.reporter is) before it is cached."""
    left_out = {"Case": {"reporter"}}
    query = SCHEMA._schema.query_type
    assert query is not None
    seen: set[str] = set()
    todo = [_named(query.fields[name].type) for name in READ_ROOT_FIELDS]
    while todo:
        type_ = todo.pop()
        if not isinstance(type_, GraphQLObjectType) or type_.name in seen:
            continue
        seen.add(type_.name)
        assert type_.name in READ_FIELDS, type_.name
        fields = set(type_.fields)
        assert fields == READ_FIELDS[type_.name] | left_out.get(type_.name, set()), type_.name
        todo += [_named(f.type) for n, f in type_.fields.items() if n in READ_FIELDS[type_.name]]
    assert seen | {"Query"} == set(READ_FIELDS)
