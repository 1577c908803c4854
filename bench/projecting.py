"""Read models from zero: live catch-up by a server's runners, and a full rebuild."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from bench.cpu import CpuMeter
from projections.registry import PROJECTIONS, tracking_table
from projections.runtime import rebuild


def head(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT max(notification_id) FROM tequio_events").fetchone()
        return int(row[0] or 0) if row else 0


def positions(conn: psycopg.Connection[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name in PROJECTIONS:
        table = tracking_table(name)
        present = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if not present or not present[0]:
            found[name] = 0
            continue
        row = conn.execute(
            f"SELECT notification_id FROM {table} WHERE application_name = 'Tequio'"
        ).fetchone()
        found[name] = int(row[0] or 0) if row else 0
    return found


def watch_catch_up(
    url: str,
    target: int,
    *,
    budget: float,
    alive: Callable[[], bool],
    say: Callable[[str], None],
    meter: CpuMeter | None = None,
) -> dict[str, Any]:
    """Polls the runners' positions until every one reaches ``target`` (or the budget
    runs out). The rate counts from the first poll, and only what was done after it
    (as does ``meter``'s CPU per event)."""
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        first = positions(conn)
        if meter is not None:
            meter.start()
        start_min = min(first.values())
        last_said = started
        done_at: dict[str, float] = {}
        current = first
        while True:
            now = time.perf_counter()
            current = positions(conn)
            for name, position in current.items():
                if position >= target and name not in done_at:
                    done_at[name] = now - started
            if min(current.values()) >= target or now - started >= budget or not alive():
                break
            if now - last_said >= 15:
                last_said = now
                say(
                    f"  ... catch-up at {min(current.values())}/{target} events "
                    f"({(min(current.values()) - start_min) / (now - started):.0f} events/s)"
                )
            time.sleep(0.25)
        elapsed = time.perf_counter() - started
    reached = min(current.values())
    processed = reached - start_min
    # Done before the first poll (a small data set, a projection worker that started
    # first): nothing was measured.
    rate = processed / elapsed if elapsed > 0 and processed > 0 else None
    cpu = meter.result(processed) if meter is not None and rate is not None else None
    return {
        "cpu": cpu,
        "target_position": target,
        "start_position": start_min,
        "reached_position": reached,
        "complete": reached >= target,
        "seconds": round(elapsed, 1),
        "events_per_second": round(rate, 0) if rate is not None else None,
        "per_projection": {
            name: {
                "position": current[name],
                "seconds_to_head": round(done_at[name], 1) if name in done_at else None,
                "events_per_second": round((current[name] - first[name]) / elapsed, 0)
                if elapsed
                else None,
            }
            for name in PROJECTIONS
        },
    }


def run_rebuild(
    env: dict[str, str], say: Callable[[str], None], meter: CpuMeter | None = None
) -> dict[str, Any]:
    """``projections.runtime.rebuild`` of every read model, timed (in this process and
    the processes it starts: ``meter`` counts them as the client)."""
    marks = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - marks[0] >= 15:
            marks[0] = time.perf_counter()
            say(f"  ... rebuild {done}/{total}")

    if meter is not None:
        meter.start()
    started = time.perf_counter()
    events = rebuild(env, progress=progress)
    seconds = time.perf_counter() - started
    return {
        "cpu": meter.result(events) if meter is not None else None,
        "events": events,
        "seconds": round(seconds, 1),
        "events_per_second": round(events / seconds, 0) if seconds else None,
        "extrapolated_1m_seconds": round(seconds * 1_000_000 / events, 1) if events else None,
    }
