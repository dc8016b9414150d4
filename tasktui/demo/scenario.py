"""What the demo's simulated authentik runs: tenants, related objects, actors, and the plan of
every task — how long each attempt takes, what it logs, how it ends.

Everything here is plain data and `random.Random` draws, so a seed gives the same installation,
the same history and the same stream of tasks; which worker runs what is left to timing.
Actor names, log texts and exceptions follow authentik 2025.10+ (reference §4); the numbers are
made up but plausible for a mid-sized installation.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

CURRENT_VERSION = "2026.5.0"
# One worker lags a release behind, as during a rolling upgrade.
OLDER_VERSION = "2026.2.3"

# authentik's worker.task_max_retries and dramatiq's backoff bounds (reference §3).
MAX_RETRIES = 5
MIN_BACKOFF_MS = 15_000
MAX_BACKOFF_MS = 3_600_000

QUEUE = "default"

# Text a console must show literally: Rich markup, an SGR colour and an OSC title sequence.
HOSTILE_TEXT = "[bold red]fake[/] \x1b[31mred\x1b[0m \x1b]0;title\x07"

# Outcome kinds of a task (what its attempts do).
OK = "ok"
WARNING = "warning"  # finishes done but logged a warning: effective status "warning"
ERROR_LOG = "error_log"  # finishes done but logged an error without raising
TRANSIENT = "transient"  # raises once or twice, retried with an eta, then succeeds
DOOMED = "doomed"  # raises on every attempt: rejected once the retries are exhausted
PERMANENT = "permanent"  # raises an exception in the actor's `throws`: rejected at once
HOSTILE = "hostile"  # logs text full of markup and escape sequences

# How often each kind is drawn, when the actor can produce it.
KIND_WEIGHTS = {
    OK: 0.855,
    WARNING: 0.05,
    ERROR_LOG: 0.008,
    TRANSIENT: 0.05,
    DOOMED: 0.009,
    PERMANENT: 0.008,
    HOSTILE: 0.02,
}

# The first live tasks show every path at once, so a fresh console has something to explain.
SHOWCASE = (WARNING, TRANSIENT, PERMANENT, HOSTILE, ERROR_LOG, DOOMED, WARNING, TRANSIENT)

# Content types of the objects tasks relate to (django_content_type app_label, model).
CONTENT_TYPES = {
    "ldap_source": ("authentik_sources_ldap", "ldapsource"),
    "outpost": ("authentik_outposts", "outpost"),
    "scim_provider": ("authentik_providers_scim", "scimprovider"),
    "transport": ("authentik_events", "notificationtransport"),
    "rule": ("authentik_events", "notificationrule"),
    "blueprint": ("authentik_blueprints", "blueprintinstance"),
    "schedule": ("authentik_tasks_schedules", "schedule"),
}
# Present in every installation, linked to nothing here.
OTHER_CONTENT_TYPES = (
    ("authentik_core", "user"),
    ("authentik_core", "group"),
    ("authentik_core", "application"),
    ("authentik_events", "event"),
    ("authentik_tenants", "tenant"),
)


@dataclass(frozen=True)
class Failure:
    """An exception an actor raises: its type, message and the frames structlog records."""

    exc_type: str
    message: str
    frames: tuple[tuple[str, int, str], ...]
    # Listed in the actor's `throws`: dramatiq fails the message at once instead of retrying.
    permanent: bool = False

    def frame_dicts(self) -> list[dict]:
        return [{"filename": f, "lineno": n, "name": name, "locals": None} for f, n, name in self.frames]


@dataclass(frozen=True)
class Spawn:
    """Messages an actor sends while it runs (a dispatcher fanning out, a sync paging)."""

    actor: str
    count: tuple[int, int]
    chance: float = 1.0


@dataclass(frozen=True)
class Actor:
    name: str
    weight: float  # share of the event-driven traffic (0: only scheduled or spawned)
    duration: tuple[float, float]  # seconds, drawn log-uniformly
    related: str | None = None  # kind of object its tasks relate to (rel_obj, uid = its slug)
    info: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    failures: tuple[Failure, ...] = ()
    hostile: str | None = None  # a log line that carries HOSTILE_TEXT
    spawns: tuple[Spawn, ...] = ()
    schedule_every: int = 0  # scheduler cycles between runs (0: not scheduled)
    global_only: bool = False  # a global schedule, only in the default tenant

    def supports(self, kind: str) -> bool:
        if kind == WARNING:
            return bool(self.warnings)
        if kind in (ERROR_LOG, DOOMED):
            return bool(self.failures)
        if kind == TRANSIENT:
            return any(not f.permanent for f in self.failures)
        if kind == PERMANENT:
            return any(f.permanent for f in self.failures)
        if kind == HOSTILE:
            return self.hostile is not None
        return True


def _frames(*frames: tuple[str, int, str]) -> tuple[tuple[str, int, str], ...]:
    return (("/authentik/tasks/middleware.py", 212, "process"), *frames)


_LDAP_DOWN = Failure(
    "ldap3.core.exceptions.LDAPSocketOpenError",
    "socket connection error while opening: [Errno 111] Connection refused",
    _frames(("/authentik/sources/ldap/sync/base.py", 61, "search_paginator"), ("/ldap3/strategy/base.py", 329, "open")),
)
_LDAP_CREDENTIALS = Failure(
    "ldap3.core.exceptions.LDAPInvalidCredentialsResult",
    "LDAPInvalidCredentialsResult - 49 - invalidCredentials - None - 80090308: LdapErr: DSID-0C09044E,"
    " comment: AcceptSecurityContext error, data 52e, v4563 - bindResponse - None",
    _frames(("/authentik/sources/ldap/models.py", 245, "connection"), ("/ldap3/core/connection.py", 620, "bind")),
)
_WEBHOOK_TIMEOUT = Failure(
    "requests.exceptions.ConnectTimeout",
    "HTTPSConnectionPool(host='hooks.slack.com', port=443): Max retries exceeded with url: /services/T0/B0/X"
    " (Caused by ConnectTimeoutError(<urllib3.connection.HTTPSConnection object at 0x7f3a1c2b9d50>,"
    " 'Connection to hooks.slack.com timed out. (connect timeout=4)'))",
    _frames(("/authentik/events/models.py", 402, "send_webhook"), ("/requests/adapters.py", 688, "send")),
)
_WEBHOOK_REJECTED = Failure(
    "authentik.events.models.NotificationTransportError",
    '404 Client Error: Not Found for url: https://chat.example.com/hooks/ops — {"error": "no_service"}',
    _frames(("/authentik/events/models.py", 411, "send_webhook")),
    permanent=True,
)
_SMTP_DISCONNECTED = Failure(
    "smtplib.SMTPServerDisconnected",
    "Connection unexpectedly closed",
    _frames(("/authentik/stages/email/tasks.py", 98, "send_mail"), ("/usr/lib/python3.13/smtplib.py", 405, "getreply")),
)
_SMTP_REFUSED = Failure(
    "smtplib.SMTPRecipientsRefused",
    "{'{email}': (550, b'5.1.1 <{email}>: Recipient address rejected: User unknown in virtual mailbox table')}",
    _frames(("/authentik/stages/email/tasks.py", 98, "send_mail"), ("/usr/lib/python3.13/smtplib.py", 886, "sendmail")),
    permanent=True,
)
_DOCKER_DOWN = Failure(
    "authentik.outposts.controllers.base.ControllerException",
    "Failed to connect to Docker: Error while fetching server API version:"
    " ('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))",
    _frames(("/authentik/outposts/controllers/docker.py", 118, "up"), ("/docker/api/client.py", 221, "_retrieve")),
)
_SCIM_UNAVAILABLE = Failure(
    "authentik.lib.sync.outgoing.exceptions.TransientSyncException",
    "Failed to send request: 503 Server Error: Service Unavailable for url: https://api.slack.com/scim/v2/Users",
    _frames(
        ("/authentik/lib/sync/outgoing/tasks.py", 147, "sync_objects"),
        ("/authentik/providers/scim/clients/base.py", 92, "_request"),
    ),
)
_SCIM_UNAUTHORIZED = Failure(
    "authentik.lib.sync.outgoing.exceptions.StopSync",
    "Provider {slug} is misconfigured: 401 Client Error: Unauthorized (invalid bearer token)",
    _frames(
        ("/authentik/lib/sync/outgoing/tasks.py", 102, "sync"),
        ("/authentik/providers/scim/clients/base.py", 96, "_request"),
    ),
    permanent=True,
)
_BLUEPRINT_INVALID = Failure(
    "authentik.blueprints.v1.importer.EntryInvalidError",
    "Serializer errors {'slug': [ErrorDetail(string='flow with this slug already exists.', code='unique')]}",
    _frames(
        ("/authentik/blueprints/v1/importer.py", 366, "_apply_models"),
        ("/authentik/blueprints/v1/tasks.py", 205, "apply_blueprint"),
    ),
)
_VERSION_TIMEOUT = Failure(
    "requests.exceptions.ReadTimeout",
    "HTTPSConnectionPool(host='version.goauthentik.io', port=443): Read timed out. (read timeout=10)",
    _frames(("/authentik/admin/tasks.py", 58, "update_latest_version"), ("/requests/adapters.py", 713, "send")),
)

ACTORS: tuple[Actor, ...] = (
    Actor(
        "authentik.events.tasks.event_trigger_dispatch",
        weight=30,
        duration=(0.02, 0.12),
        spawns=(Spawn("authentik.events.tasks.event_trigger_handler", (1, 2), chance=0.6),),
    ),
    Actor(
        "authentik.events.tasks.event_trigger_handler",
        weight=0,
        duration=(0.03, 0.2),
        related="rule",
        spawns=(Spawn("authentik.events.tasks.notification_transport", (1, 1), chance=0.4),),
    ),
    Actor(
        "authentik.events.tasks.notification_transport",
        weight=3,
        duration=(0.15, 1.5),
        related="transport",
        info=("Sending notification via webhook to chat.example.com", "Webhook returned HTTP {status}"),
        warnings=("Notification not sent: user {email} has no email address",),
        failures=(_WEBHOOK_TIMEOUT, _WEBHOOK_REJECTED),
        hostile="Webhook response body: " + HOSTILE_TEXT,
    ),
    Actor(
        "authentik.stages.email.tasks.send_mail",
        weight=12,
        duration=(0.3, 1.8),
        info=("Sending email to {email}", "Email to {email} sent"),
        warnings=("Email to {email} sent, but the server reported a deferral: 451 4.7.1 try again later",),
        failures=(_SMTP_DISCONNECTED, _SMTP_REFUSED),
        hostile="Email subject rendered as: " + HOSTILE_TEXT,
    ),
    Actor(
        "authentik.outposts.tasks.outpost_send_update",
        weight=14,
        duration=(0.02, 0.15),
        related="outpost",
    ),
    Actor(
        "authentik.outposts.tasks.outpost_controller",
        weight=3,
        duration=(0.8, 4.0),
        related="outpost",
        info=("Reconciling deployment {slug}", "Reconciling service {slug}", "Outpost {slug} is up to date"),
        warnings=("Deployment {slug} has {replicas} unavailable replicas",),
        failures=(_DOCKER_DOWN,),
        schedule_every=3,
    ),
    Actor(
        "authentik.sources.ldap.tasks.ldap_sync",
        weight=0.5,
        duration=(2.0, 9.0),
        related="ldap_source",
        info=("Starting sync of LDAP source {slug}", "Syncing {pages} pages of users and groups"),
        warnings=("LDAP source {slug}: {count} objects have no objectSid, skipping them",),
        failures=(_LDAP_DOWN, _LDAP_CREDENTIALS),
        spawns=(Spawn("authentik.sources.ldap.tasks.ldap_sync_page", (2, 5)),),
        schedule_every=4,
    ),
    Actor(
        "authentik.sources.ldap.tasks.ldap_sync_page",
        weight=0,
        duration=(0.3, 2.5),
        related="ldap_source",
        info=("Synced {users} users", "Synced {groups} groups", "Synced {count} memberships"),
        warnings=("Failed to sync user {dn}: 'mail' attribute is empty",),
        failures=(_LDAP_DOWN,),
    ),
    Actor(
        "authentik.blueprints.v1.tasks.apply_blueprint",
        weight=2,
        duration=(0.4, 3.0),
        related="blueprint",
        info=("Applying blueprint {slug}", "Blueprint {slug} applied, {count} entries unchanged"),
        warnings=("Blueprint {slug}: entry {count} references a model that is not installed, skipping",),
        failures=(_BLUEPRINT_INVALID,),
    ),
    Actor(
        "authentik.blueprints.v1.tasks.blueprints_discovery",
        weight=0,
        duration=(0.2, 1.0),
        info=("Discovered {count} blueprints",),
        schedule_every=4,
        global_only=True,
    ),
    Actor(
        "authentik.providers.scim.tasks.scim_sync",
        weight=1,
        duration=(1.0, 6.0),
        related="scim_provider",
        info=("Starting full provider sync", "Synced {users} users", "Synced {groups} groups"),
        warnings=("Failed to sync user {email}: 409 Conflict, the user already exists on the remote",),
        failures=(_SCIM_UNAVAILABLE, _SCIM_UNAUTHORIZED),
        schedule_every=3,
    ),
    Actor(
        "authentik.core.tasks.clean_expired_models",
        weight=0,
        duration=(0.2, 1.2),
        info=("Expired {count} authentik_core.authenticatedsession", "Expired {groups} authentik_core.token"),
        schedule_every=2,
    ),
    Actor(
        "authentik.core.tasks.clean_temporary_users",
        weight=0,
        duration=(0.1, 0.6),
        info=("Deleted {count} temporary users",),
        schedule_every=5,
    ),
    Actor(
        "authentik.tasks.tasks.clean_worker_statuses",
        weight=0,
        duration=(0.05, 0.3),
        info=("Deleted {count} stale worker statuses",),
        schedule_every=5,
        global_only=True,
    ),
    Actor(
        "authentik.admin.tasks.update_latest_version",
        weight=0,
        duration=(0.3, 2.0),
        info=("Latest version is {version}",),
        warnings=("Failed to get latest version: {status} from version.goauthentik.io",),
        failures=(_VERSION_TIMEOUT,),
        schedule_every=6,
        global_only=True,
    ),
    Actor(
        "authentik.crypto.tasks.certificate_discovery",
        weight=0,
        duration=(0.1, 0.8),
        info=("Discovered {count} certificates in /certs",),
        warnings=("Failed to load certificate /certs/{slug}.pem: PEM data is missing a private key",),
        schedule_every=4,
        global_only=True,
    ),
    Actor(
        "authentik.enterprise.tasks.enterprise_update_usage",
        weight=0,
        duration=(0.1, 0.5),
        schedule_every=6,
    ),
)
ACTORS_BY_NAME = {a.name: a for a in ACTORS}


@dataclass(frozen=True)
class TenantSpec:
    """A tenant and the objects in it that tasks relate to (kind -> slugs)."""

    schema_name: str
    name: str
    objects: dict[str, tuple[str, ...]]


TENANTS = (
    TenantSpec(
        "public",
        "Default",
        {
            "ldap_source": ("corp-ad", "partners-ldap"),
            "outpost": ("authentik-embedded-outpost", "ldap-outpost", "proxy-dmz"),
            "scim_provider": ("slack-scim", "github-enterprise"),
            "transport": ("ops-webhook", "email-admins"),
            "rule": ("default-notify-configuration-error", "default-notify-exception", "suspicious-logins"),
            "blueprint": ("default-flow-authentication", "default-flow-password-change", "system-providers"),
        },
    ),
    TenantSpec(
        "t_acme",
        "ACME",
        {
            "ldap_source": ("acme-ldap",),
            "outpost": ("acme-proxy",),
            "scim_provider": ("acme-github",),
            "transport": ("acme-teams",),
            "rule": ("acme-notify-exception",),
            "blueprint": ("acme-flow-enrollment",),
        },
    ),
)
# The default tenant carries most of the traffic.
TENANT_WEIGHTS = (3.0, 1.0)

# The schedule whose task hangs (so authentik's scheduler skips it for good), and one paused
# schedule: (tenant schema, actor, uid).
STUCK_SCHEDULE = ("public", "authentik.sources.ldap.tasks.ldap_sync", "partners-ldap")
PAUSED_SCHEDULE = ("t_acme", "authentik.enterprise.tasks.enterprise_update_usage", None)
# The stuck task was sent this long before the demo starts; its schedule came due again a
# schedule period later and has been skipped since.
STUCK_SENT_MINUTES_AGO = 29


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
