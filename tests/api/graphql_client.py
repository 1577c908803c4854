"""A GraphQL client speaking to the app over HTTP, as integrators would."""

from __future__ import annotations

from typing import Any

import httpx

from api.auth import mint_token
from tequio.settings import Settings


class GraphQLClient:
    """Speaks to /graphql as a real client would: JSON over HTTP, a bearer token, a language."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings

    def token(
        self,
        subject: str,
        role: str | list[str],
        agency: str | None = None,
        tables: list[str] | None = None,
    ) -> str:
        return mint_token(
            self.settings.secret.get_secret_value(),
            subject=subject,
            roles=[role] if isinstance(role, str) else role,
            municipality=self.settings.municipality,
            agency_id=agency,
            table_ids=tables,
        )

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        language: str | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if language:
            headers["Accept-Language"] = language
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def run(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Runs an operation that must succeed; returns its data."""
        response = await self.post(query, variables, **kw)
        body = response.json()
        assert response.status_code == 200, body
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def error(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Runs an operation that must fail; returns its first error."""
        response = await self.post(query, variables, **kw)
        body = response.json()
        assert body.get("errors"), body
        return body["errors"][0]
