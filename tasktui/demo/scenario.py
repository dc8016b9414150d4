"""What the demo's simulated authentik runs: its tenants and related objects, and the plan of
every task — how long each attempt takes, what it logs, how it ends — drawn from the catalogue
(tasktui.demo.catalogue: actors, failures, tenants).

Everything here is plain data and `random.Random` draws, so a seed gives the same installation,
the same history and the same stream of tasks; which worker runs what is left to timing. The
numbers are made up but plausible for a mid-sized installation.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from tasktui.demo.catalogue import (
    ACTORS,
    ACTORS_BY_NAME,
    CONTENT_TYPES,
    DOOMED,
    ERROR_LOG,
    HOSTILE,
    HOSTILE_TEXT,
    KIND_WEIGHTS,
    MAX_BACKOFF_MS,
    MAX_RETRIES,
    MIN_BACKOFF_MS,
    OK,
    PAUSED_SCHEDULE,
    PERMANENT,
    SHOWCASE,
    STUCK_SCHEDULE,
    TENANT_WEIGHTS,
    TENANTS,
    TRANSIENT,
    WARNING,
    Actor,
    Failure,
    TenantSpec,
)


@dataclass(frozen=True)
class RelatedObject:
    kind: str
    object_id: str
    slug: str


@dataclass
class TenantWorld:
    """A tenant as it exists in the database, with its objects' ids."""

    tenant_uuid: uuid.UUID
    spec: TenantSpec
    objects: dict[str, list[RelatedObject]] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedLog:
    at: float  # when, as a fraction of the attempt's duration
    level: str
    event: str
    attributes: dict


@dataclass(frozen=True)
class Attempt:
    duration: float  # seconds of actor time
    logs: tuple[PlannedLog, ...]
    failure: Failure | None = None
    failure_text: str = ""
    # After its logs, the actor never returns (a socket read with no timeout): the task stays
    # running, its worker holds the lock, and its schedule is skipped for as long as it hangs.
    hangs: bool = False


@dataclass(frozen=True)
class TaskPlan:
    actor: Actor
    kind: str
    attempts: tuple[Attempt, ...]
    spawn_seed: int  # children are derived from it, when the successful attempt runs

    def attempt(self, retries: int) -> Attempt:
        """The attempt a message with `retries` runs; beyond the plan, the last one repeats."""
        return self.attempts[min(retries, len(self.attempts) - 1)]


@dataclass(frozen=True)
class TaskRequest:
    """A message to send: which actor, for which tenant and object, and what it will do."""

    message_id: str
    actor: Actor
    tenant: TenantWorld
    uid: str | None
    rel_obj: tuple[str, str] | None  # (content type key "app_label.model", object id)
    plan: TaskPlan


@dataclass(frozen=True)
class ScheduleSpec:
    """One row of a tenant's schedule table: an actor sent every `every` scheduler cycles (a
    minute each by default, hence the crontab), for one related object or for the tenant."""

    id: str
    tenant: TenantWorld
    actor: Actor
    obj: RelatedObject | None
    every: int
    paused: bool = False
    stuck: bool = False

    @property
    def uid(self) -> str | None:
        return self.obj.slug if self.obj is not None else None

    @property
    def crontab(self) -> str:
        return "* * * * *" if self.every == 1 else f"*/{self.every} * * * *"


def schedule_id(tenant_uuid: uuid.UUID, actor_name: str, uid: str | None) -> str:
    """A schedule's stable id: its tasks' rel_obj_id, in history and live alike."""
    return str(uuid.uuid5(tenant_uuid, f"{actor_name}:{uid or ''}"))


def content_type_key(app_label: str, model: str) -> str:
    return f"{app_label}.{model}"


def random_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


_FIRST = ("anna", "ben", "chloe", "dmitri", "elena", "farid", "grace", "hiro", "ines", "jonas", "kim", "lena")
_LAST = ("schmidt", "okafor", "tanaka", "novak", "garcia", "muller", "dubois", "ivanova", "rossi", "berg")


def _values(rng: random.Random, slug: str) -> dict[str, object]:
    """The made-up facts one task talks about (the same person in every line of it)."""
    person = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}"
    return {
        "slug": slug,
        "email": f"{person}@example.com",
        "dn": f"cn={person},ou=people,dc=corp,dc=example,dc=com",
        "users": rng.randint(20, 900),
        "groups": rng.randint(2, 80),
        "count": rng.randint(1, 40),
        "replicas": rng.randint(1, 3),
        "pages": rng.randint(2, 9),
        "status": rng.choice((200, 200, 200, 202, 204)),
        "version": "2026.5.1",
    }


def _render(template: str, values: dict[str, object]) -> tuple[str, dict]:
    """A log text from a template, and the values it used as the log's attributes (as
    Task.info(msg, **attrs) stores them)."""
    used = {name: value for name, value in values.items() if "{" + name + "}" in template}
    text = template
    for name, value in used.items():
        text = text.replace("{" + name + "}", str(value))
    return text, {name: value for name, value in used.items() if name != "slug"}


def _duration(rng: random.Random, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return low * (high / low) ** rng.random()


class Scenario:
    """The deterministic source of everything the demo does, for one seed."""

    def __init__(self, seed: int, *, time_scale: float = 1.0) -> None:
        self.seed = seed
        self.time_scale = time_scale
        self._live = random.Random(f"{seed}:live")
        self._showcase = list(SHOWCASE)
        self._event_actors = [a for a in ACTORS if a.weight > 0]
        self._event_weights = [a.weight for a in self._event_actors]
        # Mixed into live message ids, so a second run on the same tables never reuses one.
        self.id_salt = ""
        self.tenants: list[TenantWorld] = []
        # "app_label.model" -> django_content_type.id, once the installation is in the database.
        self.content_type_ids: dict[str, int] = {}
        self._history_weights = {a.name: self._history_weight(a) for a in ACTORS}

    # The installation -----------------------------------------------------------------------

    def tenant_uuid(self, spec: TenantSpec) -> uuid.UUID:
        return random_uuid(random.Random(f"{self.seed}:tenant:{spec.schema_name}"))

    def build_tenants(self, tenant_uuids: dict[str, uuid.UUID] | None = None) -> None:
        """Attach the database's tenant ids (by default the seed's own) and give every object a
        stable primary key."""
        rng = random.Random(f"{self.seed}:objects")
        self.tenants = []
        for spec in TENANTS:
            tenant_uuid = tenant_uuids[spec.schema_name] if tenant_uuids else self.tenant_uuid(spec)
            world = TenantWorld(tenant_uuid, spec)
            for kind, slugs in spec.objects.items():
                objects = []
                for slug in slugs:
                    # SCIM providers are Provider subclasses with integer keys; the rest use UUIDs.
                    pk = str(rng.randint(1, 60)) if kind == "scim_provider" else str(random_uuid(rng))
                    objects.append(RelatedObject(kind, pk, slug))
                world.objects[kind] = objects
            self.tenants.append(world)

    def expected_tasks_per_event(self) -> float:
        """Messages one event-driven send leads to, children included (to hold the set rate)."""
        total = sum(w * self._expected_family(a) for a, w in zip(self._event_actors, self._event_weights, strict=True))
        return total / sum(self._event_weights)

    def _expected_family(self, actor: Actor, depth: int = 0) -> float:
        if depth > 4:
            return 1.0
        children = sum(
            s.chance * (s.count[0] + s.count[1]) / 2 * self._expected_family(ACTORS_BY_NAME[s.actor], depth + 1)
            for s in actor.spawns
        )
        return 1.0 + children

    # Plans -----------------------------------------------------------------------------------

    def _draw_kind(self, rng: random.Random, actor: Actor) -> str:
        kinds = [k for k in KIND_WEIGHTS if actor.supports(k)]
        return rng.choices(kinds, weights=[KIND_WEIGHTS[k] for k in kinds])[0]

    def plan(self, rng: random.Random, actor: Actor, kind: str, slug: str) -> TaskPlan:
        """The attempts of one task of `actor` that ends as `kind` says."""
        transient = [f for f in actor.failures if not f.permanent]
        permanent = [f for f in actor.failures if f.permanent]
        if kind == TRANSIENT:
            failures: list[Failure | None] = [rng.choice(transient)] * rng.randint(1, 2) + [None]
        elif kind == DOOMED:
            failures = [rng.choice(actor.failures)] * (MAX_RETRIES + 1)
        elif kind == PERMANENT:
            failures = [rng.choice(permanent)]
        else:
            failures = [None]
        values = _values(rng, slug)
        attempts = tuple(self._attempt(rng, actor, kind, values, failure) for failure in failures)
        return TaskPlan(actor, kind, attempts, rng.getrandbits(32))

    def _attempt(
        self, rng: random.Random, actor: Actor, kind: str, values: dict[str, object], failure: Failure | None
    ) -> Attempt:
        duration = _duration(rng, actor.duration) * self.time_scale
        lines: list[tuple[str, str]] = [("info", t) for t in actor.info]
        if failure is None and kind == WARNING:
            lines.insert(rng.randint(min(1, len(lines)), len(lines)), ("warning", rng.choice(actor.warnings)))
        if failure is None and kind == ERROR_LOG:
            lines.append(("error", actor.failures[0].message))
        if failure is None and kind == HOSTILE and actor.hostile:
            lines.insert(rng.randint(0, len(lines)), ("info", actor.hostile))
        if failure is not None:
            # The actor gets partway through its work before it raises.
            lines = lines[: rng.randint(0, len(lines))]
        logs = []
        for index, (level, template) in enumerate(lines):
            text, attributes = _render(template, values)
            if HOSTILE_TEXT in text:
                attributes["response"] = HOSTILE_TEXT
            logs.append(PlannedLog((index + 0.5) / (len(lines) + 0.5), level, text, attributes))
        failure_text = _render(failure.message, values)[0] if failure else ""
        return Attempt(duration, tuple(logs), failure, failure_text)

    def plan_unplanned(self, message_id: str, actor_name: str, retries: int, slug: str) -> TaskPlan:
        """A message no plan was made for: sent by a manual retry from the console, or left from an
        earlier run. Half of the retried ones fail again, so rejected tasks stay around."""
        rng = random.Random(f"{self.seed}:unplanned:{message_id}:{retries}")
        actor = ACTORS_BY_NAME.get(actor_name) or Actor(actor_name, weight=0, duration=(0.1, 1.0))
        kind = DOOMED if actor.failures and rng.random() < 0.5 else OK
        return self.plan(rng, actor, kind, slug)

    # Live traffic ------------------------------------------------------------------------------

    def _message_id(self, rng: random.Random) -> str:
        value = random_uuid(rng)
        return str(uuid.uuid5(value, self.id_salt) if self.id_salt else value)

    def _request(
        self,
        rng: random.Random,
        actor: Actor,
        tenant: TenantWorld,
        kind: str | None,
        *,
        scheduled: bool = False,
        obj: RelatedObject | None = None,
    ) -> TaskRequest:
        message_id = self._message_id(rng)
        if obj is None and actor.related is not None:
            obj = rng.choice(tenant.objects[actor.related])
        uid = obj.slug if obj is not None else None
        kind = kind or self._draw_kind(rng, actor)
        plan = self.plan(rng, actor, kind, uid or tenant.spec.schema_name)
        if scheduled:
            # A scheduler-sent task relates to its schedule; the uid comes from the schedule options.
            rel_obj = (content_type_key(*CONTENT_TYPES["schedule"]), schedule_id(tenant.tenant_uuid, actor.name, uid))
        elif obj is not None:
            rel_obj = (content_type_key(*CONTENT_TYPES[obj.kind]), obj.object_id)
        else:
            rel_obj = None
        return TaskRequest(message_id, actor, tenant, uid, rel_obj, plan)

    def _tenant(self, rng: random.Random) -> TenantWorld:
        return rng.choices(self.tenants, weights=TENANT_WEIGHTS)[0]

    def next_gap(self, rate: float) -> float:
        """Seconds until the next event-driven send (a Poisson stream at `rate` per second)."""
        return self._live.expovariate(rate)

    def next_event_task(self) -> TaskRequest:
        """The next event-driven message; the first few walk through every outcome."""
        rng = self._live
        kind = self._showcase.pop(0) if self._showcase else None
        candidates = [a for a in self._event_actors if kind is None or a.supports(kind)]
        weights = [a.weight for a in candidates]
        actor = rng.choices(candidates, weights=weights)[0]
        return self._request(rng, actor, self._tenant(rng), kind)

    def rejected_candidate(self) -> TaskRequest:
        """A message that will be rejected at once, so there is always one to retry by hand."""
        rng = self._live
        actors = [a for a in self._event_actors if a.supports(PERMANENT)]
        return self._request(rng, rng.choice(actors), self._tenant(rng), PERMANENT)

    def schedules(self) -> list[ScheduleSpec]:
        """Every schedule of every tenant: one per related object of a scheduled actor (a sync
        per source), else one per tenant; global ones in the default tenant only."""
        specs = []
        for tenant in self.tenants:
            for actor in ACTORS:
                if not actor.schedule_every or (actor.global_only and tenant.spec.schema_name != "public"):
                    continue
                for obj in tenant.objects[actor.related] if actor.related else [None]:
                    key = (tenant.spec.schema_name, actor.name, obj.slug if obj else None)
                    specs.append(
                        ScheduleSpec(
                            schedule_id(tenant.tenant_uuid, actor.name, key[2]),
                            tenant,
                            actor,
                            obj,
                            actor.schedule_every,
                            paused=key == PAUSED_SCHEDULE,
                            stuck=key == STUCK_SCHEDULE,
                        )
                    )
        return specs

    def scheduled_request(self, schedule: ScheduleSpec) -> TaskRequest:
        """The message the scheduler sends for a due schedule."""
        return self._request(self._live, schedule.actor, schedule.tenant, None, scheduled=True, obj=schedule.obj)

    def stuck_request(self) -> TaskRequest:
        """The stuck schedule's task: sent before the demo started, it hangs in the actor."""
        tenant = next(t for t in self.tenants if t.spec.schema_name == STUCK_SCHEDULE[0])
        actor = ACTORS_BY_NAME[STUCK_SCHEDULE[1]]
        obj = next(o for o in tenant.objects[actor.related or ""] if o.slug == STUCK_SCHEDULE[2])
        rng = random.Random(f"{self.seed}:stuck")
        request = self._request(rng, actor, tenant, OK, scheduled=True, obj=obj)
        first = request.plan.attempts[0]
        hung = Attempt(first.duration, first.logs[:1], hangs=True)
        return replace(request, message_id=str(random_uuid(rng)), plan=replace(request.plan, attempts=(hung,)))

    def children(self, parent_id: str, plan: TaskPlan, tenant: TenantWorld, execution: int) -> list[TaskRequest]:
        """The messages a successful attempt sends (fan-out and paging), derived from the parent
        and from which execution of it this is (an orphan that runs again sends new messages)."""
        rng = random.Random(f"{self.seed}:children:{parent_id}:{plan.spawn_seed}:{execution}")
        requests = []
        for spawn in plan.actor.spawns:
            if rng.random() >= spawn.chance:
                continue
            for _ in range(rng.randint(*spawn.count)):
                requests.append(self._request(rng, ACTORS_BY_NAME[spawn.actor], tenant, None))
        return requests

    # History ---------------------------------------------------------------------------------

    def history_requests(self, count: int) -> Iterator[TaskRequest]:
        """`count` finished tasks' worth of requests, mixed as the live traffic is."""
        rng = random.Random(f"{self.seed}:history")
        actors = list(ACTORS)
        weights = [self._history_weights[a.name] for a in actors]
        for _ in range(count):
            actor = rng.choices(actors, weights=weights)[0]
            tenant = self.tenants[0] if actor.global_only else self._tenant(rng)
            scheduled_share = self._scheduled_weight(actor) / self._history_weights[actor.name]
            request = self._request(rng, actor, tenant, None, scheduled=rng.random() < scheduled_share)
            if request.rel_obj is not None and request.rel_obj[1] == self._stuck_schedule_id():
                # The stuck schedule sent nothing since its task hung: this one was a manual sync.
                assert request.uid is not None
                obj = next(o for o in tenant.objects[actor.related or ""] if o.slug == request.uid)
                request = replace(request, rel_obj=(content_type_key(*CONTENT_TYPES[obj.kind]), obj.object_id))
            yield request

    def _stuck_schedule_id(self) -> str:
        tenant = next(t for t in self.tenants if t.spec.schema_name == STUCK_SCHEDULE[0])
        return schedule_id(tenant.tenant_uuid, STUCK_SCHEDULE[1], STUCK_SCHEDULE[2])

    @staticmethod
    def _scheduled_weight(actor: Actor) -> float:
        return 0.5 / actor.schedule_every if actor.schedule_every else 0.0

    def _history_weight(self, actor: Actor) -> float:
        """How often an actor runs, counting sends by other actors and by the scheduler."""
        weight = actor.weight + self._scheduled_weight(actor)
        for parent in ACTORS:
            for spawn in parent.spawns:
                if spawn.actor == actor.name:
                    weight += self._history_weight(parent) * spawn.chance * sum(spawn.count) / 2
        return weight


def worker_hostname(rng: random.Random, replica_set: str) -> str:
    """A Kubernetes pod name, as socket.gethostname() returns it in a worker container."""
    suffix = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    return f"authentik-worker-{replica_set}-{suffix}"


def backoff_ms(rng: random.Random, retries: int, time_scale: float) -> int:
    """dramatiq's Retries backoff: min_backoff * 2^retries, capped, with 50 % jitter."""
    backoff = min(MIN_BACKOFF_MS * 2**retries, MAX_BACKOFF_MS) / 2
    return max(1, int((backoff + rng.uniform(0, backoff)) * time_scale))
