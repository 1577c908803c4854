"""Counting successes, errors and latencies; percentiles without numpy."""

from __future__ import annotations

import math
import threading
from collections import Counter
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile ``q`` (0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


class Recorder:
    """Latencies of the requests that succeeded and the reasons of those that did not
    (thread-safe: list.append and Counter updates are guarded)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self._lock = threading.Lock()

    def ok(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def error(self, reason: str) -> None:
        with self._lock:
            self.errors[reason[:160]] += 1

    def summary(self, elapsed: float) -> dict[str, Any]:
        done = len(self.latencies)
        return {
            "requests": done,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common(5)),
            "seconds": round(elapsed, 2),
            "per_second": round(done / elapsed, 1) if elapsed > 0 else None,
            "p50_ms": ms(percentile(self.latencies, 50)),
            "p90_ms": ms(percentile(self.latencies, 90)),
            "p99_ms": ms(percentile(self.latencies, 99)),
            "max_ms": ms(max(self.latencies) if self.latencies else None),
        }
