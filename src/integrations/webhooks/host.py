"""What a process that hosts webhooks opens and closes: the admin store (the API's
GraphQL operations) and, where the read models run, the dispatcher."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from integrations.webhooks.config import WebhookConfig
from integrations.webhooks.dispatcher import BackgroundWebhooks, WebhookService
from integrations.webhooks.secrets import SecretBox
from integrations.webhooks.store import WebhookStore

if TYPE_CHECKING:
    from tequio.settings import Settings


def secret_box(settings: Settings) -> SecretBox:
    key = settings.cipher_key.get_secret_value() if settings.cipher_key else None
    return SecretBox(key)


class Webhooks:
    def __init__(self, store: WebhookStore, service: WebhookService | None) -> None:
        self.store = store
        self.service = service

    @classmethod
    async def open(
        cls,
        settings: Settings,
        pool: asyncpg.Pool,
        dsn: str,
        *,
        config: WebhookConfig | None = None,
        dispatch: bool,
    ) -> Webhooks:
        config = config or WebhookConfig.from_settings(settings)
        box = secret_box(settings)
        store = WebhookStore(
            pool,
            box,
            production=config.production,
            clock=config.clock,
            retry_window=config.backoff.window,
        )
        await store.create_tables()
        service = None
        if dispatch:
            service = WebhookService(dsn, box, config)
            await service.start()
        return cls(store, service)

    async def close(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None


def background(settings: Settings, dsn: str) -> BackgroundWebhooks:
    """The dispatcher for a synchronous host (``tequio worker``), not yet started."""
    config = WebhookConfig.from_settings(settings)
    return BackgroundWebhooks(lambda: WebhookService(dsn, secret_box(settings), config))
