"""Commit → screen, measured from outside: the real console in a pseudo-terminal, its output fed to
a terminal emulator (pyte), against a naive reference console measured in the same run.

    python bench/screen_latency.py [--tasks 20000] [--seconds 10] [--rates 300,1000] [--size 160x45]
        [--tasktui-args "" --tasktui-args "--max-fps 2"]

Method
- A throwaway durable cluster (fsync on) with the mirror, tasktui's trigger and `--tasks` tasks
  (mostly done; `--running` running, which the load updates; a few hundred queued).
- Each console in turn — `tasktui --dsn …` and bench/naive_console.py — runs in a pty of
  `--size` (TERM=xterm-256color, COLORTERM=truecolor). Everything it writes is read at once,
  counted, and fed to a pyte screen of the same size; the console never knows it is measured.
- Phases: *quiet* (nothing written: CPU when idle), then *idle* (probes only) and one phase per
  `--rates` value: separate processes commit single-row UPDATEs of the running tasks' `retries`
  (a column on screen; mtime unchanged, so the rows stay put) at that rate.
- Probes: another process inserts a queued task named `probe.<phase>.<n>` every 0.4 s and notes
  its commit time. Latency = the moment the bytes that complete the probe's name on the emulated
  screen were read − that commit time (one clock). A probe not on screen 3 s after its commit is
  missed.
- Per phase: p50/p99/max, probes missed, bytes/s written to the terminal, the console's CPU (% of
  one core, /proc/<pid>/stat) and its RSS (/proc/<pid>/status) at the start and the end (and
  over time with `--rss-every`).
- Keys (`--keys`, tasktui only): under the first rate's load, `?` and Escape are sent in turn every
  0.5 s; the time from the key written to the help screen's title appearing (or gone) on the
  emulated screen.
- `--backlog N` adds N queued tasks (authentik's backlog in an incident) to the table.
Client, server, load and the emulator share the machine's cores: trust the ratios more than the
absolute numbers. tests/test_bench_smoke.py runs a tiny version.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import random
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pyte
from pacing import paced

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasktui.embedded.localpg import LocalServerError, SystemCluster, WheelServer, find_system_bindir

HERE = Path(__file__).resolve().parent
PROBE_EVERY = 0.4
MISSED_AFTER = 3.0
WRITERS = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

SEED_SQL = """
INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _uid,
    _messages, _previous_messages, aggregated_status, tenant_id, retries)
SELECT gen_random_uuid(), 'default', 'authentik.bench.actor_' || (g %% 40), ''::bytea,
       s.state, now() - (g || ' seconds')::interval - interval '1 hour', 'uid-' || g, '[]', '[]',
       s.state, %(tenant)s, 0
FROM generate_series(1, %(n)s) AS g,
     LATERAL (SELECT CASE WHEN g <= %(running)s THEN 'running' WHEN g %% 100 = 0 THEN 'queued'
                          WHEN g %% 97 = 0 THEN 'rejected' ELSE 'done' END AS state) AS s
"""
PROBE_SQL = """
INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime,
    _messages, _previous_messages, aggregated_status, tenant_id, retries)
VALUES (%s, 'default', %s, ''::bytea, 'queued', now(), '[]', '[]', 'queued', %s, 0)
"""


# ---------------------------------------------------------------------------------------------
# Load processes (run as `--role writer|prober`)


BACKLOG_SQL = """
INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _uid,
    _messages, _previous_messages, aggregated_status, tenant_id, retries)
SELECT gen_random_uuid(), 'default', 'authentik.bench.backlog_' || (g %% 40), ''::bytea, 'queued',
       now() - (g || ' seconds')::interval - interval '2 hours', 'uid-' || g, '[]', '[]', 'queued', %(tenant)s, 0
FROM generate_series(1, %(n)s) AS g
"""
HELP_TITLE = "tasktui — keys"


def writer(dsn: str, rate: float, stop_at: float) -> None:
    """Single-row UPDATEs of running tasks' retries, `rate` per second, one per transaction."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT message_id FROM authentik_tasks_task WHERE state = 'running'")]
        statement = "UPDATE authentik_tasks_task SET retries = retries + 1 WHERE message_id = %s"
        for _ in paced(rate, stop_at - time.time()):
            conn.execute(statement, (random.choice(ids),), prepare=True)


def prober(dsn: str, stop_at: float, tag: str, out_path: str) -> None:
    """A recognisable new task every PROBE_EVERY seconds; "name commit_time" lines to `out_path`."""
    with psycopg.connect(dsn, autocommit=True) as conn, open(out_path, "w") as out:
        tenant = conn.execute("SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1").fetchone()[0]
        n = 0
        while time.time() < stop_at:
            name = f"probe.{tag}.{n}"
            conn.execute(PROBE_SQL, (uuid.uuid4(), name, tenant))
            out.write(f"{name} {time.time()}\n")
            out.flush()
            n += 1
            time.sleep(PROBE_EVERY)


# ---------------------------------------------------------------------------------------------
# A console in a pty, watched through a terminal emulator


class WatchedConsole:
    def __init__(self, command: list[str], columns: int, lines: int) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.bytes = 0
        self.last_read = 0.0  # when the last chunk was read
        self.lock = threading.Lock()
        self.pending: dict[str, float] = {}  # probe name -> commit time
        self.seen: dict[str, float] = {}  # probe name -> when its name was complete on screen
        self.texts: list[str] = []  # texts waited for by wait_for
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
        env.update({"TERM": "xterm-256color", "COLORTERM": "truecolor", "LINES": str(lines), "COLUMNS": str(columns)})
        self.proc = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True
        )
        os.close(slave)
        self.master = master
        self.started = time.time()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            at = time.time()
            with self.lock:
                self.last_read = at
                self.bytes += len(chunk)
                self.stream.feed(chunk)
                if self.pending or self.texts:
                    self._look(at)

    def _look(self, at: float) -> None:
        """Check the lines that changed for the probes and texts waited for."""
        columns = self.screen.columns
        for y in self.screen.dirty:
            row = self.screen.buffer[y]
            text = "".join(row[x].data for x in range(columns))
            for name in [n for n in self.pending if n in text]:
                self.seen[name] = at
                del self.pending[name]
            self.texts = [t for t in self.texts if t not in text]
        self.screen.dirty.clear()

    def expect(self, name: str, committed: float) -> None:
        with self.lock:
            if name not in self.seen:
                self.pending[name] = committed
            # What is on screen already (drawn before its commit time was known).
            self.screen.dirty.update(range(self.screen.lines))
            self._look(time.time())

    def wait_for(self, text: str, within: float) -> float:
        with self.lock:
            self.texts.append(text)
            self.screen.dirty.update(range(self.screen.lines))
            self._look(time.time())
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                if text not in self.texts:
                    return time.time() - self.started
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"{text!r} never appeared on the console's screen:\n" + "\n".join(self.screen.display))

    def until(self, text: str, *, present: bool, within: float, after: float) -> float | None:
        """When the chunk was read after which `text` was (or was no longer) on the screen; only
        output read after `after` counts (what was on screen before is not an answer)."""
        deadline = time.monotonic() + within
        columns = self.screen.columns
        while time.monotonic() < deadline:
            with self.lock:
                lines = ("".join(row[x].data for x in range(columns)) for row in self.screen.buffer.values())
                if self.last_read >= after and any(text in line for line in lines) == present:
                    return self.last_read
            time.sleep(0.002)
        return None

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        try:
            os.write(self.master, b"q")
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)
        self._reader.join(timeout=5)


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)  # ms
    probes: int = 0
    missed: int = 0
    bytes_per_s: float = 0.0
    cpu_percent: float = 0.0
    rss: tuple[float, float] = (0.0, 0.0)  # MB at the start and the end
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the phase, MB)

    def quantile(self, share: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run_phase(
    console: WatchedConsole,
    dsn: str,
    name: str,
    rate: float,
    seconds: float,
    probes: bool,
    rss_every: float = 0.0,
    keys: bool = False,
) -> Phase:
    phase = Phase(name)
    stop_at = time.time() + seconds
    base = [sys.executable, __file__, "--dsn", dsn, "--stop-at", str(stop_at)]
    out_path = tempfile.mktemp(prefix="tasktui-probes-")
    procs = []
    if probes:
        procs.append(subprocess.Popen([*base, "--role", "prober", "--tag", name, "--out", out_path]))
    if rate:
        procs += [subprocess.Popen([*base, "--role", "writer", "--rate", str(rate / WRITERS)]) for _ in range(WRITERS)]
    bytes_before, cpu_before, started = console.bytes, console.cpu_seconds(), time.monotonic()
    rss_before = console.rss_mb()
    read = 0
    counted = False
    next_rss = started + rss_every if rss_every else float("inf")
    next_key = started + 1.0 if keys else float("inf")
    help_shown = False
    while time.time() < stop_at + MISSED_AFTER:
        if time.monotonic() >= next_rss and time.time() < stop_at:
            phase.rss_samples.append((time.monotonic() - started, console.rss_mb()))
            next_rss += rss_every
        if time.monotonic() >= next_key and time.time() < stop_at:
            sent = time.time()
            os.write(console.master, b"\x1b" if help_shown else b"?")
            shown_at = console.until(HELP_TITLE, present=not help_shown, within=MISSED_AFTER, after=sent)
            if shown_at is None:
                phase.missed += 1
            else:
                phase.latencies.append((shown_at - sent) * 1000)
            phase.probes += 1
            help_shown = not help_shown
            next_key = time.monotonic() + 0.5
            continue
        if probes and os.path.exists(out_path):
            with open(out_path) as lines:
                complete = lines.read().split("\n")[:-1]  # a line being written is not complete
            for line in complete[read:]:
                probe, committed = line.split()
                console.expect(probe, float(committed))
            read = len(complete)
        if time.time() >= stop_at and not counted:
            elapsed = time.monotonic() - started
            phase.bytes_per_s = (console.bytes - bytes_before) / elapsed
            phase.cpu_percent = 100 * (console.cpu_seconds() - cpu_before) / elapsed
            phase.rss = (rss_before, console.rss_mb())
            counted = True
        time.sleep(0.05)
    for proc in procs:
        proc.wait()
    if help_shown:
        os.write(console.master, b"\x1b")
        console.until(HELP_TITLE, present=False, within=MISSED_AFTER, after=time.time())
    if probes:
        with open(out_path) as lines:
            commits = dict(line.split() for line in lines.read().splitlines())
        os.unlink(out_path)
        with console.lock:
            for probe, committed in commits.items():
                shown = console.seen.get(probe)
                if shown is not None and shown - float(committed) <= MISSED_AFTER:
                    phase.latencies.append((shown - float(committed)) * 1000)
                else:
                    phase.missed += 1
                console.pending.pop(probe, None)
        phase.probes = len(commits)
    return phase


def measure(command: list[str], label: str, dsn: str, args: argparse.Namespace) -> tuple[float, list[Phase]]:
    columns, lines = (int(v) for v in args.size.split("x"))
    console = WatchedConsole(command, columns, lines)
    profiler = None
    if args.py_spy and label == "tasktui":  # the first tasktui console
        # Samples of the console's own stacks for the whole run, as collapsed stacks.
        profiler = subprocess.Popen(
            [
                args.py_spy,
                "record",
                "--pid",
                str(console.proc.pid),
                "--format",
                "raw",
                "--rate",
                "100",
                "--output",
                args.profile_out,
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        first = console.wait_for("authentik.bench.actor_", within=60)
        time.sleep(1.0)  # let the start-up work (counts, a first re-check) settle
        idle_seconds = args.seconds if args.idle_seconds is None else args.idle_seconds
        phases = [run_phase(console, dsn, "quiet", 0, min(5.0, idle_seconds), probes=False)]
        phases.append(run_phase(console, dsn, "idle", 0, idle_seconds, probes=True))
        for rate in args.rate_list:
            phases.append(
                run_phase(console, dsn, f"{rate:g}/s", rate, args.seconds, probes=True, rss_every=args.rss_every)
            )
        if args.keys and args.rate_list and label.startswith("tasktui"):  # the naive console has no help key
            rate = args.rate_list[0]
            phases.append(run_phase(console, dsn, f"keys@{rate:g}", rate, args.seconds, probes=False, keys=True))
        print(f"  {label}: measured in {time.time() - console.started:.0f} s", flush=True)
        return first, phases
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=30)
            print(f"  py-spy samples of the tasktui console: {args.profile_out}")
        console.stop()
        # The next console starts from the same table.
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "DELETE FROM authentik_tasks_tasklog WHERE task_id IN"
                " (SELECT message_id FROM authentik_tasks_task WHERE actor_name LIKE 'probe.%')"
            )
            conn.execute("DELETE FROM authentik_tasks_task WHERE actor_name LIKE 'probe.%'")


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "—" if value is None else format(value, spec)


def print_results(results: dict[str, tuple[float, list[Phase]]]) -> None:
    header = (
        f"{'console':<10} {'phase':<8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'missed':>8}"
        f" {'kB/s':>7} {'CPU %':>6} {'RSS MB':>13}"
    )
    print(header)
    print("-" * len(header))
    for label, (first, phases) in results.items():
        for phase in phases:
            missed = f"{phase.missed}/{phase.probes}" if phase.probes else "—"
            print(
                f"{label:<10} {phase.name:<8} {fmt(phase.quantile(0.5)):>7} {fmt(phase.quantile(0.99)):>7}"
                f" {fmt(max(phase.latencies) if phase.latencies else None):>7} {missed:>8}"
                f" {phase.bytes_per_s / 1000:>7.1f} {phase.cpu_percent:>6.1f}"
                f" {phase.rss[0]:>6.1f}→{phase.rss[1]:<6.1f}"
            )
        for phase in phases:
            if phase.rss_samples:
                samples = " ".join(f"{at:.0f}s:{mb:.0f}" for at, mb in phase.rss_samples)
                print(f"{label:<10} RSS over {phase.name} (MB): {samples}")
        print(f"{label:<10} first screen with tasks after {first:.2f} s")
    if "naive" not in results:
        return
    _, theirs = results["naive"]
    for label, (_, ours) in results.items():
        if label == "naive":
            continue
        print()
        print(f"ratios {label} / naive (below 1: {label} does better)")
        for mine, reference in zip(ours, theirs, strict=False):
            parts = []
            for what, a, b in (
                ("p50", mine.quantile(0.5), reference.quantile(0.5)),
                ("p99", mine.quantile(0.99), reference.quantile(0.99)),
                ("bytes/s", mine.bytes_per_s, reference.bytes_per_s),
                ("CPU", mine.cpu_percent, reference.cpu_percent),
            ):
                parts.append(f"{what} {a / b:.2f}" if a is not None and b else f"{what} —")
            print(f"  {mine.name:<8} " + ", ".join(parts))


# ---------------------------------------------------------------------------------------------
# The run


def prepare(dsn: str, tasks: int, running: int, backlog: int = 0) -> None:
    from tasktui.core import db
    from tasktui.core.mirror import apply_mirror
    from tasktui.core.trigger import install

    async def run() -> None:
        conn = await db.connect(db.Target.resolve(dsn))
        try:
            await conn.execute("SET statement_timeout = 0")
            await apply_mirror(conn)
            tenant = (await (await conn.execute("SELECT tenant_uuid FROM authentik_tenants_tenant")).fetchone())[0]
            # Seeded as authentik's trigger would leave them, without firing triggers.
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(SEED_SQL, {"tenant": tenant, "n": tasks, "running": running})
            if backlog:
                await conn.execute(BACKLOG_SQL, {"tenant": tenant, "n": backlog})
            await conn.execute("SET session_replication_role = DEFAULT")
            await conn.execute("ANALYZE authentik_tasks_task")
            await install(conn)
        finally:
            await conn.close()

    import asyncio

    asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks in the table (default 20000)")
    parser.add_argument("--running", type=int, default=300, help="running tasks the load updates (default 300)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase (default 10)")
    parser.add_argument(
        "--idle-seconds", type=float, help="length of the quiet and idle phases (default: --seconds, at most 5 quiet)"
    )
    parser.add_argument("--rates", default="300,1000", help="updates/s of the loaded phases (default 300,1000)")
    parser.add_argument("--size", default="160x45", help="terminal size, COLUMNSxLINES (default 160x45)")
    parser.add_argument("--only", choices=["tasktui", "naive"], help="measure one console only")
    parser.add_argument("--backlog", type=int, default=0, help="queued tasks added to the table (default 0)")
    parser.add_argument("--keys", action="store_true", help="also time keys (? and Esc) under the first rate")
    parser.add_argument("--rss-every", type=float, default=0.0, help="sample RSS this often in loaded phases (s)")
    parser.add_argument(
        "--tasktui-args",
        action="append",
        metavar="ARGS",
        help="options for the tasktui console (e.g. '--max-fps 2'); given again, another tasktui console is measured"
        " with those (tasktui-2, …) in the same run",
    )
    parser.add_argument("--py-spy", metavar="PATH", help="profile the tasktui console with this py-spy binary")
    parser.add_argument("--profile-out", default="tasktui-profile.txt", help="where py-spy writes (collapsed stacks)")
    # Internal: the load processes.
    parser.add_argument("--role", choices=["writer", "prober"], help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--stop-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "writer":
        writer(args.dsn, args.rate, args.stop_at)
        return 0
    if args.role == "prober":
        prober(args.dsn, args.stop_at, args.tag, args.out)
        return 0
    args.rate_list = [float(r) for r in args.rates.split(",") if r]

    bindir = find_system_bindir()
    server = SystemCluster(bindir, durable=True, guarded=True) if bindir else WheelServer(guarded=True)
    t0 = time.monotonic()
    try:
        dsn = server.start()
    except LocalServerError as exc:
        print(f"bench: cannot start a server: {exc}", file=sys.stderr)
        return 1
    try:
        prepare(dsn, args.tasks, args.running, args.backlog)
        print(
            f"setup: {args.tasks:,} tasks ({args.running} running, {args.backlog:,} more queued)"
            f" in {time.monotonic() - t0:.1f} s;"
            f" terminal {args.size}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        consoles = {}
        for number, options in enumerate(args.tasktui_args or [""], start=1):
            label = "tasktui" if number == 1 else f"tasktui-{number}"
            consoles[label] = [sys.executable, "-m", "tasktui", "--dsn", dsn, *shlex.split(options)]
            if options:
                print(f"{label}: tasktui {options}")
        consoles["naive"] = [sys.executable, str(HERE / "naive_console.py"), "--dsn", dsn]
        results = {
            label: measure(command, label, dsn, args)
            for label, command in consoles.items()
            if args.only is None or label.startswith(args.only)
        }
        print()
        print_results(results)
        print(f"total {time.monotonic() - t0:.0f} s; load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
