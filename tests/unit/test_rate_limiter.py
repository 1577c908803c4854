"""The rate limiter's memory stays bounded, whether or not a process shares its counts."""

from __future__ import annotations

from api.limits import MAX_TRACKED_CALLERS, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_callers_idle_long_enough_are_forgotten_past_the_bound() -> None:
    clock = Clock()
    limiter = RateLimiter(60, monotonic=clock)
    for n in range(MAX_TRACKED_CALLERS):
        assert limiter.take(f"address:{n}") is None
    clock.now += 120  # every bucket full again
    limiter.take("address:new")
    assert len(limiter._buckets) == 1


def test_a_caller_whose_requests_are_not_shared_yet_is_kept() -> None:
    clock = Clock()
    limiter = RateLimiter(60, monotonic=clock)
    limiter.counts_spending = True
    for n in range(MAX_TRACKED_CALLERS):
        limiter.take(f"address:{n}")
    clock.now += 120
    limiter.take("address:new")
    # Not forgotten before their count reaches the deployment...
    assert len(limiter._buckets) == MAX_TRACKED_CALLERS + 1
    assert len(limiter.unshared()) == MAX_TRACKED_CALLERS + 1
    limiter.take("address:newer")
    # ...then, full and shared, they are (the caller seen a moment ago stays).
    assert set(limiter._buckets) == {"address:new", "address:newer"}
