"""Operations endpoints: liveness, readiness and Prometheus metrics with projection lag."""

from __future__ import annotations

import asyncio

import httpx
from asgi_lifespan import LifespanManager
from graphql_client import GraphQLClient
from pydantic import SecretStr

from api.app import create_app
from cases.clock import FixedClock
from projections.runtime import ProjectionService
from tequio.application import library_env
from tequio.database import ConnectionInfo
from tequio.settings import Settings


async def test_healthz_answers_ok(api: GraphQLClient) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_database_and_projections_ready(api: GraphQLClient) -> None:
    response = await api.http.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ready"] is True
    assert body["checks"] == {"database": "ok", "projections": "ok"}


async def test_metrics_show_each_projection_position_and_lag(api: GraphQLClient) -> None:
    admin = api.token("admin", "admin")
    await api.run(
        'mutation { addAgency(id: "obras", name: "Dirección General de Obras",'
        " level: MUNICIPAL) { id } }",
        token=admin,
    )
    response = await api.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    for name in ("directory", "forums", "cases", "commitments", "scorecards", "timelines"):
        assert f'tequio_projection_position{{projection="{name}"}} 1.0' in lines
        assert f'tequio_projection_lag_events{{projection="{name}"}} 0.0' in lines
        assert f'tequio_projection_up{{projection="{name}"}} 1' in lines
    assert "tequio_event_store_head 1.0" in lines


async def test_metrics_count_garbage_collections_by_generation(api: GraphQLClient) -> None:
    lines = (await api.http.get("/metrics")).text.splitlines()
    for generation in range(3):
        prefix = f'tequio_gc_collections_total{{generation="{generation}"}} '
        counted = [line for line in lines if line.startswith(prefix)]
        assert len(counted) == 1, f"one count for generation {generation}"
        assert int(counted[0].removeprefix(prefix)) >= 0
    assert any(line.startswith("tequio_gc_frozen_objects ") for line in lines)


async def test_metrics_want_the_operators_token_when_one_is_set(
    settings: Settings, clock: FixedClock
) -> None:
    token = "prometeo-" + "x" * 20
    guarded = settings.model_copy(update={"metrics_token": SecretStr(token)})
    app = create_app(guarded, clock=clock)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tequio.test") as http:
            for headers in ({}, {"Authorization": "Bearer otro-token-cualquiera-00"}):
                refused = await http.get(
                    "/metrics", headers={**headers, "Accept-Language": "es-MX"}
                )
                assert refused.status_code == 401
                assert refused.headers["www-authenticate"].startswith("Bearer")
                assert refused.json()["code"] == "UNAUTHENTICATED"
                assert "requiere el token de operación" in refused.json()["title"]
                assert "tequio_projection_position" not in refused.text

            allowed = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert allowed.status_code == 200
            assert "tequio_event_store_head" in allowed.text
            # Liveness and readiness stay open to the orchestrator.
            assert (await http.get("/healthz")).status_code == 200


async def test_an_api_only_server_is_ready_only_while_another_process_keeps_the_read_models(
    settings: Settings, clock: FixedClock
) -> None:
    # docker-compose's `api` (--no-projections) and `serve --workers N` keep no read
    # models themselves: the workers' heartbeats say whether anyone does.
    app = create_app(settings, clock=clock, run_projections=False)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tequio.test") as http:
            nobody = await http.get("/readyz")
            assert nobody.status_code == 503
            assert nobody.json()["checks"]["projections"].startswith("not running: directory")

            worker = ProjectionService(
                library_env(settings, ConnectionInfo.from_url(settings.database_url or ""))
            )
            await asyncio.to_thread(worker.start)  # off the loop the app runs on
            try:
                for _ in range(100):  # its first heartbeat comes with its first look
                    kept = await http.get("/readyz")
                    if kept.status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                assert kept.status_code == 200, kept.text
                assert kept.json()["checks"] == {"database": "ok", "projections": "ok"}
            finally:
                await asyncio.to_thread(worker.stop)
