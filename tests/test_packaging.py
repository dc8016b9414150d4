"""tasktui as a user installs and meets it: the built wheel in a fresh virtual environment outside
the repository, `--version`, examples in every command's help, and shell completion."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tasktui import __version__
from tasktui.cli import build_parser
from tasktui.commands import COMMANDS
from tasktui.core.trigger import TRIGGER_VERSION
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
PIP_INTO = [sys.executable, "-m", "pip", "--python"]  # this pip, installing into another environment


def _subcommands() -> list[str]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return list(action.choices)  # type: ignore[arg-type]


def test_every_command_is_registered() -> None:
    assert len(_subcommands()) == len(COMMANDS)


@pytest.mark.parametrize("command", ["", *_subcommands()])
def test_every_commands_help_has_examples_and_exit_statuses(command: str) -> None:
    result = run_cli(*([command] if command else []), "--help")
    assert result.returncode == 0, result.stderr
    assert "example" in result.stdout and "exit status" in result.stdout, result.stdout


def test_version_says_which_trigger_version_it_installs() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"tasktui {__version__} (installs notify trigger version {TRIGGER_VERSION})\n"


def test_completion_activates_in_a_real_bash_and_completes(tmp_path: Path) -> None:
    """The documented activation line, in bash: commands, options and the config's profiles."""
    config = tmp_path / "tasktui" / "config.toml"
    config.parent.mkdir()
    config.write_text('[profiles.prod-eu]\ndsn = "host=db"\n[profiles.staging]\ndsn = "host=db2"\n')
    script = """
eval "$(tasktui completion bash)"
complete -p tasktui
complete_line() {
    COMP_LINE="$1"; COMP_POINT=${#1}; read -ra COMP_WORDS <<< "$1"
    [[ "$1" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    _python_argcomplete tasktui
    echo "${COMPREPLY[*]}"
}
complete_line "tasktui sta"
complete_line "tasktui status --crit-q"
complete_line "tasktui workers --profile "
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "TASKTUI_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("-F _python_argcomplete tasktui")
    assert lines[1].split() == ["status"]
    assert lines[2].split() == ["--crit-queued", "--crit-queued-age"]
    assert lines[3].split() == ["prod-eu", "staging"]


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs_outside_the_repository(tmp_path: Path, empty_dsn: str) -> None:
    """As `pipx install dist/tasktui-*.whl` does it: the schema files travel inside the wheel."""
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("tasktui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"tasktui/schema/authentik_mirror.sql", "tasktui/schema/tasktui_notify.sql"} <= set(names)
    assert not any(name.startswith(("tests/", "bench/", "schema/")) for name in names)

    # A fresh environment without a pip of its own (ensurepip takes seconds): this pip installs
    # into it, resolving the wheel's dependencies as any installer would; bytecode is compiled on
    # first import instead of for every dependency up front.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [*PIP_INTO, str(venv / "bin" / "python"), "install", "--quiet", "--no-compile", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PYTHON", "VIRTUAL_ENV"))}
    env.pop("DATABASE_URL", None)
    env["HOME"] = str(elsewhere)

    def tasktui(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "tasktui"), *args], capture_output=True, text=True, cwd=elsewhere, env=env, timeout=120
        )

    version = tasktui("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"tasktui {__version__} (installs notify trigger version {TRIGGER_VERSION})\n"
    help_text = tasktui("schema", "apply", "--help")
    assert help_text.returncode == 0 and "examples:" in help_text.stdout
    # The installed package finds its schema files (not the checkout's): apply, then install the trigger.
    applied = tasktui("schema", "apply", "--dsn", empty_dsn)
    assert applied.returncode == 0, applied.stderr
    trigger = tasktui("trigger", "install", "--dsn", empty_dsn)
    assert trigger.returncode == 0, trigger.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import tasktui; print(tasktui.__file__)"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert where.stdout.startswith(str(venv)), where.stdout
