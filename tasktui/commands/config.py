"""`tasktui config path | show`: where the config file is, and every setting tasktui would use
with where it comes from (command line, environment, config file, default) — passwords redacted."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from tasktui import config
from tasktui.commands import COMMANDS, console
from tasktui.commands._output import say, write_stdout
from tasktui.core.db import Target, redact

DESCRIPTION = """\
tasktui reads one TOML file: $TASKTUI_CONFIG, else $XDG_CONFIG_HOME/tasktui/config.toml
(default ~/.config/tasktui/config.toml). It holds named profiles (a DSN without its password,
a label, read-only, a channel), the console's defaults (theme, hide_successful, fps, poll,
recheck, link_timeout, and a default filter) and key remapping by binding id. Every setting
comes from the command line first, then the environment, then the file, then the default.
"""

EPILOG = """\
examples:
  tasktui config path                        # where the file is (it need not exist)
  tasktui config show                        # every setting and where it comes from
  tasktui config show --profile prod-eu --theme nord --json

exit status: 0; 2 when the config file is not valid (one line: the file, the key, what is wrong)
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "config",
        help=COMMANDS["config"],
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    path = actions.add_parser(
        "path", help="print the config file's path", description="Print the config file's path (it need not exist)."
    )
    # Works with a broken file too: it is how one finds the file to fix.
    path.set_defaults(handler=run_path, reads_config=False)
    show = actions.add_parser(
        "show",
        parents=[common],
        help="every setting and where it comes from",
        description="Every setting tasktui would use, and where it comes from; passwords redacted.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    console.add_arguments(show)
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=run_show)


def run_path(args: argparse.Namespace) -> int:
    say(str(config.config_path()), multiline=False)
    return 0


def run_show(args: argparse.Namespace) -> int:
    settings: config.Resolved = args.settings
    report = _report(settings)
    if args.json:
        write_stdout(json.dumps(report, ensure_ascii=True, indent=2) + "\n")
        return 0
    file = settings.config
    state = "" if file.exists else " (not there: tasktui runs on its defaults)"
    lines = [f"config file: {file.path}{state}"]
    profile = report["profile"]
    lines.append(f"profile: {profile['name']}  [{profile['source']}]" if profile["name"] else "profile: none")
    dsn = report["dsn"]
    lines.append(f"database: {dsn['database']}  [{dsn['source']}]")
    if dsn["dsn"]:
        lines.append(f"  dsn: {dsn['dsn']}")
    for name, setting in report["console"].items():
        lines.append(f"{name}: {_shown(setting['value'])}  [{setting['source']}]")
    lines.append(f"filter: {report['filter']}")
    lines.append("keys: " + (", ".join(f"{k} = {v}" for k, v in report["keys"].items()) or "as built in"))
    for line in lines:
        say(line, multiline=False)
    return 0


def _report(settings: config.Resolved) -> dict[str, Any]:
    dsn = settings.dsn.value
    return {
        "config_file": str(settings.config.path),
        "config_file_exists": settings.config.exists,
        "profile": {
            "name": settings.profile.name if settings.profile else None,
            "source": settings.profile_source or None,
        },
        "dsn": {
            # Where it connects (never a password), and the connection string as given, redacted.
            "database": Target.resolve(dsn).label,
            "dsn": redact(dsn, dsn) if dsn else _environment_dsn(),
            "source": settings.dsn.source,
        },
        "console": {name: {"value": s.value, "source": s.source} for name, s in settings.console.items()},
        "filter": settings.task_filter().describe(),
        "keys": settings.keymap,
    }


def _environment_dsn() -> str | None:
    url = os.environ.get("DATABASE_URL")
    return redact(url, url) if url else None


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
