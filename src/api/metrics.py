"""Prometheus text exposition of what operators watch: projection position, lag and errors."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.query_cache import QueryCache


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(statuses: Iterable[dict[str, Any]]) -> str:
    rows = list(statuses)
    series = [
        ("tequio_projection_position", "gauge", "Last notification id processed.", "position"),
        ("tequio_projection_lag_events", "gauge", "Events not yet processed.", "lag_events"),
        (
            "tequio_projection_lag_seconds",
            "gauge",
            "Age of the oldest unprocessed event.",
            "lag_seconds",
        ),
        (
            "tequio_projection_restarts_total",
            "counter",
            "Runner restarts after errors.",
            "restarts",
        ),
    ]
    lines: list[str] = []
    for name, kind, help_text, key in series:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for row in rows:
            value = row.get(key) or 0
            lines.append(f'{name}{{projection="{_escape(str(row["name"]))}"}} {float(value)}')
    lines.append("# HELP tequio_projection_up Whether the projection's runner is running.")
    lines.append("# TYPE tequio_projection_up gauge")
    for row in rows:
        up = 1 if row.get("running") else 0
        lines.append(f'tequio_projection_up{{projection="{_escape(str(row["name"]))}"}} {up}')
    heads = [row.get("head") or 0 for row in rows]
    lines.append("# HELP tequio_event_store_head Highest notification id in the event store.")
    lines.append("# TYPE tequio_event_store_head gauge")
    lines.append(f"tequio_event_store_head {float(max(heads, default=0))}")
    return "\n".join(lines) + "\n"


def render_webhooks(counts: dict[str, Any]) -> str:
    """Webhook deliveries still to send and given up, and how old the oldest open one is."""
    series = [
        ("tequio_webhook_deliveries_pending", "Deliveries queued or retrying.", "pending"),
        (
            "tequio_webhook_deliveries_dead_lettered",
            "Deliveries given up after the retry window (redeliverable).",
            "dead_lettered",
        ),
        (
            "tequio_webhook_oldest_pending_seconds",
            "Age of the oldest delivery still queued or retrying.",
            "oldest_pending_seconds",
        ),
    ]
    lines: list[str] = []
    for name, help_text, key in series:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines.append(f"{name} {float(counts.get(key) or 0)}")
    return "\n".join(lines) + "\n"


def render_query_cache(cache: QueryCache) -> str:
    """The response cache of this process (ADR 0016): what it answered, and its size."""
    stats = cache.stats
    bypassed = float(sum(stats.bypasses.values()))
    lines = [
        "# HELP tequio_query_cache_requests_total Cacheable-looking GraphQL POSTs, by outcome"
        " (hit: served from the cache; miss: executed; bypass: executed, not cacheable).",
        "# TYPE tequio_query_cache_requests_total counter",
        f'tequio_query_cache_requests_total{{result="hit"}} {float(stats.hits)}',
        f'tequio_query_cache_requests_total{{result="miss"}} {float(stats.misses)}',
        f'tequio_query_cache_requests_total{{result="bypass"}} {bypassed}',
    ]
    lines += [
        "# HELP tequio_query_cache_shared_total Misses answered by the same request being"
        " executed at the time (it ran once for all of them).",
        "# TYPE tequio_query_cache_shared_total counter",
        f"tequio_query_cache_shared_total {float(stats.shared)}",
    ]
    lines += _by_reason(
        "tequio_query_cache_bypass_total", "Requests not looked up, by reason.", stats.bypasses
    )
    lines += _by_reason(
        "tequio_query_cache_not_stored_total",
        "Misses whose answer was not kept, by reason.",
        stats.not_stored,
    )
    lines += [
        "# HELP tequio_query_cache_stores_total Answers kept.",
        "# TYPE tequio_query_cache_stores_total counter",
        f"tequio_query_cache_stores_total {float(stats.stores)}",
        "# HELP tequio_query_cache_evictions_total Answers dropped to stay within the size.",
        "# TYPE tequio_query_cache_evictions_total counter",
        f"tequio_query_cache_evictions_total {float(stats.evictions)}",
        "# HELP tequio_query_cache_invalidated_total Answers dropped because a read model"
        " moved on (no request could ask for them again).",
        "# TYPE tequio_query_cache_invalidated_total counter",
        f"tequio_query_cache_invalidated_total {float(stats.invalidated)}",
        "# HELP tequio_query_cache_entries Answers held now.",
        "# TYPE tequio_query_cache_entries gauge",
        f"tequio_query_cache_entries {float(cache.entries)}",
        "# HELP tequio_query_cache_bytes Bytes of the answers held now.",
        "# TYPE tequio_query_cache_bytes gauge",
        f"tequio_query_cache_bytes {float(cache.total_bytes)}",
        "# HELP tequio_query_cache_positions_trusted Whether the read models' positions are"
        " known for sure now (else every request bypasses the cache).",
        "# TYPE tequio_query_cache_positions_trusted gauge",
        f"tequio_query_cache_positions_trusted {1.0 if cache.positions.trusted else 0.0}",
    ]
    return "\n".join(lines) + "\n"


def _by_reason(name: str, help_text: str, counts: dict[str, int]) -> list[str]:
    """A counter labelled by ``reason``, one line per reason seen."""
    return [
        f"# HELP {name} {help_text}",
        f"# TYPE {name} counter",
        *(
            f'{name}{{reason="{_escape(reason)}"}} {float(count)}'
            for reason, count in sorted(counts.items())
        ),
    ]


def render_interpreter() -> str:
    """This process's cyclic garbage collector: collections by generation, and the
    objects frozen out of its reach once the process was ready (ADR 0022)."""
    lines = [
        "# HELP tequio_gc_collections_total Garbage collections of this process, by generation.",
        "# TYPE tequio_gc_collections_total counter",
    ]
    for generation, stats in enumerate(gc.get_stats()):
        count = stats["collections"]
        lines.append(f'tequio_gc_collections_total{{generation="{generation}"}} {count}')
    lines += [
        "# HELP tequio_gc_frozen_objects Objects made at start-up and frozen out of the"
        " collector's reach.",
        "# TYPE tequio_gc_frozen_objects gauge",
        f"tequio_gc_frozen_objects {gc.get_freeze_count()}",
    ]
    return "\n".join(lines) + "\n"
