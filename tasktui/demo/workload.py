"""A live, simulated authentik worker fleet on tasktui's mirror tables.

    python -m tasktui.demo.workload --dsn DSN [--seed N] [--rate R] [--workers K]

Each simulated worker process does what authentik's broker and middleware do (reference §3-§6),
through the SQL steps of tasktui.demo.broker:

* boot: replace its host's `authentik_tasks_workerstatus` row, take its liveness advisory lock on
  its "locks" connection for life, heartbeat `last_seen` every 30 s;
* consume: wait for the enqueue NOTIFY on a LISTEN connection; after a wait with none, poll the
  table (that is how delayed retries and orphans are found); claim each candidate on the locks
  connection (`consumed` + the task's advisory lock; no SKIP LOCKED, so losing races is normal)
  and hold up to 2 x threads claimed messages;
* process, on a thread's own connection: `preprocess`, "Task is being processed", `running`,
  the actor's logs (logger = the task uid), `postprocess`; then "Task finished processing
  without errors", result and ack (`done`); or an error log with the exception, then a retry
  with an eta (retries + 1, earlier logs marked previous, "Task will be retried") or, when the
  retries are spent or the exception is one the actor `throws`, nack (`rejected`) with the
  pickled exception as result;
* unlock lazily: a finished message's lock is released at the consumer's next turn.

A producer sends event-driven messages in waves (real load is bursty, and a consumer only polls
after a wait without any NOTIFY), with a storm now and then (several times the rate for a minute:
the queue grows, then drains); and the scheduler runs every minute over every tenant's schedule
table as authentik's does — it sends each unpaused schedule past its next run unless one of its
tasks is unfinished. One schedule's task hangs in its actor for good (a sync stuck on a socket),
so that schedule is skipped from then on. One extra worker dies after a while: it stops
heartbeating and drops its connections mid-task, leaving a `running` task with no lock that
another worker's poll claims again. SIGTERM or SIGINT put unfinished messages back in the queue,
release every lock and close every connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tasktui.argtypes import positive
from tasktui.core import db
from tasktui.demo import broker, seed
from tasktui.demo.broker import ClaimedTask
from tasktui.demo.catalogue import CONTENT_TYPES, CURRENT_VERSION, MAX_RETRIES, OLDER_VERSION, QUEUE
from tasktui.demo.scenario import (
    Scenario,
    ScheduleSpec,
    TaskPlan,
    TaskRequest,
    TenantWorld,
    backoff_ms,
    content_type_key,
    worker_hostname,
)
from tasktui.demo.sql import broker as broker_sql
from tasktui.errors import UserFacingError

ENQUEUE_CHANNEL = f"authentik.tasks.{QUEUE}.enqueue"
# How often the producer makes sure a rejected task is there to be retried by hand.
REJECTED_CHECK_SECONDS = 10.0
# A dying worker waits at most this long past its time for a task to die in the middle of.
DEATH_GRACE_SECONDS = 10.0
STATUS_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class WorkloadConfig:
    dsn: str | None
    seed: int = 1
    rate: float = 6.0  # new messages per second, on average
    workers: int = 3  # live workers, besides the one that dies
    history: int = 3000  # finished tasks to seed when the table is empty
    history_hours: float = 4.0
    threads: int = 2  # authentik's worker.threads
    heartbeat: float = 30.0  # WorkerStatusMiddleware's cadence
    # authentik waits 30 s (worker.consumer_listen_timeout) for a NOTIFY before it polls; the
    # demo waits less, so its lulls — and so retries and orphan re-claims — come every half minute.
    listen_timeout: float = 5.0
    wave_period: float = 30.0  # a lull closes every wave, long enough for the consumers to poll
    schedule_period: float = 60.0  # the scheduler's cycle
    die_after: float | None = 75.0  # when the extra worker dies (None: no worker dies)
    # Storms: `storm_factor` times the rate for `storm_seconds`, every `storm_period` seconds from
    # half a period on (0: none) — more than the workers keep up with, so the queue grows.
    storm_period: float = 240.0
    storm_seconds: float = 60.0
    storm_factor: float = 4.0
    time_scale: float = 1.0  # multiplies actor durations and retry backoff (tests go faster)
    parent_pid: int | None = None  # exit when this process is gone (set by `tasktui demo`)

    @property
    def lull(self) -> float:
        return min(self.listen_timeout * 1.5 + 0.5, self.wave_period / 2)

    def storming(self, elapsed: float) -> bool:
        """Whether a storm is on `elapsed` seconds after the producer started."""
        first = self.storm_period / 2
        return self.storm_period > 0 and elapsed >= first and (elapsed - first) % self.storm_period < self.storm_seconds


class _WorkerDied(Exception):
    """Raised inside a worker's task group to bring it down without any cleanup."""


class _ParentGone(Exception):
    """The `tasktui demo` that started this workload exited without stopping it."""


@dataclass
class Counters:
    sent: int = 0
    done: int = 0
    retried: int = 0
    rejected: int = 0


class Fleet:
    """What the workers and the producer share: the plans of the messages in flight."""

    def __init__(self, config: WorkloadConfig, scenario: Scenario, target: db.Target) -> None:
        self.config = config
        self.scenario = scenario
        self.target = target
        # authentik's worker connections carry no application_name; neither do these.
        self.conninfo = make_conninfo(target.conninfo, application_name="")
        self.plans: dict[str, TaskPlan] = {}
        self.executions: dict[str, int] = {}
        self.tenants = {t.tenant_uuid: t for t in scenario.tenants}
        self.counters = Counters()

    async def connect(self) -> psycopg.AsyncConnection:
        try:
            return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise db.user_error(exc, self.target) from None

    async def send(self, conn: psycopg.AsyncConnection, request: TaskRequest) -> None:
        # The plan is known before the NOTIFY goes out at commit, whoever claims first.
        self.plans[request.message_id] = request.plan
        rel_obj = None
        if request.rel_obj is not None:
            rel_obj = (self.scenario.content_type_ids[request.rel_obj[0]], request.rel_obj[1])
        await broker.enqueue(
            conn,
            request.actor.name,
            tenant_id=request.tenant.tenant_uuid,
            uid=request.uid,
            rel_obj=rel_obj,
            message_id=request.message_id,
            tenant_name=request.tenant.spec.name,
        )
        self.counters.sent += 1

    def plan_for(self, task: ClaimedTask) -> TaskPlan:
        plan = self.plans.get(task.message_id)
        if plan is None:
            plan = self.scenario.plan_unplanned(task.message_id, task.actor_name, task.retries, task.uid or "")
            self.plans[task.message_id] = plan
        return plan

    def tenant_of(self, task: ClaimedTask) -> TenantWorld:
        return self.tenants.get(task.tenant_id) or self.scenario.tenants[0]

    async def execute(self, conn: psycopg.AsyncConnection, task: ClaimedTask, worker: SimulatedWorker) -> None:
        """Run one claimed message through the middleware chain and the actor."""
        message_id = task.message_id
        plan = self.plan_for(task)
        attempt = plan.attempt(task.retries)
        execution = self.executions.get(message_id, 0) + 1
        self.executions[message_id] = execution
        await broker.start_processing(conn, message_id)
        worker.running.add(message_id)
        worker.task_started.set()
        try:
            elapsed = 0.0
            for planned in attempt.logs:
                at = planned.at * attempt.duration
                await asyncio.sleep(max(0.0, at - elapsed))
                elapsed = max(elapsed, at)
                await broker.log(
                    conn,
                    message_id,
                    planned.event,
                    level=planned.level,
                    logger=task.logger,
                    attributes=planned.attributes,
                )
                if attempt.failure is None and planned is attempt.logs[len(attempt.logs) // 2]:
                    await self._send_children(conn, task, plan, execution)
            if attempt.failure is None and not attempt.logs:
                await self._send_children(conn, task, plan, execution)
            if attempt.hangs:
                await asyncio.Event().wait()  # until the workload stops (then requeued)
            await asyncio.sleep(max(0.0, attempt.duration - elapsed))
        finally:
            worker.running.discard(message_id)
        failure = attempt.failure
        if failure is None:
            await broker.succeed(conn, message_id)
            self._finished(message_id)
            self.counters.done += 1
            return
        will_retry = not failure.permanent and task.retries < MAX_RETRIES
        delay = None
        if will_retry:
            jitter = random.Random(f"{self.scenario.seed}:backoff:{message_id}:{task.retries}")
            delay = backoff_ms(jitter, task.retries, self.config.time_scale)
        await broker.fail(
            conn,
            message_id,
            failure.exc_type,
            attempt.failure_text,
            retry_delay_ms=delay,
            retries=task.retries,
            actor=task.actor_name,
            queue=QUEUE,
            frames=failure.frame_dicts(),
            thrown=failure.permanent,
        )
        if will_retry:
            self.counters.retried += 1
        else:
            self._finished(message_id)
            self.counters.rejected += 1

    def _finished(self, message_id: str) -> None:
        # A manual retry later gets a fresh plan (see Scenario.plan_unplanned).
        self.plans.pop(message_id, None)
        self.executions.pop(message_id, None)

    async def _send_children(
        self, conn: psycopg.AsyncConnection, task: ClaimedTask, plan: TaskPlan, execution: int
    ) -> None:
        for child in self.scenario.children(task.message_id, plan, self.tenant_of(task), execution):
            await self.send(conn, child)


@dataclass
class SimulatedWorker:
    """One authentik worker process: a consumer, its threads and its status heartbeat."""

    fleet: Fleet
    hostname: str
    version: str
    dies_after: float | None = None
    worker_id: str = ""
    dead: bool = False
    in_processing: set[str] = field(default_factory=set)
    to_unlock: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    connections: list[psycopg.AsyncConnection] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.work: asyncio.Queue[ClaimedTask] = asyncio.Queue()
        # Set whenever one of its threads starts running an actor.
        self.task_started = asyncio.Event()
        self.config = self.fleet.config
        # dramatiq's consumer prefetch: twice the worker threads.
        self.prefetch = 2 * self.config.threads

    async def run(self) -> None:
        try:
            await self._boot()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._consume())
                for conn in self.connections[2:]:
                    group.create_task(self._thread(conn))
                group.create_task(self._heartbeat())
                if self.dies_after is not None:
                    group.create_task(self._die_when_due())
        except* _WorkerDied:
            pass  # its connections are gone; its row stays behind, stale
        finally:
            await self._close_connections()

    async def _boot(self) -> None:
        for _ in range(2 + self.config.threads):
            self.connections.append(await self.fleet.connect())
        locks, listen = self.connections[0], self.connections[1]
        self.worker_id = await broker.register_worker(locks, self.hostname, self.version)
        await broker.hold_worker_lock(locks, self.worker_id)
        await listen.execute(sql.SQL(broker_sql.LISTEN).format(channel=sql.Identifier(ENQUEUE_CHANNEL)))

    @property
    def locks(self) -> psycopg.AsyncConnection:
        return self.connections[0]

    async def _consume(self) -> None:
        """_PostgresConsumer.__next__, again and again: at most one claim per turn."""
        # On start, what is already waiting comes first.
        pending = await self._fetch_pending()
        misses = 0
        while True:
            await self._purge_locks()
            if len(self.in_processing) >= self.prefetch:
                # Busy: back off (up to 1 s) and let other workers take the next messages.
                misses += 1
                await asyncio.sleep(min(1.0, 0.005 * 2**misses) * random.uniform(0.5, 1.0))
                continue
            misses = 0
            if not pending:
                pending = await self._poll_for_notify()
            if not pending:
                pending = await self._fetch_pending()
            while pending:
                claimed = await self._consume_one(pending.pop())
                if claimed is not None:
                    self.in_processing.add(claimed.message_id)
                    self.work.put_nowait(claimed)
                    break

    async def _poll_for_notify(self) -> set[str]:
        listen = self.connections[1]
        return {n.payload async for n in listen.notifies(timeout=self.config.listen_timeout, stop_after=1)}

    async def _fetch_pending(self) -> set[str]:
        return set(await broker.pending(self.locks, QUEUE, limit=200)) - self.in_processing

    async def _consume_one(self, message_id: str) -> ClaimedTask | None:
        if message_id in self.in_processing:
            return None
        # Held from before the claim: a shutdown that cancels the claim mid-flight (the server may
        # have committed it) still puts the message back. The requeue touches only tasks in a
        # running state, so holding one that another worker claimed does no harm.
        self.in_processing.add(message_id)
        if not await broker.claim(self.locks, message_id, QUEUE):
            self.in_processing.discard(message_id)
            # As authentik does: the lock may have been taken for a row that then did not match.
            await broker.release(self.locks, message_id, QUEUE)
            return None
        claimed = await broker.read_claimed(self.locks, message_id)
        if claimed is None:
            self.in_processing.discard(message_id)
        return claimed

    async def _purge_locks(self) -> None:
        while self.to_unlock:
            await broker.release(self.locks, self.to_unlock.pop(), QUEUE)

    async def _thread(self, conn: psycopg.AsyncConnection) -> None:
        while True:
            task = await self.work.get()
            await self.fleet.execute(conn, task, self)
            # Acked, retried or rejected: no longer ours; the lock goes at the next turn.
            self.in_processing.discard(task.message_id)
            self.to_unlock.add(task.message_id)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat)
            await broker.worker_heartbeat(self.locks, self.worker_id)

    async def _die_when_due(self) -> None:
        assert self.dies_after is not None
        await asyncio.sleep(self.dies_after)
        # Die in the middle of a task, as an OOM-killed container does.
        self.task_started.clear()
        if not self.running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DEATH_GRACE_SECONDS):
                    await self.task_started.wait()
        orphans = sorted(self.running)
        prefetched = sorted(self.in_processing - self.running)
        self.dead = True
        what = f"leaving {', '.join(orphans)} running with no lock" if orphans else "while idle"
        if prefetched:
            what += f" and {', '.join(prefetched)} claimed but not started"
        print(f"worker {self.hostname} died, {what}", flush=True)
        raise _WorkerDied

    async def _close_connections(self) -> None:
        """Closing ends the sessions: the server releases every advisory lock they held."""
        connections, self.connections = self.connections, []
        for conn in connections:
            with contextlib.suppress(Exception):
                await conn.close()


class Workload:
    def __init__(self, config: WorkloadConfig) -> None:
        self.config = config
        self.target = db.Target.resolve(config.dsn)
        self.scenario = Scenario(config.seed, time_scale=config.time_scale)
        self.workers: list[SimulatedWorker] = []
        self._fleet: Fleet | None = None
        # Schedule id -> its spec, when the mirror has schedule tables (else no scheduler runs).
        self.schedules: dict[str, ScheduleSpec] = {}

    @property
    def fleet(self) -> Fleet:
        assert self._fleet is not None, "prepared first"
        return self._fleet

    async def run(self) -> None:
        fleet = self._fleet = await self._prepare()
        rng = random.Random(f"{self.config.seed}:hosts")
        for index in range(self.config.workers):
            older = self.config.workers >= 2 and index == self.config.workers - 1
            replica_set = "5c8b9d7f4" if older else "7d9f8c6b5"
            version = OLDER_VERSION if older else CURRENT_VERSION
            self.workers.append(SimulatedWorker(fleet, worker_hostname(rng, replica_set), version))
        if self.config.die_after is not None:
            hostname = worker_hostname(rng, "7d9f8c6b5")
            self.workers.append(SimulatedWorker(fleet, hostname, CURRENT_VERSION, dies_after=self.config.die_after))
        dying = f" (+1 that dies after {self.config.die_after:g} s)" if self.config.die_after else ""
        print(
            f"workload on {self.target.label}: seed {self.config.seed}, ~{self.config.rate:g} tasks/s,"
            f" {self.config.workers} workers{dying}",
            flush=True,
        )
        try:
            async with asyncio.TaskGroup() as group:
                for worker in self.workers:
                    group.create_task(worker.run())
                group.create_task(self._produce())
                group.create_task(self._report())
                if self.config.parent_pid is not None:
                    group.create_task(self._watch_parent(self.config.parent_pid))
        finally:
            await self._requeue_unfinished()

    async def _prepare(self) -> Fleet:
        conn = await db.connect(self.target)
        try:
            await seed.prepare_installation(conn, self.scenario)
            has_schedules = await seed.seed_schedules(conn, self.scenario)
            if self.config.history and not await seed.has_tasks(conn):
                print(f"seeding {self.config.history} finished tasks…", flush=True)
                await seed.seed_history(conn, self.scenario, self.config.history, hours=self.config.history_hours)
            stuck = await seed.seed_stuck_task(conn, self.scenario) if has_schedules else None
            # Live message ids depend on what is already there: a second run never reuses one.
            self.scenario.id_salt = str(await seed.task_count(conn))
        except psycopg.Error as exc:
            raise db.user_error(exc, self.target) from None
        finally:
            await conn.close()
        fleet = Fleet(self.config, self.scenario, self.target)
        if has_schedules:
            self.schedules = {schedule.id: schedule for schedule in self.scenario.schedules()}
        else:
            print("no schedule table (a mirror from an older tasktui): no scheduled tasks are sent", flush=True)
        if stuck is not None:
            # Whoever claims it hangs in it, this run and the next.
            fleet.plans[stuck.message_id] = stuck.plan
        return fleet

    async def _produce(self) -> None:
        config, scenario, fleet = self.config, self.scenario, self.fleet
        conn = await fleet.connect()
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            active = config.wave_period - config.lull
            # Sends during the active part of each wave, children included, average `rate`.
            event_rate = config.rate * config.wave_period / active / scenario.expected_tasks_per_event()
            next_schedule = start
            next_check = start + REJECTED_CHECK_SECONDS
            stormy = False
            while True:
                now = loop.time()
                if now >= next_schedule:
                    await self._run_scheduler(conn)
                    next_schedule += config.schedule_period
                if now >= next_check:
                    if not await broker.any_rejected(conn):
                        await fleet.send(conn, scenario.rejected_candidate())
                    next_check = now + REJECTED_CHECK_SECONDS
                phase = (now - start) % config.wave_period
                if phase >= active:
                    # The lull: no NOTIFY for a while, so every consumer polls the table.
                    await asyncio.sleep(config.wave_period - phase)
                    continue
                if config.storming(now - start) != stormy:
                    stormy = not stormy
                    if stormy:
                        print(f"storm: {config.storm_factor:g}x the traffic for {config.storm_seconds:g} s", flush=True)
                await asyncio.sleep(scenario.next_gap(event_rate * (config.storm_factor if stormy else 1.0)))
                await fleet.send(conn, scenario.next_event_task())
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _run_scheduler(self, conn: psycopg.AsyncConnection) -> None:
        """One pass of authentik's scheduler over every tenant's schedule table: send what is due
        and not blocked by an unfinished task, then move its next run on (the demo's crontabs
        count scheduler cycles, a minute each by default)."""
        if not self.schedules:
            return
        content_type = self.scenario.content_type_ids[content_type_key(*CONTENT_TYPES["schedule"])]
        for tenant in self.scenario.tenants:
            schema = tenant.spec.schema_name
            for schedule_id in await broker.due_schedules(conn, schema, content_type):
                schedule = self.schedules.get(schedule_id)
                if schedule is None:
                    continue  # not one of the demo's: left to whoever made it
                await self.fleet.send(conn, self.scenario.scheduled_request(schedule))
                await broker.set_next_run(conn, schema, schedule_id, schedule.every * self.config.schedule_period)

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY_SECONDS)
            c = self.fleet.counters
            print(f"sent {c.sent}, done {c.done}, retried {c.retried}, rejected {c.rejected}", flush=True)

    async def _watch_parent(self, parent_pid: int) -> None:
        while True:
            await asyncio.sleep(1.0)
            if os.getppid() != parent_pid:
                raise _ParentGone

    async def _requeue_unfinished(self) -> None:
        """What live workers held but did not finish goes back to the queue, as dramatiq's
        requeue does on shutdown (the dead worker's tasks stay orphaned, as they would)."""
        held = sorted({m for w in self.workers if not w.dead for m in w.in_processing})
        if not held:
            return
        with contextlib.suppress(Exception):
            conn = await self.fleet.connect()
            try:
                await broker.requeue(conn, held)
            finally:
                await conn.close()


def _first_error(group: BaseExceptionGroup) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


async def _main(config: WorkloadConfig) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, task.cancel)
    workload = Workload(config)
    try:
        await workload.run()
    except asyncio.CancelledError:
        print("workload stopped", flush=True)
        return 0
    except BaseExceptionGroup as group:
        error = _first_error(group)
        if isinstance(error, _ParentGone):
            print("workload stopped: the demo that started it is gone", flush=True)
            return 0
        raise error from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tasktui.demo.workload",
        description="Simulated authentik workers and traffic on tasktui's mirror of the task tables.",
    )
    parser.add_argument("--dsn", help="libpq connection string or URL (default: $DATABASE_URL, else PG* variables)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--rate", type=positive(float), default=6.0, help="new tasks per second (default: 6)")
    parser.add_argument("--workers", type=positive(int), default=3, help="live workers (default: 3)")
    parser.add_argument(
        "--history", type=int, default=3000, help="finished tasks to seed into an empty table (default: 3000)"
    )
    parser.add_argument("--heartbeat", type=positive(float), default=30.0, help="seconds between heartbeats")
    parser.add_argument(
        "--listen-timeout", type=positive(float), default=5.0, help="seconds a consumer waits for a NOTIFY"
    )
    parser.add_argument("--wave-period", type=positive(float), default=30.0, help="seconds per traffic wave")
    parser.add_argument("--schedule-period", type=positive(float), default=60.0, help="seconds per scheduler cycle")
    parser.add_argument(
        "--die-after", type=float, default=75.0, help="seconds until the extra worker dies (0: none dies)"
    )
    parser.add_argument(
        "--time-scale", type=positive(float), default=1.0, help="multiplies task durations and retry backoff"
    )
    parser.add_argument(
        "--storm-period", type=float, default=240.0, help="seconds between traffic storms, the first at half (0: none)"
    )
    parser.add_argument("--storm-seconds", type=positive(float), default=60.0, help="how long a storm lasts")
    parser.add_argument("--storm-factor", type=positive(float), default=4.0, help="a storm's rate, times --rate")
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = WorkloadConfig(
        dsn=args.dsn,
        seed=args.seed,
        rate=args.rate,
        workers=args.workers,
        history=max(0, args.history),
        heartbeat=args.heartbeat,
        listen_timeout=args.listen_timeout,
        wave_period=args.wave_period,
        schedule_period=args.schedule_period,
        die_after=args.die_after if args.die_after > 0 else None,
        time_scale=args.time_scale,
        storm_period=max(0.0, args.storm_period),
        storm_seconds=args.storm_seconds,
        storm_factor=args.storm_factor,
        parent_pid=args.parent_pid,
    )
    try:
        return asyncio.run(_main(config))
    except KeyboardInterrupt:
        return 0
    except UserFacingError as exc:
        print(f"workload: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except psycopg.Error as exc:
        print(f"workload: error: {db.user_error(exc, db.Target.resolve(config.dsn))}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:
        if os.environ.get("TASKTUI_DEBUG"):
            raise
        message = db.redact(" ".join(str(exc).split()), config.dsn or "")
        print(f"workload: unexpected error: {type(exc).__name__}: {message}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
