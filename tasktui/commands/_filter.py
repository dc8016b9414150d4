"""The filter options of the commands that act on what a filter matches (`retry --filter`,
`export`): the console's search and facets, as command-line options. One definition."""

from __future__ import annotations

import argparse

from tasktui.core.filters import TaskFilter
from tasktui.core.status import STATUSES


def add_filter_options(group: argparse._ArgumentGroup, *, statuses: bool) -> None:
    group.add_argument("--text", default="", help="substring of the actor name, uid or message id (the console's /)")
    group.add_argument(
        "--actor",
        action="append",
        default=[],
        help="exact actor name, e.g. authentik.sources.ldap.tasks.ldap_sync (repeatable; unlike --text,"
        " it never matches ldap_sync_page)",
    )
    if statuses:
        group.add_argument(
            "--status",
            action="append",
            default=[],
            choices=sorted(STATUSES),
            metavar="STATUS",
            help=f"status as the console shows it (repeatable): {', '.join(sorted(STATUSES))}",
        )
    group.add_argument("--queue", action="append", default=[], help="queue name (repeatable)")
    group.add_argument("--tenant", action="append", default=[], help="tenant name or id (repeatable)")
    group.add_argument("--related", default="", help="related object, 'app.model' or 'app.model:id' (substring)")


def filter_given(args: argparse.Namespace) -> bool:
    return bool(args.text or args.actor or getattr(args, "status", None) or args.queue or args.tenant or args.related)


def filter_from(args: argparse.Namespace, *, hide_successful: bool) -> TaskFilter:
    return TaskFilter(
        text=args.text,
        statuses=frozenset(getattr(args, "status", None) or ()),
        actors=frozenset(args.actor),
        queues=frozenset(args.queue),
        tenants=frozenset(args.tenant),
        related=args.related,
        hide_successful=hide_successful,
    )
