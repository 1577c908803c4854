"""An interleaved A/B of two ``tequio serve`` processes on one data set.

``uv run python -m bench.ab --b-env PYTHONPATH=/tmp/patched-src`` builds a small data
set (the demo plus a short history, ``--events``), rebuilds the read models, starts
server A as is and server B with the given environment (a ``PYTHONPATH`` pointing at
a patched copy of ``src/`` tries a code change without touching the tree), then
sends the same closed-loop load (reads, or ``--phase writes``) to A and B in
alternating rounds. On a shared,
noisy machine the noise falls on both alike, so the medians of the rounds compare.
Each round also reads the server's CPU per request (``bench.cpu``), which moves less
with the machine's noise than the rate does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from bench import client, dataset, load, projecting
from bench.cpu import CpuMeter
from bench.db import bench_database
from bench.run import RESULTS, _world_from_read_models
from bench.server import CIPHER_KEY, MUNICIPALITY, SECRET, Server
from tequio.application import build_application, library_env
from tequio.settings import Settings

REQUESTS: dict[str, Callable[[load.World], Any]] = {
    "board": load.board_request,
    "case": load.case_request,
    "briefing": load.briefing_request,
    # The bench's write mix (80 % progress reports, 20 % new cases), 16 clients.
    "writes": lambda world: load.write_request(world, 16, raise_share=0.2),
}


def _env(items: list[str] | None) -> dict[str, str]:
    return {"TEQUIO_CIPHER_KEY": CIPHER_KEY} | dict(
        item.partition("=")[::2] for item in items or []
    )


async def _rounds(
    world: load.World, servers: dict[str, Server], phase: str, rounds: int, seconds: float
) -> dict[str, list[dict[str, Any]]]:
    make = REQUESTS[phase]
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for server in servers.values():  # warm both
        world.port = server.port
        await load.closed_loop(world, make(world), concurrency=16, seconds=2, warmup=0)
    names = list(servers)
    for n in range(rounds):
        for name in names if n % 2 == 0 else names[::-1]:
            server = servers[name]
            world.port = server.port
            meter = CpuMeter(server.pids, None)
            out = await load.closed_loop(
                world, make(world), concurrency=16, seconds=seconds, meter=meter
            )
            found[name].append(out)
            print(
                f"round {n} {name}: {out['per_second']} req/s, p50 {out['p50_ms']} ms, "
                f"p99 {out['p99_ms']} ms, server CPU {out['cpu'].get('server_ms')} ms/req, "
                f"{out['errors']} errors",
                file=sys.stderr,
                flush=True,
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("--a-env", action="append", metavar="NAME=VALUE")
    parser.add_argument("--b-env", action="append", metavar="NAME=VALUE")
    parser.add_argument("--phase", choices=sorted(REQUESTS), default="board")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args(argv)
    with bench_database("tequio_bench_ab") as db:
        settings = Settings(
            DATABASE_URL=db.info.url(),
            TEQUIO_SECRET=SecretStr(SECRET),
            TEQUIO_CIPHER_KEY=SecretStr(CIPHER_KEY),
        )
        app = build_application(settings, db.info)
        try:
            summary = dataset.generate(
                app,
                municipality=MUNICIPALITY,
                target_events=args.events,
                days=120,
                say=lambda m: print(m, file=sys.stderr),
            )
        finally:
            app.close()
        projecting.run_rebuild(library_env(settings, db.info), lambda m: None)
        world = _world_from_read_models(db, summary)
        servers = {
            "A": Server(db.info.url(), RESULTS / "ab-a.log", extra_env=_env(args.a_env)),
            "B": Server(db.info.url(), RESULTS / "ab-b.log", extra_env=_env(args.b_env)),
        }
        try:
            for server in servers.values():
                server.wait_ready()
            found = client.run(_rounds(world, servers, args.phase, args.rounds, args.seconds))
        finally:
            for server in servers.values():
                server.stop()
    medians = {
        name: (
            statistics.median(o["per_second"] or 0 for o in outs),
            statistics.median(o["p99_ms"] or 0 for o in outs),
            statistics.median(o["cpu"].get("server_ms") or 0 for o in outs),
        )
        for name, outs in found.items()
    }
    wins = sum(
        (b["per_second"] or 0) > (a["per_second"] or 0)
        for a, b in zip(found["A"], found["B"], strict=True)
    )
    for name, (rate, p99, cpu) in medians.items():
        print(
            f"{name}: median {rate:.1f} req/s, median p99 {p99:.0f} ms,"
            f" median server CPU {cpu:.3f} ms per request"
        )
    a_rate, a_cpu = medians["A"][0], medians["A"][2]
    if a_rate:
        print(f"B / A: {medians['B'][0] / a_rate:.2f}; B faster in {wins} of {args.rounds} rounds")
    if a_cpu:
        print(f"server CPU per request, B / A: {medians['B'][2] / a_cpu:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
