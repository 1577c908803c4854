"""Prometheus text exposition of what operators watch: projection position, lag and errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


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
