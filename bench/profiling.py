"""Sampling the server with py-spy during one phase (``--profile PHASE``).

py-spy (a dev dependency) attaches to the running ``tequio serve`` process and
writes collapsed stacks; this module sums them into the functions where the
server's threads spend their time (self: the innermost frame; total: anywhere on
the stack). Idle threads (waiting on a lock, a socket or a queue) are left out.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
SITE = re.compile(r".*/site-packages/")


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    if found.exists():
        return str(found)
    return shutil.which("py-spy")


def start(
    pid: int, seconds: float, output: Path, rate: int = 100, *, gil: bool = False
) -> subprocess.Popen[bytes] | None:
    """py-spy on ``pid`` for ``seconds``: every running thread, or with ``gil`` only the
    thread holding the GIL (where the CPU time of Python code goes)."""
    binary = py_spy()
    if binary is None:
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            binary,
            "record",
            *(["--gil"] if gil else []),
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _frame_name(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    where = SITE.sub("", match.group("file"))
    where = where.replace("/work/main/src/", "")
    return f"{match.group('function')} ({where})"


def summarise(collapsed: Path, top: int = 25) -> dict[str, Any]:
    """Top functions by self and by total samples, from py-spy's raw output."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    if not collapsed.exists():
        return {"error": f"no profile at {collapsed}"}
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        # py-spy --nonblocking --idle is off by default: only running threads are sampled.
        if frames and frames[0].startswith(("process ", "thread ")):
            frames = frames[1:]
        names = [_frame_name(f) for f in frames]
        if not names:
            continue
        samples += count
        own[names[-1]] += count
        for name in set(names):
            total[name] += count

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "samples": n, "share": round(n / samples, 3) if samples else 0}
            for name, n in counter.most_common(top)
        ]

    return {"samples": samples, "self": rows(own), "total": rows(total)}


def render(summary: dict[str, Any], rows: int = 15) -> str:
    if "error" in summary:
        return summary["error"]
    lines = [f"{summary['samples']} samples", "", "self (innermost frame):"]
    for row in summary["self"][:rows]:
        lines.append(f"  {row['share'] * 100:5.1f}%  {row['function']}")
    lines += ["", "total (anywhere on the stack):"]
    for row in summary["total"][:rows]:
        lines.append(f"  {row['share'] * 100:5.1f}%  {row['function']}")
    return "\n".join(lines)
