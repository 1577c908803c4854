"""The targets of issue #6, the table printed at the end, and ``--check``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Every figure a run writes under "figures" (the smoke test checks they are all there).
FIGURE_KEYS = (
    "baseline_pgbench_b1_tps",
    "baseline_pgbench_b8_tps",
    "baseline_raw_save_1_thread_per_s",
    "baseline_raw_save_16_threads_per_s",
    "baseline_raw_save_per_s",
    "baseline_library_recorder_save_16_threads_per_s",
    "baseline_raw_board_read_per_s",
    "baseline_raw_board_read_p99_ms",
    "dataset_events",
    "dataset_seconds",
    "dataset_history_events_per_s",
    "write_per_s",
    "write_p50_ms",
    "write_p99_ms",
    "write_ratio_to_b1",
    "write_ratio_to_raw_save",
    "board_per_s",
    "board_p50_ms",
    "board_p99_ms",
    "board_ratio_to_raw_read",
    "case_detail_per_s",
    "case_detail_p50_ms",
    "case_detail_p99_ms",
    "briefing_per_s",
    "briefing_p50_ms",
    "briefing_p99_ms",
    "catch_up_events_per_s",
    "catch_up_1m_seconds",
    "rebuild_seconds",
    "rebuild_events_per_s",
    "rebuild_1m_seconds",
    *(
        f"{phase}_cpu_{part}"
        for phase in ("write", "board", "case_detail", "briefing")
        for part in ("server_ms", "postgres_ms", "client_ms", "ceiling_per_s")
    ),
    *(
        f"{phase}_cpu_{part}"
        for phase in ("catch_up", "rebuild")
        for part in ("tequio_us", "postgres_us", "ceiling_per_s")
    ),
    "lag_rate_per_s",
    "lag_visible_all_p50_ms",
    "lag_visible_all_p99_ms",
    "lag_visible_board_p50_ms",
    "lag_visible_board_p99_ms",
    "lag_ack_p99_ms",
    "rss_peak_mb",
    "rss_peak_catch_up_mb",
    "total_seconds",
)


@dataclass(frozen=True)
class Check:
    name: str
    figure: str
    unit: str
    target: Callable[[dict[str, Any]], float | None]
    describe: str
    at_least: bool  # True: value >= target passes; False: value <= target passes


def _ratio_of(key: str, factor: float) -> Callable[[dict[str, Any]], float | None]:
    def target(figures: dict[str, Any]) -> float | None:
        base = figures.get(key)
        return None if base is None else base * factor

    return target


def _fixed(value: float) -> Callable[[dict[str, Any]], float | None]:
    return lambda _figures: value


CHECKS = (
    Check(
        "writes vs B1",
        "write_per_s",
        "cmd/s",
        _ratio_of("baseline_pgbench_b1_tps", 0.25),
        "≥ 0.25 × B1",
        True,
    ),
    Check("write p99", "write_p99_ms", "ms", _fixed(100), "≤ 100 ms", False),
    Check(
        "writes vs raw save",
        "write_per_s",
        "cmd/s",
        _ratio_of("baseline_raw_save_per_s", 0.8),
        "≥ 0.8 × raw save",
        True,
    ),
    Check("board rate", "board_per_s", "req/s", _fixed(1500), "≥ 1,500 req/s", True),
    Check("board p99", "board_p99_ms", "ms", _fixed(50), "≤ 50 ms", False),
    Check("catch-up", "catch_up_events_per_s", "ev/s", _fixed(10_000), "≥ 10,000 ev/s", True),
    Check("rebuild of 1M", "rebuild_1m_seconds", "s", _fixed(120), "≤ 120 s", False),
    Check("lag p99", "lag_visible_all_p99_ms", "ms", _fixed(200), "≤ 200 ms", False),
    Check("peak RSS", "rss_peak_mb", "MB", _fixed(500), "≤ 500 MB", False),
)


def evaluate(figures: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for check in CHECKS:
        value = figures.get(check.figure)
        target = check.target(figures)
        if value is None or target is None:
            passed = False
            ratio = None
        else:
            passed = value >= target if check.at_least else value <= target
            ratio = round(value / target, 3) if target else None
        results.append(
            {
                "check": check.name,
                "figure": check.figure,
                "value": value,
                "unit": check.unit,
                "target": None if target is None else round(target, 1),
                "target_text": check.describe,
                "ratio": ratio,
                "result": "PASS" if passed else "MISS",
            }
        )
    return results


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


FIGURE_LINES = (
    ("B1: pgbench single-row insert, 1 client", "baseline_pgbench_b1_tps", "tx/s"),
    ("B8: pgbench single-row insert, 8 clients", "baseline_pgbench_b8_tps", "tx/s"),
    ("raw eventsourcing save, 1 thread", "baseline_raw_save_1_thread_per_s", "saves/s"),
    ("raw eventsourcing save, 16 threads", "baseline_raw_save_16_threads_per_s", "saves/s"),
    (
        "raw save, the library's own recorder, 16 threads",
        "baseline_library_recorder_save_16_threads_per_s",
        "saves/s",
    ),
    ("raw asyncpg board page (count + page)", "baseline_raw_board_read_per_s", "req/s"),
    ("raw asyncpg board page p99", "baseline_raw_board_read_p99_ms", "ms"),
    ("data set: events in the store", "dataset_events", "events"),
    ("data set: generation time (demo + history)", "dataset_seconds", "s"),
    ("data set: history written at", "dataset_history_events_per_s", "events/s"),
    ("writes (16 clients, GraphQL)", "write_per_s", "cmd/s"),
    ("writes p50 / p99", ("write_p50_ms", "write_p99_ms"), "ms"),
    (
        "writes: CPU per cmd, server / PostgreSQL / client",
        ("write_cpu_server_ms", "write_cpu_postgres_ms", "write_cpu_client_ms"),
        "ms",
    ),
    ("writes: CPU ceiling (cores / CPU per cmd)", "write_cpu_ceiling_per_s", "cmd/s"),
    ("writes / B1", "write_ratio_to_b1", "×"),
    ("writes / raw save", "write_ratio_to_raw_save", "×"),
    ("board page of 50 (16 clients)", "board_per_s", "req/s"),
    ("board p50 / p99", ("board_p50_ms", "board_p99_ms"), "ms"),
    ("board / raw asyncpg page", "board_ratio_to_raw_read", "×"),
    (
        "board: CPU per req, server / PostgreSQL / client",
        ("board_cpu_server_ms", "board_cpu_postgres_ms", "board_cpu_client_ms"),
        "ms",
    ),
    ("board: CPU ceiling (cores / CPU per req)", "board_cpu_ceiling_per_s", "req/s"),
    ("case detail (16 clients)", "case_detail_per_s", "req/s"),
    ("case detail p50 / p99", ("case_detail_p50_ms", "case_detail_p99_ms"), "ms"),
    (
        "case detail: CPU per req, server / PostgreSQL / client",
        ("case_detail_cpu_server_ms", "case_detail_cpu_postgres_ms", "case_detail_cpu_client_ms"),
        "ms",
    ),
    ("case detail: CPU ceiling (cores / CPU per req)", "case_detail_cpu_ceiling_per_s", "req/s"),
    ("cabinet briefing (16 clients)", "briefing_per_s", "req/s"),
    ("briefing p50 / p99", ("briefing_p50_ms", "briefing_p99_ms"), "ms"),
    (
        "briefing: CPU per req, server / PostgreSQL / client",
        ("briefing_cpu_server_ms", "briefing_cpu_postgres_ms", "briefing_cpu_client_ms"),
        "ms",
    ),
    ("briefing: CPU ceiling (cores / CPU per req)", "briefing_cpu_ceiling_per_s", "req/s"),
    ("projection catch-up from zero", "catch_up_events_per_s", "events/s"),
    ("catch-up of 1M events (extrapolated)", "catch_up_1m_seconds", "s"),
    (
        "catch-up: CPU per event, server / PostgreSQL",
        ("catch_up_cpu_tequio_us", "catch_up_cpu_postgres_us"),
        "µs",
    ),
    ("catch-up: CPU ceiling (cores / CPU per event)", "catch_up_cpu_ceiling_per_s", "events/s"),
    ("full rebuild", "rebuild_seconds", "s"),
    ("rebuild rate", "rebuild_events_per_s", "events/s"),
    ("rebuild of 1M events (extrapolated)", "rebuild_1m_seconds", "s"),
    (
        "rebuild: CPU per event, rebuild / PostgreSQL",
        ("rebuild_cpu_tequio_us", "rebuild_cpu_postgres_us"),
        "µs",
    ),
    ("rebuild: CPU ceiling (cores / CPU per event)", "rebuild_cpu_ceiling_per_s", "events/s"),
    ("lag: writes sent at", "lag_rate_per_s", "cmd/s"),
    (
        "lag to every read model p50 / p99",
        ("lag_visible_all_p50_ms", "lag_visible_all_p99_ms"),
        "ms",
    ),
    ("lag to the board p50 / p99", ("lag_visible_board_p50_ms", "lag_visible_board_p99_ms"), "ms"),
    ("mutation answer p99 (read-your-writes)", "lag_ack_p99_ms", "ms"),
    ("server peak RSS under load", "rss_peak_mb", "MB"),
    ("server peak RSS during catch-up", "rss_peak_catch_up_mb", "MB"),
    ("whole run", "total_seconds", "s"),
)


def table(figures: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    lines = ["", "Figures", "-------"]
    width = max(len(label) for label, _, _ in FIGURE_LINES)
    for label, key, unit in FIGURE_LINES:
        if isinstance(key, tuple):
            value = " / ".join(_fmt(figures.get(k)) for k in key)
        else:
            value = _fmt(figures.get(key))
        lines.append(f"{label:<{width}}  {value:>17} {unit}")
    lines += ["", "Targets", "-------"]
    header = f"{'check':<20} {'value':>12} {'target':>22} {'ratio':>8}  result"
    lines += [header, "-" * len(header)]
    for c in checks:
        value = f"{_fmt(c['value'])} {c['unit']}"
        target = f"{c['target_text']} ({_fmt(c['target'])})"
        lines.append(
            f"{c['check']:<20} {value:>12} {target:>22} {_fmt(c['ratio']):>8}  {c['result']}"
        )
    missed = [c["check"] for c in checks if c["result"] == "MISS"]
    lines.append("")
    lines.append(f"{len(checks) - len(missed)} of {len(checks)} targets met.")
    if missed:
        lines.append("Missed: " + ", ".join(missed))
    return "\n".join(lines)
