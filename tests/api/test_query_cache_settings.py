"""The response cache's settings and its place after the gate, each on an app of its own
(ADR 0016): the rate limit, a bad token and the body cap refuse a request whose answer
is kept; the off switch; answers above the size limit are not kept."""

from __future__ import annotations

from cache_support import ask, data, metric, trusted, until_cached
from world import serve

from api.query_cache import HEADER
from cases.clock import FixedClock
from tequio.settings import Settings


async def test_a_cached_answer_is_refused_as_a_fresh_one_would_be(
    settings: Settings, clock: FixedClock
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 3})
    query = "{ territories { id } agencies { id } }"
    async with serve(limited, clock) as (app, api):
        await trusted(app)
        outcomes = [(await ask(api, query))[0] for _ in range(3)]
        assert outcomes == ["MISS", "HIT", "HIT"]
        outcome, response = await ask(api, query)
        assert response.status_code == 429 and outcome is None
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"

        # A bad token is refused even though the public's answer is kept.
        response = await api.http.post(
            "/graphql", json={"query": query}, headers={"Authorization": "Bearer nope"}
        )
        assert response.status_code == 401 and HEADER not in response.headers

        # Over the size cap: refused before anything reads it.
        huge = {"query": query + " " * (limited.max_body_bytes + 1)}
        response = await api.http.post("/graphql", json=huge)
        assert response.status_code == 413


async def test_off_the_cache_answers_every_query_afresh(
    settings: Settings, clock: FixedClock
) -> None:
    off = settings.model_copy(update={"query_cache_size": 0})
    query = "{ territories { id } }"
    async with serve(off, clock) as (app, api):
        assert app.state.runtime.query_cache is None
        for _ in range(3):
            outcome, response = await ask(api, query)
            assert outcome is None
            data(response)
        assert "tequio_query_cache" not in (await api.http.get("/metrics")).text


async def test_answers_above_the_size_limit_are_not_kept(
    settings: Settings, clock: FixedClock
) -> None:
    small = settings.model_copy(update={"query_cache_max_entry_bytes": 1024})
    async with serve(small, clock) as (app, api):
        token = api.token("admin.sistema", "admin")
        for n in range(40):
            await api.run(
                "mutation($id: ID, $n: String!) { addTerritory(id: $id, name: $n,"
                ' kind: "colonia") { id } }',
                {"id": f"colonia-{n}", "n": f"Colonia número {n} de la prueba"},
                token=token,
            )
        small_query = "{ agencies { id } }"
        await until_cached(api, small_query)
        big = "{ territories { id name kind } }"
        outcomes = [(await ask(api, big))[0] for _ in range(3)]
        assert outcomes == ["MISS", "MISS", "MISS"]
        assert len((await ask(api, big))[1].content) > 1024
        assert app.state.runtime.query_cache.entries == 1
        assert await metric(api, 'tequio_query_cache_not_stored_total{reason="too_large"}') == 4
