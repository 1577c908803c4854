"""The bench's CPU accounting: CPU per request of each party, and the ceiling it sets."""

from __future__ import annotations

import os
import time

import pytest
from bench.cpu import CpuMeter, cpu_seconds, postgres_pids


def spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_seconds_count_what_a_process_spends() -> None:
    before = cpu_seconds([os.getpid()])
    spin(0.2)
    assert cpu_seconds([os.getpid()]) - before == pytest.approx(0.2, abs=0.05)


def test_a_process_that_is_gone_counts_nothing() -> None:
    assert cpu_seconds([2**22 + 12345]) == 0


def test_no_postgres_to_measure_without_its_folder() -> None:
    assert postgres_pids(None) is None


def test_the_ceiling_is_the_cores_over_the_cpu_of_one_request() -> None:
    # The "server" is this process too: it and the client each see the same 0.2 s.
    meter = CpuMeter(lambda: [os.getpid()], None)
    meter.start()
    spin(0.2)
    result = meter.result(requests=100)
    assert result["postgres_ms"] is None
    assert result["server_ms"] == pytest.approx(2.0, abs=0.5)
    assert result["client_ms"] == pytest.approx(2.0, abs=0.5)
    assert result["total_ms"] == pytest.approx(result["server_ms"] + result["client_ms"], abs=0.01)
    assert result["ceiling_per_s"] == pytest.approx(
        result["cores"] * 1000 / result["total_ms"], rel=0.01
    )


def test_with_children_the_client_includes_processes_that_ended() -> None:
    import subprocess
    import sys

    spinner = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    meter = CpuMeter(lambda: [], None, with_children=True)
    meter.start()
    subprocess.run([sys.executable, "-c", spinner], check=True)
    assert meter.result(requests=1)["client_ms"] >= 250


def test_children_that_ended_count_for_the_process_that_waited_for_them() -> None:
    import subprocess
    import sys

    spinner = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    before = cpu_seconds([], reaped_by=[os.getpid()])
    subprocess.run([sys.executable, "-c", spinner], check=True)
    assert cpu_seconds([], reaped_by=[os.getpid()]) - before >= 0.25
