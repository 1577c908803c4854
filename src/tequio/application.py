"""Builds the application service from settings: the one composition point for the write side."""

from __future__ import annotations

from cases.application import TequioApplication
from cases.clock import Clock
from tequio.database import ConnectionInfo
from tequio.settings import Settings


def library_env(
    settings: Settings, info: ConnectionInfo, *, pool_size: int | None = None
) -> dict[str, str]:
    """The library's environment for these settings: connection, locks and cipher."""
    return info.eventsourcing_env(
        lock_timeout=settings.lock_timeout,
        pool_size=pool_size or settings.pool_size,
        cipher_key=settings.cipher_key.get_secret_value() if settings.cipher_key else None,
    )


def build_application(
    settings: Settings, info: ConnectionInfo, *, clock: Clock | None = None
) -> TequioApplication:
    env = library_env(settings, info)
    if settings.aggregate_cache_size:
        # With fast-forward (the library's default) a cached aggregate is brought up to
        # date from the store each time it is got: other processes' writes count.
        env["AGGREGATE_CACHE_MAXSIZE"] = str(settings.aggregate_cache_size)
    return TequioApplication(env, clock=clock, time_zone=settings.time_zone)
