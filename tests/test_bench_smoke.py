"""The benches cannot rot: each runs here as a tiny version of itself, through its own command, and
must finish and print its tables. Nothing about the numbers is asserted (they are for the README,
measured by the full runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run_bench(script: str, *args: str, timeout: float = 240) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


@pytest.mark.slow
def test_trigger_overhead_bench_runs_both_modes_and_the_switch() -> None:
    out = run_bench(
        "trigger_overhead.py",
        *("--window", "1.2", "--windows", "1", "--rows", "2000"),
        *("--rates", "100", "--latency-window", "0.6", "--latency-windows", "1"),
    )
    assert "1. Throughput at saturation" in out and "(d) console, drain mode" in out
    assert "(auto) a console in auto mode, 8 clients" in out
    assert "3. Writers' commit latency at fixed rates" in out and "(n) console, notify mode" in out


@pytest.mark.slow
def test_screen_latency_bench_measures_tasktui_and_the_naive_console() -> None:
    out = run_bench(
        "screen_latency.py", *("--seconds", "1.5", "--rates", "100", "--tasks", "500", "--running", "20", "--keys")
    )
    assert "console    phase" in out
    for line in ("tasktui    100/s", "naive      100/s", "tasktui    keys@100", "ratios tasktui / naive"):
        assert line in out, out


@pytest.mark.slow
def test_console_latency_bench_measures_the_first_screen_and_each_phase() -> None:
    out = run_bench("console_latency.py", *("--tasks", "2000", "--rate", "100", "--storm", "500", "--seconds", "1.5"))
    assert "first screen with rows:" in out
    for phase in ("idle:", "100 changes/s", "500 changes/s"):
        assert phase in out and "not drawn" in out, out
