"""A board page with nested cases, territories, agencies, officials and tables costs a
bounded number of SQL queries (DataLoaders batch them), however many rows it shows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from world import LIGHTING_TABLE, World, module_world

from api.runtime import ReadModels

world = module_world()

MAX_QUERIES = 12

PAGE = """
query($first: Int!) { commitments(first: $first) { totalCount edges { node {
  id description
  case { title territory { name } }
  responsible { name }
  accountable { name }
  accountableWhenMade { name }
  table { name }
} } } }
"""


class CountingConnection:
    def __init__(self, conn: Any, statements: list[str]) -> None:
        self._conn = conn
        self._statements = statements

    async def fetch(self, query: str, *args: Any, **kw: Any) -> Any:
        self._statements.append(query)
        return await self._conn.fetch(query, *args, **kw)

    async def fetchrow(self, query: str, *args: Any, **kw: Any) -> Any:
        self._statements.append(query)
        return await self._conn.fetchrow(query, *args, **kw)

    async def fetchval(self, query: str, *args: Any, **kw: Any) -> Any:
        self._statements.append(query)
        return await self._conn.fetchval(query, *args, **kw)

    async def execute(self, query: str, *args: Any, **kw: Any) -> Any:
        self._statements.append(query)
        return await self._conn.execute(query, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class CountingPool(CountingConnection):
    """The asyncpg pool, counting every statement the read models send through it."""

    def __init__(self, pool: Any) -> None:
        super().__init__(pool, [])
        self.statements = self._statements

    @asynccontextmanager
    async def acquire(self, *args: Any, **kw: Any) -> AsyncIterator[CountingConnection]:
        async with self._conn.acquire(*args, **kw) as conn:
            yield CountingConnection(conn, self.statements)


@contextmanager
def counting(world: World) -> Iterator[CountingPool]:
    assert world.app is not None
    runtime = world.app.state.runtime
    original = runtime.queries
    pool = CountingPool(runtime.pool)
    runtime.queries = ReadModels.on(pool)  # type: ignore[arg-type]
    try:
        yield pool
    finally:
        runtime.queries = original


@pytest.fixture(scope="module")
async def busy_board(world: World) -> int:
    """51 commitments over 17 cases in two colonias, by two agencies, with an accountable
    post whose holder changed halfway (so "now" and "when made" differ)."""
    kinds = [
        ("servicios-urbanos", "jefatura-alumbrado", LIGHTING_TABLE),
        ("obras", "direccion-obras", LIGHTING_TABLE),
        ("obras", None, None),
    ]
    for n in range(17):
        if n == 8:
            await world.api.run(
                'mutation { appointToPost(postId: "jefatura-alumbrado",'
                ' officialName: "Laura Gómez") { id } }',
                token=world.coordinator,
            )
        case = await world.raise_case(
            f"Problema {n}", territory="smt-avisadero" if n % 2 else "smt-mercado"
        )
        for k, (agency, post, table) in enumerate(kinds):
            await world.commit(
                case["id"],
                f"Acuerdo {n}.{k}",
                agency=agency,
                post=post,
                table=table,
                due=f"2026-12-{(n + k) % 28 + 1:02d}",
            )
    return 17 * len(kinds)


async def page(world: World, first: int) -> tuple[list[dict[str, Any]], int]:
    with counting(world) as pool:
        data = await world.api.run(PAGE, {"first": first})
    return [e["node"] for e in data["commitments"]["edges"]], len(pool.statements)


async def test_a_page_of_50_commitments_with_nested_fields_costs_a_few_queries(
    world: World, busy_board: int
) -> None:
    nodes, queries = await page(world, 50)
    assert len(nodes) == 50
    assert {n["case"]["territory"]["name"] for n in nodes} == {
        "San Miguel Teotongo Sección Avisadero",
        "San Miguel Teotongo Sección Mercado",
    }
    assert {n["responsible"]["name"] for n in nodes} == {
        "Dirección General de Servicios Urbanos",
        "Dirección General de Obras",
    }
    lighting = [n for n in nodes if n["responsible"]["name"].endswith("Servicios Urbanos")]
    assert {n["accountable"]["name"] for n in lighting} == {"Laura Gómez"}
    assert {n["accountableWhenMade"]["name"] for n in lighting} == {
        "Jorge Sánchez",
        "Laura Gómez",
    }
    assert {(n["table"] or {}).get("name") for n in nodes} == {
        "Alumbrado y espacio público",
        None,
    }
    assert queries <= MAX_QUERIES, f"{queries} SQL statements for one page of 50"


async def test_query_count_does_not_grow_with_the_page_size(world: World, busy_board: int) -> None:
    ten, queries_for_10 = await page(world, 10)
    fifty, queries_for_50 = await page(world, 50)
    assert (len(ten), len(fifty)) == (10, 50)
    assert queries_for_10 <= MAX_QUERIES
    assert queries_for_50 <= queries_for_10, (queries_for_10, queries_for_50)


async def test_a_null_page_size_is_the_default_page_of_50(world: World, busy_board: int) -> None:
    # The contract's `first: Int = 50`: a client that passes null gets the default.
    data = await world.api.run(
        "query($first: Int) { commitments(first: $first) { totalCount"
        " pageInfo { hasNextPage } edges { node { id } } } }",
        {"first": None},
    )
    page = data["commitments"]
    assert (len(page["edges"]), page["totalCount"], page["pageInfo"]["hasNextPage"]) == (
        50,
        busy_board,
        True,
    )
