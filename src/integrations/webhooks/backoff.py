"""When a failed delivery is tried again, and when it is given up (dead-lettered).

After the n-th failed attempt the next one waits ``delays[n-1]`` (the last delay
repeats), stretched or shrunk by up to ``jitter`` so that many deliveries failing
together (a receiver that went down) do not all come back at the same instant.

A delivery is retried until a failure happens at or after ``window`` from when it was
queued (or queued again by hand), so a receiver that is down for less than the window
gets everything once it is back. Then the delivery is dead-lettered: it stays in the
log, and an admin can send it again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=3),
)
DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_JITTER = 0.2


@dataclass(frozen=True)
class Backoff:
    delays: tuple[timedelta, ...] = DEFAULT_DELAYS
    window: timedelta = DEFAULT_WINDOW
    jitter: float = DEFAULT_JITTER
    # A number in [0, 1); tests pin it.
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if not self.delays or any(d <= timedelta(0) for d in self.delays):
            raise ValueError("backoff delays must be positive")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay(self, failed_attempts: int) -> timedelta:
        """The wait after the ``failed_attempts``-th failure (1 for the first)."""
        base = self.delays[min(max(failed_attempts, 1), len(self.delays)) - 1]
        return base * (1 + self.jitter * (2 * self.random() - 1))

    def give_up_after(self, queued_at: datetime) -> datetime:
        return queued_at + self.window

    def next_attempt(
        self, failed_attempts: int, failed_at: datetime, give_up_after: datetime
    ) -> datetime | None:
        """When to try again after a failure, or None: dead-letter it."""
        if failed_at >= give_up_after:
            return None
        return failed_at + self.delay(failed_attempts)
