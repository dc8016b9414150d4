"""What the demo's simulated authentik has: its release, retry bounds and queue, the kinds of
outcome a task can have, the content types tasks relate to, every actor (what it logs, how it
fails, what it spawns) and the tenants with their objects. Plain data; tasktui.demo.scenario draws
from it. Actor names, log texts and exceptions follow authentik 2025.10+ (reference §4).
"""

from __future__ import annotations

from dataclasses import dataclass

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
