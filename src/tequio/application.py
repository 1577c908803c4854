"""Builds the application service from settings: the one composition point for the write side."""

from __future__ import annotations

from cases.application import TequioApplication
from cases.clock import Clock
from tequio.database import ConnectionInfo
from tequio.settings import Settings


def build_application(
    settings: Settings, info: ConnectionInfo, *, clock: Clock | None = None
) -> TequioApplication:
    env = info.eventsourcing_env(lock_timeout=settings.lock_timeout, pool_size=settings.pool_size)
    return TequioApplication(env, clock=clock, time_zone=settings.time_zone)
