"""The response cache of read-only queries (ADR 0016), over HTTP against the real app.

A repeated read is answered from the cache (``Tequio-Query-Cache: HIT``, and the
metrics count it) with the bytes a fresh read gives; a write, a new day, another
language or another caller gets a fresh answer; personal data, mutations, webhooks and
errors are never kept. The settings and the refusals that come first are in
``test_query_cache_settings.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from anyio import to_thread
from cache_support import ask, data, metric, until_cached
from world import CABINET, OTHER_CABINET, PROGRESS, ROUTE, TRIAGE, World, module_world

from api.query_cache import HEADER, known_positions
from cases.application import CommandContext
from cases.clock import FixedClock
from projections.registry import PROJECTIONS

world = module_world()

BOARD = """
query Board($filter: CommitmentFilter, $first: Int!) {
  commitments(filter: $filter, first: $first) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id description status progress dueOn overdue daysOverdue
      responsible { name } accountable { name } case { title territory { name } } } }
  }
}
"""
TIMELINE = "query($id: ID!) { case(id: $id) { title timeline { type summary } } }"


@pytest.fixture(scope="module")
async def lamps(world: World) -> dict[str, Any]:
    """A case with one commitment of servicios-urbanos at the lighting table."""
    case = await world.raise_case("Luminarias fundidas en la Avenida Las Torres")
    commitment = await world.commit(case["id"], "Cambiar 12 luminarias", due="2026-11-17")
    return {"case": case["id"], "commitment": commitment["id"]}


@pytest.fixture(scope="module")
async def patrols(world: World) -> dict[str, Any]:
    """A safety case routed to the Teotongo cabinet, with one commitment made there."""
    api = world.api
    case = await world.raise_case("Asaltos en la parada del Cerro", theme="SAFETY")
    case = (
        await api.run(
            TRIAGE,
            {"id": case["id"], "v": case["version"], "theme": "SAFETY", "priority": "HIGH"},
            token=world.coordinator,
        )
    )["triageCase"]
    await api.run(
        ROUTE,
        {"id": case["id"], "v": case["version"], "tables": [CABINET]},
        token=world.coordinator,
    )
    commitment = await world.commit(
        case["id"], "Patrullar la parada de 20 a 23 h", agency="ssc", table=CABINET
    )
    return {"case": case["id"], "commitment": commitment["id"]}


async def test_a_repeated_board_query_is_answered_from_the_cache(
    world: World, lamps: dict[str, Any]
) -> None:
    api = world.api
    variables = {"filter": {"agencyId": "servicios-urbanos"}, "first": 50}
    await until_cached(api, BOARD, variables=variables, token=world.coordinator)
    hits = await metric(api, 'tequio_query_cache_requests_total{result="hit"}')

    first, fresh = await ask(api, BOARD, {"first": 50}, token=world.coordinator)
    second, cached = await ask(api, BOARD, {"first": 50}, token=world.coordinator)
    # The same variables written in another order are the same request.
    third, again = await ask(api, BOARD, {"first": 50, "filter": None}, token=world.coordinator)

    assert (first, second) == ("MISS", "HIT")
    assert cached.content == fresh.content
    assert cached.headers["content-type"] == "application/json"
    assert data(cached)["commitments"]["totalCount"] >= 1
    assert third == "MISS"  # an explicit null is another variables object: not guessed at
    assert again.content == fresh.content
    assert await metric(api, 'tequio_query_cache_requests_total{result="hit"}') == hits + 1
    assert await metric(api, "tequio_query_cache_entries") >= 2


async def test_a_write_shows_in_the_next_read(world: World, lamps: dict[str, Any]) -> None:
    api = world.api
    query = "query($id: ID!) { commitment(id: $id) { version progress } }"
    variables = {"id": lamps["commitment"]}
    await until_cached(api, query, variables=variables, token=world.urbanos)
    before = data((await ask(api, query, variables, token=world.urbanos))[1])["commitment"]

    await api.run(
        PROGRESS,
        {
            "id": lamps["commitment"],
            "v": before["version"],
            "p": before["progress"] + 10,
            "note": "Avance",
        },
        token=world.urbanos,
    )

    outcome, response = await ask(api, query, variables, token=world.urbanos)
    assert outcome == "MISS"
    assert data(response)["commitment"] == {
        "version": before["version"] + 1,
        "progress": before["progress"] + 10,
    }
    # Another caller's entry from before the write is not served either.
    outcome, response = await ask(api, query, variables, token=world.secretary)
    assert outcome == "MISS"
    assert data(response)["commitment"]["progress"] == before["progress"] + 10


async def test_a_write_made_elsewhere_shows_once_the_api_has_heard_of_it(
    world: World, lamps: dict[str, Any]
) -> None:
    """A write through the write side directly (another process, an import): the runners
    announce it, and the answer kept before it is not served once it is heard."""
    assert world.app is not None
    runtime = world.app.state.runtime
    api = world.api
    query = "query($id: ID!) { commitment(id: $id) { version progress } }"
    variables = {"id": lamps["commitment"]}
    await until_cached(api, query, variables=variables, token=world.secretary)
    before = data((await ask(api, query, variables, token=world.secretary))[1])["commitment"]

    ctx = CommandContext(actor="staff.urbanos", municipality="iztapalapa")
    result = await to_thread.run_sync(
        lambda: runtime.application.report_progress(
            ctx,
            commitment_id=lamps["commitment"],
            expected_version=before["version"],
            progress=before["progress"] + 5,
            note="Desde otro proceso",
        )
    )
    # Nothing here waits on ProgressWatch: it hears the announcements by itself.
    for _ in range(200):
        known = known_positions(runtime.progress) or {}
        if all(known.get(name, 0) >= result.notification_id for name in PROJECTIONS):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("ProgressWatch never heard of the write")

    outcome, response = await ask(api, query, variables, token=world.secretary)
    assert outcome == "MISS"
    assert data(response)["commitment"]["progress"] == before["progress"] + 5


async def test_announcements_lost_while_not_listening_are_never_served_around(
    world: World, lamps: dict[str, Any]
) -> None:
    """ProgressWatch's listening connection breaks; a write lands meanwhile (its
    announcement is lost). Until it listens again nothing comes from the cache, and
    the first answer after that already shows the write."""
    assert world.app is not None
    runtime = world.app.state.runtime
    api = world.api
    query = "query($id: ID!) { commitment(id: $id) { version progress } }"
    variables = {"id": lamps["commitment"]}
    await until_cached(api, query, variables=variables, token=world.admin)
    before = data((await ask(api, query, variables, token=world.admin))[1])["commitment"]

    cut = await runtime.pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query = $1",
        'LISTEN "tequio_projection_progress"',
    )
    assert cut == 1
    for _ in range(200):
        if not runtime.progress.listening:
            break
        await asyncio.sleep(0.01)
    assert not runtime.progress.listening

    ctx = CommandContext(actor="staff.urbanos", municipality="iztapalapa")
    await to_thread.run_sync(
        lambda: runtime.application.report_progress(
            ctx,
            commitment_id=lamps["commitment"],
            expected_version=before["version"],
            progress=before["progress"] + 1,
            note="Mientras nadie escuchaba",
        )
    )
    outcomes = []
    for _ in range(500):
        outcome, response = await ask(api, query, variables, token=world.admin)
        outcomes.append(outcome)
        if outcome != "BYPASS":
            break
        await asyncio.sleep(0.01)
    assert outcomes[0] == "BYPASS" and outcomes[-1] == "MISS", outcomes
    assert runtime.progress.listening
    assert data(response)["commitment"]["progress"] == before["progress"] + 1


async def test_callers_who_see_different_things_never_share_an_answer(
    world: World, patrols: dict[str, Any]
) -> None:
    api = world.api
    query = "query($case: ID!) { commitments(filter: {caseId: $case}) { totalCount } }"
    variables = {"case": patrols["case"]}
    await until_cached(api, query, variables=variables, token=world.cabinet_member)

    member, seen = await ask(api, query, variables, token=world.cabinet_member)
    assert member == "HIT" and data(seen)["commitments"]["totalCount"] == 1

    for token, visible in [
        (world.other_cabinet_member, 0),
        (None, 0),
        (api.token("jefa.cabeza.2", "cabinet_member", tables=[OTHER_CABINET]), 0),
        (world.secretary, 1),
        # The same person with a cabinet more in a newer token is another caller.
        (api.token("jefe.sector", "cabinet_member", tables=[CABINET, OTHER_CABINET]), 1),
    ]:
        outcome, response = await ask(api, query, variables, token=token)
        assert outcome == "MISS", token
        assert data(response)["commitments"]["totalCount"] == visible, token
        outcome, response = await ask(api, query, variables, token=token)
        assert outcome == "HIT"
        assert data(response)["commitments"]["totalCount"] == visible, token

    # Agency staff of two agencies, and an agency staff caller with no agency.
    board = "{ commitments(first: 5) { totalCount } }"
    first = api.token("staff.obras", "agency_staff", agency="obras")
    second = api.token("staff.obras", "agency_staff", agency="sacmex")
    await until_cached(api, board, token=first)
    outcome, _ = await ask(api, board, token=second)
    assert outcome == "MISS"


async def test_a_reporters_contact_is_never_cached_and_every_read_is_on_record(
    world: World,
) -> None:
    api = world.api
    case = (
        await api.run(
            "mutation($input: RaiseCaseInput!) { raiseCase(input: $input) { id } }",
            {
                "input": {
                    "territoryId": "smt-mercado",
                    "theme": "SAFETY",
                    "title": "Tramo oscuro en Calle 5",
                    "description": "Sin luminarias.",
                    "reporter": {"name": "Guadalupe Reyes", "phone": "55 1234 9876"},
                }
            },
            token=world.coordinator,
        )
    )["raiseCase"]
    direct = "query($id: ID!) { case(id: $id) { title reporter { name } } }"
    # Through a fragment, under an alias, beneath another type: still the same field.
    nested = """
      query($id: ID!) { case(id: $id) { commitments { id } ...Who } }
      fragment Who on Case { contact: reporter { phone } }
    """
    await until_cached(api, "{ territories { id } }", token=world.coordinator)
    for query in [direct, direct, nested, nested]:
        outcome, response = await ask(api, query, {"id": case["id"]}, token=world.coordinator)
        assert outcome == "BYPASS"
        assert data(response)["case"]

    reads = "query($id: ID!) { reporterReads(caseId: $id) { actor } }"
    outcomes = []
    for _ in range(2):
        outcome, response = await ask(api, reads, {"id": case["id"]}, token=world.admin)
        outcomes.append(outcome)
        assert [r["actor"] for r in data(response)["reporterReads"]] == ["rosa.martinez"] * 4
    assert outcomes == ["BYPASS", "BYPASS"]
    assert await metric(api, 'tequio_query_cache_bypass_total{reason="document"}') >= 6


async def test_mutations_are_never_cached(world: World) -> None:
    api = world.api
    mutation = "mutation($input: RaiseCaseInput!) { raiseCase(input: $input) { id title } }"
    payload = {
        "input": {
            "territoryId": "smt-avisadero",
            "theme": "WATER",
            "title": "Fuga en la calle Ojo de Agua",
            "description": "Fuga desde hace una semana.",
        }
    }
    await until_cached(api, "{ agencies { id } }", token=world.coordinator)
    ids = set()
    for _ in range(2):
        outcome, response = await ask(api, mutation, payload, token=world.coordinator)
        assert outcome == "BYPASS"
        ids.add(data(response)["raiseCase"]["id"])
    assert len(ids) == 2  # both ran


async def test_answers_with_errors_are_not_kept(world: World) -> None:
    api = world.api
    briefing = (
        'query { cabinetBriefing(cabinetId: "gabinete-teotongo",'
        ' since: "2026-11-01T00:00:00-06:00") { overdue { id } } territories { id } }'
    )
    await until_cached(api, "{ territories { id } }", token=world.other_cabinet_member)
    for _ in range(3):
        outcome, response = await ask(api, briefing, token=world.other_cabinet_member)
        assert outcome == "MISS"
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The member's briefing is kept, and is still refused to the non-member.
    await until_cached(api, briefing, token=world.cabinet_member)
    outcome, response = await ask(api, briefing, token=world.other_cabinet_member)
    assert outcome == "MISS" and response.json()["errors"]


async def test_the_language_of_the_answer_is_part_of_the_key(
    world: World, lamps: dict[str, Any]
) -> None:
    api = world.api
    variables = {"id": lamps["case"]}
    await until_cached(api, TIMELINE, variables=variables, language="en")
    _, english = await ask(api, TIMELINE, variables, language="en")
    outcome, spanish = await ask(api, TIMELINE, variables, language="es-MX")
    assert outcome == "MISS"
    outcome, spanish_again = await ask(api, TIMELINE, variables, language="es-MX")
    assert outcome == "HIT" and spanish_again.content == spanish.content

    def summaries(response: httpx.Response) -> list[str]:
        return [e["summary"] for e in data(response)["case"]["timeline"]]

    assert summaries(english) != summaries(spanish)
    assert any("Caso" in s or "caso" in s for s in summaries(spanish)), summaries(spanish)


async def test_a_new_day_is_a_new_answer(world: World, lamps: dict[str, Any]) -> None:
    """Overdue is derived from "today" in the municipality's zone (ADR 0006)."""
    assert isinstance(world.clock, FixedClock)
    api = world.api
    query = "query($id: ID!) { commitment(id: $id) { dueOn overdue daysOverdue } }"
    variables = {"id": lamps["commitment"]}
    start = world.clock.now()
    try:
        world.clock.set(start.replace(day=17, hour=23, minute=59))  # due the 17th
        await until_cached(api, query, variables=variables)
        _, today = await ask(api, query, variables)
        assert data(today)["commitment"]["overdue"] is False

        world.clock.advance(timedelta(minutes=2))  # just after midnight, in Mexico City
        outcome, tomorrow = await ask(api, query, variables)
        assert outcome == "MISS"
        assert data(tomorrow)["commitment"] == {
            "dueOn": "2026-11-17",
            "overdue": True,
            "daysOverdue": 1,
        }
    finally:
        world.clock.set(start)


async def test_webhooks_and_introspection_are_not_cached(world: World) -> None:
    api = world.api
    await until_cached(api, "{ territories { id } }", token=world.admin)
    for query in ["{ webhookSubscriptions { id url } }", "{ __schema { queryType { name } } }"]:
        for _ in range(2):
            outcome, response = await ask(api, query, token=world.admin)
            assert outcome == "BYPASS", query
            data(response)


def test_metrics_render_as_prometheus_text() -> None:
    """The cache's lines parse: a name, optional labels, a float."""
    from api.metrics import render_query_cache
    from api.query_cache import QueryCache, Verdict

    class Positions:
        trusted = True

    cache = QueryCache(
        size=2,
        max_entry_bytes=10,
        positions=Positions(),  # type: ignore[arg-type]
        judge=lambda _: Verdict(True),
    )
    cache.stats.bypass("document")
    for line in render_query_cache(cache).splitlines():
        assert line.startswith("#") or re.fullmatch(r'[a-z_]+(\{[a-z]+="[a-z_]+"\})? \S+', line)
        if not line.startswith("#"):
            float(line.split()[-1])
    json.dumps(cache.stats.bypasses)


async def test_a_client_can_insist_on_a_fresh_read(world: World) -> None:
    """``Cache-Control: no-cache`` (or no-store, or ``Pragma: no-cache``), a GET, and a
    client that takes streamed answers all go around the cache."""
    api = world.api
    query = "{ tables { id } }"
    await until_cached(api, query, token=world.secretary)
    auth = {"Authorization": f"Bearer {world.secretary}"}
    for extra in [
        {"Cache-Control": "No-Cache"},
        {"Cache-Control": "max-age=0, no-store"},
        {"Pragma": "no-cache"},
        {"Accept": "multipart/mixed;subscriptionSpec=1.0, application/json"},
    ]:
        response = await api.http.post("/graphql", json={"query": query}, headers=auth | extra)
        assert response.headers.get(HEADER) == "BYPASS", extra
    response = await api.http.get("/graphql", params={"query": query}, headers=auth)
    assert response.status_code == 200 and HEADER not in response.headers
    assert (await ask(api, query, token=world.secretary))[0] == "HIT"


def slowed_board(
    world: World, monkeypatch: pytest.MonkeyPatch, *, seconds: float, fail_first: bool = False
) -> list[int]:
    """The board's query takes ``seconds`` (so requests sent together overlap), and
    with ``fail_first`` its first execution fails; returns a list of its executions."""
    queries = world.app.state.runtime.queries.commitments
    original = queries.list_commitments
    calls: list[int] = []

    async def slow(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        failing = fail_first and len(calls) == 1
        await asyncio.sleep(seconds)
        if failing:
            raise RuntimeError("the first execution fails")
        return await original(*args, **kwargs)

    monkeypatch.setattr(queries, "list_commitments", slow)
    return calls


async def test_the_same_read_asked_at_once_by_many_is_executed_once(
    world: World, lamps: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everyone refreshing the board at 8 a.m., right after a write: one execution."""
    api = world.api
    variables = {"filter": {"status": "OPEN"}, "first": 50}
    await until_cached(api, BOARD, variables={"first": 49}, token=world.coordinator)
    executed = slowed_board(world, monkeypatch, seconds=0.3)
    shared = await metric(api, "tequio_query_cache_shared_total")
    answers = await asyncio.gather(
        *(ask(api, BOARD, variables, token=world.coordinator) for _ in range(8))
    )
    assert len(executed) == 1
    assert sorted(outcome for outcome, _ in answers) == ["HIT"] * 7 + ["MISS"]
    assert len({response.content for _, response in answers}) == 1
    assert await metric(api, "tequio_query_cache_shared_total") == shared + 7


async def test_a_failed_answer_is_not_shared_each_waiter_executes(
    world: World, lamps: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = world.api
    variables = {"filter": {"status": "FULFILLED"}, "first": 50}
    await until_cached(api, BOARD, variables={"first": 48}, token=world.coordinator)
    calls = slowed_board(world, monkeypatch, seconds=0.2, fail_first=True)
    answers = await asyncio.gather(
        *(ask(api, BOARD, variables, token=world.coordinator) for _ in range(3))
    )
    bodies = [response.json() for _, response in answers]
    # The two that waited for the failed one executed it themselves.
    assert len(calls) == 3
    assert sum("errors" in body for body in bodies) == 1
    assert sum(body.get("data") is not None and "errors" not in body for body in bodies) == 2
