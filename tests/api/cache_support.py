"""Helpers of the response-cache tests: what the cache did, and its metrics."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from graphql_client import GraphQLClient

from api.query_cache import HEADER


async def ask(
    api: GraphQLClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    language: str | None = None,
) -> tuple[str | None, httpx.Response]:
    """What the cache did for this request (the header), and the response."""
    response = await api.post(query, variables, token=token, language=language)
    return response.headers.get(HEADER), response


async def until_cached(api: GraphQLClient, query: str, **kw: Any) -> None:
    """Waits (5 s at most) until the cache trusts the read models' positions: right
    after a start or a reconnection it bypasses until it has read them."""
    for _ in range(100):
        outcome, _ = await ask(api, query, **kw)
        if outcome == "HIT":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the cache never answered")


async def metric(api: GraphQLClient, name: str) -> float:
    text = (await api.http.get("/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def data(response: httpx.Response) -> Any:
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


async def trusted(app: Any) -> None:
    """Waits (5 s at most) until a fresh app's cache trusts the read models' positions."""
    for _ in range(100):
        if app.state.runtime.query_cache.positions.trusted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the cache never trusted the positions")
