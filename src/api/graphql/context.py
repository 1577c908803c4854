"""Per-request context: the caller, their language, DataLoaders, and command execution."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from functools import cached_property
from typing import Any, TypeVar

import anyio
from anyio import to_thread
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from api import policy
from api.auth import Caller
from api.availability import COMMAND_GRACE, unavailable
from api.callers import Gatekeeper
from api.errors import ApiError
from api.graphql.idempotency import scoped_key
from api.runtime import Runtime
from cases.application import CommandContext, CommandResult, TequioApplication
from cases.clock import today

T = TypeVar("T")


def _by_id(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any] | None]:
    index = {row["id"]: row for row in rows}
    return [index.get(key) for key in keys]


class TequioContext(BaseContext):
    def __init__(
        self,
        runtime: Runtime,
        caller: Caller,
        language: str,
        idempotency_key: str | None,
        gatekeeper: Gatekeeper | None = None,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.gatekeeper = gatekeeper
        self.caller = caller
        self.language = language
        self.idempotency_key = idempotency_key
        self.municipality = runtime.settings.municipality
        self.today: date = today(runtime.clock, runtime.settings.zone)
        self.cabinet_scope = policy.cabinet_scope(caller)
        self.response_extensions: dict[str, Any] = {}
        # A WebSocket's watch of its token's expiry (``api.graphql.router``).
        self.expiry_watch: asyncio.Task[None] | None = None

    def act_as(self, caller: Caller) -> None:
        """Another caller for this context (a WebSocket's ``connection_init`` token):
        what was loaded for the first one is forgotten."""
        self.caller = caller
        self.cabinet_scope = policy.cabinet_scope(caller)
        self.refresh()

    def refresh(self) -> None:
        """Forgets what the DataLoaders have loaded and reads the day again. A request's
        context lives as long as the request, but a WebSocket's lives as long as the
        connection: each operation over it, and each push of a live board, starts
        from the read models as they are now (a post that changed hands names its new
        holder) on the day it is now (what fell due overnight is overdue)."""
        self.today = today(self.runtime.clock, self.runtime.settings.zone)
        for name, attribute in vars(type(self)).items():
            if isinstance(attribute, cached_property):
                self.__dict__.pop(name, None)

    # The DataLoaders are made when a resolver first asks for one: most requests need
    # a few of them, and an answer from the response cache needs none.

    def _by_ids(self, fetch: Callable[[list[str]], Any]) -> DataLoader[str, Any]:
        async def load(keys: list[str]) -> list[dict[str, Any] | None]:
            return _by_id(await fetch(keys), keys)

        return DataLoader(load_fn=load)

    def _lists(
        self, fetch: Callable[[list[str]], Awaitable[dict[str, list[Any]]]]
    ) -> DataLoader[str, list[Any]]:
        async def load(keys: list[str]) -> list[list[Any]]:
            found = await fetch(keys)
            return [found.get(key, []) for key in keys]

        return DataLoader(load_fn=load)

    @cached_property
    def territories(self) -> DataLoader[str, Any]:
        q, m = self.runtime.queries, self.municipality
        return self._by_ids(lambda ids: q.directory.territories_by_ids(m, ids))

    @cached_property
    def agencies(self) -> DataLoader[str, Any]:
        q, m = self.runtime.queries, self.municipality
        return self._by_ids(lambda ids: q.directory.agencies_by_ids(m, ids))

    @cached_property
    def posts(self) -> DataLoader[str, Any]:
        q, m = self.runtime.queries, self.municipality
        return self._by_ids(lambda ids: q.directory.posts_by_ids(m, ids))

    @cached_property
    def officials(self) -> DataLoader[str, Any]:
        q, m = self.runtime.queries, self.municipality
        return self._by_ids(lambda ids: q.directory.officials_by_ids(m, ids))

    @cached_property
    def tables(self) -> DataLoader[str, Any]:
        q, m = self.runtime.queries, self.municipality
        return self._by_ids(lambda ids: q.forums.tables_by_ids(m, ids))

    @cached_property
    def assemblies(self) -> DataLoader[str, Any]:
        q, m = self.runtime.queries, self.municipality
        return self._by_ids(lambda ids: q.forums.assemblies_by_ids(m, ids))

    @cached_property
    def cases(self) -> DataLoader[str, Any]:
        q, m = self.runtime.queries, self.municipality
        return self._by_ids(lambda ids: q.cases.cases_by_ids(m, ids))

    @cached_property
    def commitments(self) -> DataLoader[str, Any]:
        q, m, scope = self.runtime.queries, self.municipality, self.cabinet_scope
        return self._by_ids(
            lambda ids: q.commitments.commitments_by_ids(m, ids, cabinet_scope=scope)
        )

    @cached_property
    def case_commitments(self) -> DataLoader[str, list[Any]]:
        q, m, scope = self.runtime.queries, self.municipality, self.cabinet_scope
        return self._lists(
            lambda ids: q.commitments.commitments_by_case_ids(m, ids, cabinet_scope=scope)
        )

    @cached_property
    def assembly_cases(self) -> DataLoader[str, list[Any]]:
        q, m = self.runtime.queries, self.municipality
        return self._lists(lambda ids: q.cases.case_ids_by_assembly(m, ids))

    @cached_property
    def case_timelines(self) -> DataLoader[str, list[Any]]:
        q, m = self.runtime.queries, self.municipality
        return self._lists(lambda ids: q.timelines.timelines(m, "case", ids))

    @cached_property
    def commitment_timelines(self) -> DataLoader[str, list[Any]]:
        q, m = self.runtime.queries, self.municipality
        return self._lists(lambda ids: q.timelines.timelines(m, "commitment", ids))

    async def execute(
        self,
        mutation: str,
        path_key: str,
        position: int,
        command: Callable[[TequioApplication, CommandContext], CommandResult],
    ) -> CommandResult:
        """Authorises, runs the command off the event loop, then waits to read its write.

        ``position`` is the field's place among the request's mutations: the first
        uses the Idempotency-Key as sent, the n-th ``<key>#<n>`` (ADR 0003)."""
        policy.require_mutation(self.caller, mutation)
        command_context = self.command_context(scoped_key(self.idempotency_key, position))
        application = self.runtime.application

        def run() -> CommandResult:
            return command(application, command_context)

        # PostgreSQL down: say so now, rather than after the library's retries (minutes).
        await self.runtime.database_check.require()
        try:
            with anyio.fail_after(self.runtime.settings.lock_timeout + COMMAND_GRACE):
                result = await to_thread.run_sync(run, abandon_on_cancel=True)
        except TimeoutError:
            # It went down mid-command: the outcome is unknown, and a retry with the
            # same Idempotency-Key gets the first result if the command did commit.
            raise unavailable() from None
        if result.notification_id is not None:
            visible = await self.runtime.progress.wait_for(
                result.notification_id,
                timeout=self.runtime.settings.read_your_writes_timeout,
            )
            if not visible:
                self.response_extensions["readYourWrites"] = {
                    "status": "TIMEOUT",
                    "notificationId": result.notification_id,
                }
        if result.replayed:
            self.response_extensions.setdefault("idempotentReplays", []).append(path_key)
        return result

    def command_context(self, idempotency_key: str | None = None) -> CommandContext:
        return CommandContext(
            actor=self.caller.actor,
            municipality=self.municipality,
            idempotency_key=idempotency_key,
            agency_scope=policy.agency_scope(self.caller),
            cabinet_scope=self.cabinet_scope,
        )

    async def read_personal_data(
        self, read: Callable[[TequioApplication, CommandContext], T], *, audit: bool = False
    ) -> T:
        """Reads reporter data from the write side (no read model holds it), on record."""
        policy.require_personal_data(self.caller, audit=audit)
        application = self.runtime.application
        command_context = self.command_context()
        return await to_thread.run_sync(lambda: read(application, command_context))

    async def require_row(self, loader: DataLoader[str, Any], result: CommandResult) -> Any:
        # Forget anything read of this object before the write.
        with contextlib.suppress(KeyError):
            loader.clear(result.id)
        row = await loader.load(result.id)
        if row is None:
            raise ApiError("PENDING", "not_yet_visible", id=result.id)
        return row
