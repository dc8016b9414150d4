"""The config file: precedence (command line > environment > file > defaults), clear one-line
errors, passwords refused, and the console started with what it says (theme, keymap, filter)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tasktui.cli import build_parser
from tasktui.commands.console import console_app, console_options
from tasktui.config import load_config, resolve
from tasktui.core import db
from tasktui.core import trigger as notify_trigger
from tasktui.demo import broker
from tests.conftest import CliResult, run_cli
from tests.retry_helpers import reject
from tests.ui_helpers import screen_text, wait_for

FILE = """\
default_profile = "a"

[profiles.a]
dsn = "postgresql://sre@db-a.internal/authentik"
label = "from-file"
read_only = true

[profiles.b]
dsn = "host=db-b.internal dbname=authentik user=sre"
channel = "tasktui_b"

[console]
theme = "nord"
fps = 10
recheck = 7

[console.filter]
statuses = ["rejected", "error"]

[keys]
retry = "ctrl+r"
"""


def _write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "tasktui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return {"XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}


def _show(env: dict[str, str], *args: str) -> dict:
    result = run_cli("config", "show", "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_command_line_beats_environment_beats_file_beats_defaults(tmp_path: Path) -> None:
    env = _write(tmp_path, FILE)
    shown = _show(env)
    assert shown["config_file"] == str(tmp_path / "tasktui" / "config.toml") and shown["config_file_exists"]
    assert shown["profile"] == {"name": "a", "source": "config file (default_profile)"}
    assert shown["dsn"]["database"] == "sre@db-a.internal/authentik"
    console = {name: (s["value"], s["source"]) for name, s in shown["console"].items()}
    assert console["label"] == ("from-file", "config file (profiles.a)")
    assert console["read_only"] == (True, "config file (profiles.a)")
    assert console["theme"] == ("nord", "config file (console.theme)")
    assert console["recheck"] == (7.0, "config file (console.recheck)")
    assert console["poll"] == (2.0, "default") and console["channel"] == ("tasktui", "default")
    assert shown["filter"] == "status=error,rejected · hiding successful"
    assert shown["keys"] == {"retry": "ctrl+r"}

    # The environment beats the file: a DATABASE_URL (or PG* variables) over default_profile,
    # $TASKTUI_THEME over console.theme.
    url = "postgresql://env:s3cret@db-env.internal/authentik"
    shown = _show({**env, "DATABASE_URL": url, "TASKTUI_THEME": "dracula"})
    assert shown["profile"]["name"] is None
    assert shown["dsn"] == {
        "database": "env@db-env.internal/authentik",
        "dsn": "postgresql://env:***@db-env.internal/authentik",  # redacted
        "source": "environment ($DATABASE_URL)",
    }
    assert shown["console"]["theme"] == {"value": "dracula", "source": "environment ($TASKTUI_THEME)"}
    assert shown["console"]["label"]["source"] == "default"
    # A profile named in the environment is chosen on purpose: it beats DATABASE_URL.
    shown = _show({**env, "DATABASE_URL": url, "TASKTUI_PROFILE": "b"})
    assert shown["profile"] == {"name": "b", "source": "environment ($TASKTUI_PROFILE)"}
    assert shown["dsn"]["database"] == "sre@db-b.internal/authentik"
    assert shown["console"]["channel"] == {"value": "tasktui_b", "source": "config file (profiles.b)"}

    # The command line beats both.
    shown = _show(
        {**env, "TASKTUI_PROFILE": "b", "TASKTUI_THEME": "dracula"},
        "--profile",
        "a",
        "--theme",
        "gruvbox",
        "--label",
        "cli",
        "--recheck",
        "3",
    )
    assert shown["profile"] == {"name": "a", "source": "command line (--profile)"}
    assert shown["console"]["theme"] == {"value": "gruvbox", "source": "command line"}
    assert shown["console"]["label"] == {"value": "cli", "source": "command line"}
    assert shown["console"]["recheck"] == {"value": 3.0, "source": "command line"}
    shown = _show({**env, "TASKTUI_PROFILE": "b"}, "--dsn", "postgresql://cli@db-cli/authentik")
    assert shown["dsn"]["database"] == "cli@db-cli/authentik"
    assert shown["dsn"]["source"] == "command line (--dsn)"

    # No file at all: tasktui's defaults, said so.
    bare = _show({"XDG_CONFIG_HOME": str(tmp_path / "none"), "HOME": str(tmp_path)})
    assert not bare["config_file_exists"] and bare["profile"]["name"] is None
    assert bare["console"]["theme"] == {"value": None, "source": "default"}


def test_config_path_follows_xdg_and_the_override_even_for_a_broken_file(tmp_path: Path) -> None:
    env = _write(tmp_path, "this is [not toml")
    path = run_cli("config", "path", env=env)
    assert (path.returncode, path.stdout) == (0, f"{tmp_path}/tasktui/config.toml\n")
    other = tmp_path / "elsewhere.toml"
    assert run_cli("config", "path", env={**env, "TASKTUI_CONFIG": str(other)}).stdout == f"{other}\n"


def _fails(result: CliResult) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[profiles.prod]\ndsn = "postgresql://sre:hunter2secret@db/authentik"\n',
            "key `profiles.prod.dsn`: holds a password; keep it in ~/.pgpass or a service file (libpq reads them),"
            " not in this file",
        ),
        (
            "[profiles.prod]\ndsn = \"host=db password='hunter2secret'\"\n",
            "key `profiles.prod.dsn`: holds a password;",
        ),
        (
            "[console]\nfsp = 10\n",
            "key `console.fsp`: unknown key (known here: theme, time, hide_successful, trigger_mode, fps, poll,",
        ),
        (
            '[console]\ntrigger_mode = "fast"\n',
            "key `console.trigger_mode`: expected one of auto, notify, drain, got 'fast'",
        ),
        ('[console]\ntheme = "neon"\n', "key `console.theme`: unknown theme 'neon' (known: ansi-dark,"),
        ("[console]\nfps = 0\n", "key `console.fps`: expected a number more than 0 and at most 60, got 0"),
        (
            '[console]\nhide_successful = "no"\n',
            "key `console.hide_successful`: expected true or false, got the string",
        ),
        ('[console.filter]\nstatuses = ["failed"]\n', "key `console.filter.statuses`: unknown status 'failed' (known:"),
        ('[keys]\nretry-all = "B"\n', "key `keys.retry-all`: no binding has this id (ids: cursor-down, cursor-up,"),
        ('[keys]\nretry = "ctrl r"\n', "key `keys.retry`: expected Textual key names separated by commas"),
        ('default_profile = "prod"\n', "key `default_profile`: no profile 'prod' (profiles: none)"),
        ("[console\n", "is not valid TOML: "),
    ],
)
def test_an_invalid_file_is_one_line_naming_the_file_and_the_key(tmp_path: Path, text: str, problem: str) -> None:
    env = _write(tmp_path, text)
    line = _fails(run_cli("workers", env=env))
    assert line.startswith(f"tasktui: error: config file {tmp_path}/tasktui/config.toml: {problem}"), line
    assert "hunter2secret" not in line


@pytest.mark.slow
def test_an_unknown_profile_and_status_under_a_broken_file(tmp_path: Path) -> None:
    env = _write(tmp_path, FILE)
    line = _fails(run_cli("workers", "--profile", "c", env=env))
    assert line == f"tasktui: error: no profile 'c' in the config file {tmp_path}/tasktui/config.toml (profiles: a, b)"
    # status stays a monitoring plugin: the same problem is an UNKNOWN line on stdout, exit 3.
    status = run_cli("status", "--profile", "c", env=env)
    assert status.returncode == 3 and status.stderr == ""
    assert status.stdout.startswith("TASKTUI UNKNOWN - no profile 'c' in the config file ")
    broken = _write(tmp_path, "[console]\nfps = 100\n")
    assert run_cli("status", env=broken).stdout.startswith(
        f"TASKTUI UNKNOWN - config file {tmp_path}/tasktui/config.toml: key `console.fps`: expected a number"
    )


async def test_the_console_opens_with_the_files_theme_keymap_and_filter(tmp_path: Path, live_dsn: str, writer) -> None:
    """What run_console is given, the console shows: nord, `?` moved to f2, rejected tasks only."""
    path = tmp_path / "config.toml"
    path.write_text(
        "[console]\ntheme = 'nord'\nhide_successful = false\nfps = 10\n"
        "[console.filter]\nstatuses = ['rejected']\n[keys]\nhelp = 'f2'\n"
    )
    args = argparse.Namespace(dsn=live_dsn, profile=None, label=None, read_only=False, channel=None, theme=None)
    args.recheck = args.link_timeout = None
    settings = resolve(args, load_config(path), env={})
    rejected = await reject(writer, "authentik.test.rejected", uid="shown")
    tenant = await broker.default_tenant(writer)
    await broker.enqueue(writer, "authentik.test.waiting", tenant_id=tenant)
    app = console_app(db.Target.resolve(live_dsn), **console_options(settings))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "authentik.test.rejected" in screen_text(app), what="the rejected task")
        assert app.theme == "nord" and app.settings.redraw_interval == pytest.approx(0.1)
        text = screen_text(app)
        assert "status=rejected" in text and "hiding successful" not in text
        assert "authentik.test.waiting" not in text and rejected
        await pilot.press("question_mark")  # no longer help
        await pilot.pause(0.3)
        assert "Search actor, uid or message id" not in screen_text(app)
        await pilot.press("f2")
        await wait_for(pilot, lambda: "Search actor, uid or message id" in screen_text(app), what="help on f2")


async def test_the_console_asks_the_trigger_for_the_mode_its_command_line_names(
    tmp_path: Path, live_dsn: str, writer
) -> None:
    """`tasktui --trigger-mode drain` (beating the file's notify): the console's listener asks the
    trigger for drain mode, and the trigger, which follows its most demanding live console, drains."""
    path = tmp_path / "config.toml"
    path.write_text("[console]\ntrigger_mode = 'notify'\n")
    args = build_parser().parse_args(["--dsn", live_dsn, "--trigger-mode", "drain"])
    settings = resolve(args, load_config(path), env={})
    assert settings.console["trigger_mode"].value == "drain"
    assert (await notify_trigger.status(writer)).mode == "notify"
    app = console_app(db.Target.resolve(live_dsn), **console_options(settings))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.service.health().trigger_mode == "drain", what="the listener draining")
        assert (await notify_trigger.status(writer)).mode == "drain"
    # Gone with the console: nobody asks for drain mode any more.
    assert (await notify_trigger.status(writer)).mode == "notify"


def test_summary_reads_the_installations_named_not_the_default_profile_too(tmp_path: Path, mirror_dsn: str) -> None:
    env = _write(tmp_path, 'default_profile = "gone"\n[profiles.gone]\ndsn = "host=/nonexistent dbname=x"\n')
    named = run_cli("summary", "--dsn", mirror_dsn, "--json", env=env)
    assert named.returncode == 0, named.stderr
    assert [row["ok"] for row in json.loads(named.stdout)] == [True]
    # Named nowhere: the default profile is the installation.
    default = run_cli("summary", "--json", env=env)
    assert default.returncode == 2
    assert [row["ok"] for row in json.loads(default.stdout)] == [False]


def test_the_demo_console_takes_the_files_theme_time_and_keys_not_its_connection(tmp_path: Path) -> None:
    """`tasktui demo` ignored the config file: its console opens as the user's does (theme, time
    zone, keys), on the demo's own database and settings."""
    from tasktui.commands.demo import _look

    path = tmp_path / "config.toml"
    path.write_text("[console]\ntheme = 'nord'\ntime = 'local'\n[keys]\nhelp = 'f2'\n")
    args = build_parser().parse_args(["demo"])
    args.settings = resolve(args, load_config(path), env={})
    assert _look(args) == {"theme": "nord", "local_time": True, "keymap": {"help": "f2"}}
    assert _look(build_parser().parse_args(["demo"])) == {}  # no settings resolved: the defaults
