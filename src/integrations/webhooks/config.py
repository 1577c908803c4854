"""How the dispatcher runs: polling, timeouts, concurrency, the retry schedule and its clock."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cases.clock import Clock, SystemClock
from integrations.webhooks.backoff import Backoff

if TYPE_CHECKING:
    from tequio.settings import Settings


@dataclass(frozen=True)
class WebhookConfig:
    # Seconds between looks for new events and due deliveries when idle.
    poll_seconds: float = 1.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    # Deliveries in flight at once, per process.
    concurrency: int = 8
    # Feed events read per outbox step (one transaction).
    batch: int = 500
    # How long a claimed delivery is this process's; past it, another process may
    # take it over (this one died mid-send), so it must outlast the HTTP timeouts.
    lease: timedelta = timedelta(seconds=60)
    backoff: Backoff = field(default_factory=Backoff)
    # Delivered deliveries older than this are deleted, looked for this often.
    keep: timedelta = timedelta(days=30)
    prune_every: timedelta = timedelta(hours=1)
    # Decides when deliveries are due and stamps the log; the signature's timestamp too.
    clock: Clock = field(default_factory=SystemClock)
    production: bool = False

    def __post_init__(self) -> None:
        floor = timedelta(seconds=2 * (self.connect_timeout + self.read_timeout) + 10)
        if self.lease < floor:
            object.__setattr__(self, "lease", floor)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WebhookConfig:
        config = cls(
            poll_seconds=settings.webhook_poll_seconds,
            connect_timeout=settings.webhook_connect_timeout,
            read_timeout=settings.webhook_read_timeout,
            concurrency=settings.webhook_concurrency,
            backoff=Backoff(window=timedelta(hours=settings.webhook_retry_hours)),
            keep=timedelta(days=settings.webhook_keep_days),
            production=settings.environment == "production",
        )
        return replace(config, **overrides) if overrides else config
