"""A small HTTP/1.1 keep-alive client for the load: one connection per virtual client.

The load generator shares two cores with the server and PostgreSQL, so it must cost
as little as possible per request: a general client (httpx) spends several times
the CPU of this one on each request. It speaks just what the bench needs: POST a
JSON body, read a response framed by Content-Length (or chunked), keep the
connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs the load on uvloop (installed with uvicorn[standard], which the server
    uses too): its event loop costs the load generator less CPU per request than
    asyncio's, and that CPU is taken from the server it measures."""
    return uvloop.run(main)


class HttpError(RuntimeError):
    pass


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def post_json(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        payload = json.dumps(body, separators=(",", ":")).encode()
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            "Accept: application/json",
            f"Content-Length: {len(payload)}",
        ]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        try:
            return await self._exchange(request)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            # The server closed an idle keep-alive connection: once more, on a new one.
            await self.close()
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, Any]:
        reader, writer = await self._open()
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        parts = status_line.split(b" ", 2)
        status = int(parts[1])
        length = None
        chunked = False
        close = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value.strip())
            elif key == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif key == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            chunks = []
            while True:
                size = int((await reader.readline()).strip().split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readline()
            data = b"".join(chunks)
        elif length is not None:
            data = await reader.readexactly(length)
        else:
            data = await reader.read()
            close = True
        if close:
            await self.close()
        try:
            return status, json.loads(data) if data else None
        except ValueError as error:
            raise HttpError(f"HTTP {status}: not JSON: {data[:200]!r}") from error


class GraphQL:
    """GraphQL over one keep-alive connection, with a bearer token."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.connection = Connection(host, port)
        self.token = token

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {}
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        status, body = await self.connection.post_json(
            "/graphql", {"query": query, "variables": variables or {}}, headers
        )
        if status != 200 or not isinstance(body, dict):
            raise HttpError(f"HTTP {status}: {str(body)[:200]}")
        if body.get("errors"):
            first = body["errors"][0]
            code = (first.get("extensions") or {}).get("code", "ERROR")
            raise HttpError(f"{code}: {first.get('message', '')[:160]}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise HttpError("no data")
        extensions = body.get("extensions") or {}
        if extensions.get("readYourWrites"):
            data["__readYourWrites"] = extensions["readYourWrites"]
        return data

    async def close(self) -> None:
        await self.connection.close()
