"""tasktui's config file: named profiles, the console's defaults and key remapping.

The file is TOML at `$TASKTUI_CONFIG`, else `$XDG_CONFIG_HOME/tasktui/config.toml` (default
`~/.config/tasktui/config.toml`); without it tasktui runs on its defaults. It is validated whole
when read: every error names the file, the key and what is wrong, in one line.

    default_profile = "prod-eu"

    [profiles.prod-eu]
    dsn = "postgresql://sre@db.eu.internal/authentik"  # never a password: ~/.pgpass, service files
    label = "prod-eu"
    read_only = true

    [console]
    theme = "nord"      # a Textual theme, or tasktui-ansi (the terminal's 16 colours)
    time = "utc"        # absolute times in utc or local time (z switches)
    hide_successful = true
    fps = 20            # screen redraws a second, at most
    poll = 2            # seconds between reads without the notify trigger
    recheck = 5         # seconds between re-checks of the rows on screen
    link_timeout = 5    # seconds a silent server gets before it counts as unreachable
    trigger_mode = "auto"  # what to ask the notify trigger for: auto, notify or drain

    [console.filter]    # what the console opens filtered by (c clears it)
    statuses = ["rejected", "error"]

    [keys]              # binding id (see `?`) = Textual key names, comma-separated
    retry = "ctrl+r"

A password in the file is refused: libpq keeps those in `~/.pgpass` or a service file, where
tasktui never sees them.

Precedence, setting by setting: the command line, then the environment, then the file, then
tasktui's defaults. Where to connect: `--dsn`, else `--profile NAME`, else `$TASKTUI_PROFILE`,
else `$DATABASE_URL` or libpq's PG* variables, else the file's `default_profile`, else libpq's
own defaults. The theme: `--theme`, else `$TASKTUI_THEME`, else `console.theme`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tasktui.core.changemode import AUTO, CHOICES
from tasktui.core.db import redact
from tasktui.core.feed import RECONCILE_INTERVAL
from tasktui.core.filters import TaskFilter
from tasktui.core.listener import LINK_TIMEOUT
from tasktui.core.status import STATUSES
from tasktui.core.trigger import DEFAULT_CHANNEL, validate_channel
from tasktui.errors import UserFacingError

CONFIG_ENV = "TASKTUI_CONFIG"
PROFILE_ENV = "TASKTUI_PROFILE"
THEME_ENV = "TASKTUI_THEME"
# libpq's variables that say where to connect (as tasktui.core.db reads them).
WHERE_ENV = ("DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")

DEFAULT_FPS = 20.0
MAX_FPS = 60.0
DEFAULT_POLL = 2.0
_KEYS = re.compile(r"[^\s,]+(,[^\s,]+)*")
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class ConfigError(UserFacingError):
    """The config file cannot be used: one line naming the file, the key and what is wrong."""

    exit_code = 2


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """$TASKTUI_CONFIG, else $XDG_CONFIG_HOME/tasktui/config.toml, else ~/.config/tasktui/config.toml
    (the XDG spec ignores a relative $XDG_CONFIG_HOME)."""
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "tasktui" / "config.toml"


@dataclass(frozen=True)
class Profile:
    name: str
    dsn: str = ""
    label: str | None = None
    read_only: bool = False
    channel: str | None = None


@dataclass(frozen=True)
class Config:
    """The file as validated (values it does not set are None)."""

    path: Path
    exists: bool
    default_profile: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)
    # theme, hide_successful, trigger_mode, fps, poll, recheck, link_timeout
    console: dict[str, Any] = field(default_factory=dict)
    task_filter: dict[str, Any] = field(default_factory=dict)  # [console.filter]
    keys: dict[str, str] = field(default_factory=dict)


# -- reading and validating ----------------------------------------------------------------------


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        where = f"key `{key}`: " if key else ""
        return ConfigError(f"config file {self.path}: {where}{problem}")

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table ([{key}]), got {_kind(value)}")
        return value

    def known(self, table: Mapping[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
        for name in table:
            if name not in allowed:
                raise self.fail(f"{prefix}{name}", f"unknown key (known here: {', '.join(allowed)})")

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_kind(value)}")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_kind(value)}")
        return value

    def number(self, value: Any, key: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(key, f"expected a number, got {_kind(value)}")
        if not low < value <= high:
            raise self.fail(key, f"expected a number more than {low:g} and at most {high:g}, got {value:g}")
        return float(value)

    def strings(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(key, f"expected a list of strings, got {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {value[:60]!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    names: dict[type, str] = {dict: "a table", list: "a list"}
    return names.get(type(value), type(value).__name__)


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The config file, validated; an empty Config when there is none. Raises ConfigError."""
    path = config_path(env) if path is None else path
    check = _Checker(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path=path, exists=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise check.fail("", f"cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise check.fail("", f"is not valid TOML: {exc}") from None
    check.known(data, "", ("default_profile", "profiles", "console", "keys"))
    profiles = {
        name: _profile(check, name, value) for name, value in check.table(data.get("profiles", {}), "profiles").items()
    }
    default_profile = None
    if "default_profile" in data:
        default_profile = check.string(data["default_profile"], "default_profile")
        if default_profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise check.fail("default_profile", f"no profile {default_profile!r} (profiles: {known})")
    console_table = check.table(data.get("console", {}), "console")
    console, task_filter = _console(check, console_table)
    return Config(
        path=path,
        exists=True,
        default_profile=default_profile,
        profiles=profiles,
        console=console,
        task_filter=task_filter,
        keys=_keys(check, check.table(data.get("keys", {}), "keys")),
    )


def _profile(check: _Checker, name: str, value: Any) -> Profile:
    key = f"profiles.{name}"
    if not _PROFILE_NAME.fullmatch(name):
        raise check.fail(key, "a profile name is letters, digits, '_', '.' and '-' (at most 63)")
    table = check.table(value, key)
    check.known(table, f"{key}.", ("dsn", "label", "read_only", "channel"))
    dsn = check.string(table.get("dsn", ""), f"{key}.dsn")
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        detail = redact(" ".join(str(exc).split()), dsn)
        raise check.fail(f"{key}.dsn", f"not a libpq connection string or URL: {detail}") from None
    if params.get("password"):
        raise check.fail(
            f"{key}.dsn",
            "holds a password; keep it in ~/.pgpass or a service file (libpq reads them), not in this file",
        )
    channel = None
    if "channel" in table:
        try:
            channel = validate_channel(check.string(table["channel"], f"{key}.channel"))
        except ValueError as exc:
            raise check.fail(f"{key}.channel", str(exc)) from None
    return Profile(
        name=name,
        dsn=dsn,
        label=check.string(table["label"], f"{key}.label") if "label" in table else None,
        read_only=check.boolean(table.get("read_only", False), f"{key}.read_only"),
        channel=channel,
    )


TIME_ZONES = ("utc", "local")  # console.time: what the console's absolute times are in
_NUMBERS = {
    "fps": (0.0, MAX_FPS),
    "poll": (0.0, 300.0),
    "recheck": (0.0, 3600.0),
    "link_timeout": (0.0, 300.0),
}


def _console(check: _Checker, table: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    check.known(table, "console.", ("theme", "time", "hide_successful", "trigger_mode", *_NUMBERS, "filter"))
    console: dict[str, Any] = {}
    if "theme" in table:
        console["theme"] = _theme(check, check.string(table["theme"], "console.theme"), "console.theme")
    if "time" in table:
        zone = check.string(table["time"], "console.time")
        if zone not in TIME_ZONES:
            raise check.fail("console.time", f"expected one of {', '.join(TIME_ZONES)}, got {zone!r}")
        console["time"] = zone
    if "hide_successful" in table:
        console["hide_successful"] = check.boolean(table["hide_successful"], "console.hide_successful")
    if "trigger_mode" in table:
        mode = check.string(table["trigger_mode"], "console.trigger_mode")
        if mode not in CHOICES:
            raise check.fail("console.trigger_mode", f"expected one of {', '.join(CHOICES)}, got {mode!r}")
        console["trigger_mode"] = mode
    for name, (low, high) in _NUMBERS.items():
        if name in table:
            console[name] = check.number(table[name], f"console.{name}", low, high)
    filters = check.table(table.get("filter", {}), "console.filter")
    check.known(filters, "console.filter.", ("text", "statuses", "actors", "queues", "tenants", "related"))
    task_filter: dict[str, Any] = {}
    for name in ("text", "related"):
        if name in filters:
            task_filter[name] = check.string(filters[name], f"console.filter.{name}")
    for name in ("statuses", "actors", "queues", "tenants"):
        if name in filters:
            task_filter[name] = frozenset(check.strings(filters[name], f"console.filter.{name}"))
    unknown = sorted(task_filter.get("statuses", frozenset()) - set(STATUSES))
    if unknown:
        raise check.fail(
            "console.filter.statuses", f"unknown status {unknown[0]!r} (known: {', '.join(sorted(STATUSES))})"
        )
    return console, task_filter


def _theme(check: _Checker, name: str, key: str) -> str:
    problem = theme_problem(name)
    if problem:
        raise check.fail(key, problem)
    return name


def theme_problem(name: str) -> str:
    """Why `name` is no theme of the console ("" when it is one: Textual's or tasktui-ansi)."""
    # Textual is imported only when a theme is named (the CLI commands never need it otherwise).
    from tasktui.ui.themes import THEMES

    return "" if name in THEMES else f"unknown theme {name!r} (known: {', '.join(sorted(THEMES))})"


def _keys(check: _Checker, table: dict[str, Any]) -> dict[str, str]:
    if not table:
        return {}
    # The console's one registry of bindings, by id (read only to check the ids).
    from tasktui.ui.keys import KEY_ACTIONS

    ids = [action.id for action in KEY_ACTIONS]
    keymap = {}
    for binding_id, value in table.items():
        key = f"keys.{binding_id}"
        if binding_id not in ids:
            raise check.fail(key, f"no binding has this id (ids: {', '.join(ids)})")
        keys = check.string(value, key)
        if not _KEYS.fullmatch(keys):
            raise check.fail(key, f"expected Textual key names separated by commas (such as 'ctrl+r,f5'), got {keys!r}")
        keymap[binding_id] = keys
    return keymap


# -- resolving: command line > environment > file > defaults --------------------------------------


@dataclass(frozen=True)
class Setting:
    value: Any
    source: str  # "command line" | "environment ($NAME)" | "config file (key)" | "default"


@dataclass(frozen=True)
class Resolved:
    """Where to connect and how the console runs, each with where it came from."""

    config: Config
    profile: Profile | None
    profile_source: str
    dsn: Setting  # value None: libpq's own environment and defaults (tasktui.core.db.Target)
    console: dict[str, Setting]
    keymap: dict[str, str]

    def task_filter(self) -> TaskFilter:
        hide = self.console["hide_successful"].value
        return TaskFilter(hide_successful=hide, **self.config.task_filter)


def resolve(args: argparse.Namespace, config: Config, env: Mapping[str, str] | None = None) -> Resolved:
    """Every setting from the command line (`args`), the environment and the file."""
    env = os.environ if env is None else env
    profile, profile_source = _choose_profile(args, config, env)
    dsn = _dsn(args, profile, profile_source, env)
    console: dict[str, Setting] = {}

    def pick(
        name: str,
        cli: Any,
        default: Any,
        *,
        env_name: str | None = None,
        from_profile: Callable[[Profile], Any] | None = None,
    ) -> None:
        if cli is not None:
            console[name] = Setting(cli, "command line")
        elif env_name and env.get(env_name):
            console[name] = Setting(env[env_name], f"environment (${env_name})")
        elif profile is not None and from_profile is not None and from_profile(profile) is not None:
            console[name] = Setting(from_profile(profile), f"config file (profiles.{profile.name})")
        elif name in config.console:
            console[name] = Setting(config.console[name], f"config file (console.{name})")
        else:
            console[name] = Setting(default, "default")

    pick("label", getattr(args, "label", None), None, from_profile=lambda p: p.label)
    pick(
        "read_only",
        True if getattr(args, "read_only", False) else None,
        False,
        from_profile=lambda p: p.read_only or None,
    )
    pick("channel", getattr(args, "channel", None), DEFAULT_CHANNEL, from_profile=lambda p: p.channel)
    pick("theme", getattr(args, "theme", None), None, env_name=THEME_ENV)
    pick("hide_successful", None, True)
    pick("time", None, "utc")
    pick("trigger_mode", getattr(args, "trigger_mode", None), AUTO)
    pick("fps", getattr(args, "max_fps", None), DEFAULT_FPS)
    pick("poll", None, DEFAULT_POLL)
    pick("recheck", getattr(args, "recheck", None), RECONCILE_INTERVAL)
    pick("link_timeout", getattr(args, "link_timeout", None), LINK_TIMEOUT)
    if console["theme"].source.startswith("environment"):
        _theme(_Checker(Path(f"${THEME_ENV}")), console["theme"].value, THEME_ENV)
    return Resolved(config, profile, profile_source, dsn, console, dict(config.keys))


def _choose_profile(args: argparse.Namespace, config: Config, env: Mapping[str, str]) -> tuple[Profile | None, str]:
    name, source = getattr(args, "profile", None), "command line (--profile)"
    if not name and env.get(PROFILE_ENV):
        name, source = env[PROFILE_ENV], f"environment (${PROFILE_ENV})"
    if name:
        if name not in config.profiles:
            known = ", ".join(sorted(config.profiles)) or "none"
            where = str(config.path) if config.exists else f"{config.path}, which does not exist"
            raise ConfigError(f"no profile {name!r} in the config file {where} (profiles: {known})")
        return config.profiles[name], source
    if config.default_profile and not any(env.get(variable) for variable in WHERE_ENV):
        return config.profiles[config.default_profile], "config file (default_profile)"
    return None, ""


def _dsn(args: argparse.Namespace, profile: Profile | None, profile_source: str, env: Mapping[str, str]) -> Setting:
    if getattr(args, "dsn", None) is not None:
        return Setting(args.dsn, "command line (--dsn)")
    if profile is not None:  # named explicitly, or the file's default with no environment given
        return Setting(profile.dsn, f"profile {profile.name!r}, chosen by the {profile_source}")
    if env.get("DATABASE_URL"):
        return Setting(None, "environment ($DATABASE_URL)")
    given = [variable for variable in WHERE_ENV if env.get(variable)]
    if given:
        return Setting(None, f"environment (${', $'.join(given)})")
    return Setting(None, "default (libpq: local socket)")
