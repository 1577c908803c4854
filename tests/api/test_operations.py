"""Operations endpoints: liveness, readiness and Prometheus metrics with projection lag."""

from __future__ import annotations

from graphql_client import GraphQLClient


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
