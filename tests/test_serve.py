"""`tasktui serve` in a real headless browser: the page loads, the console's table shows the
tasks, a key press reaches the console; it listens on localhost unless told otherwise, and says
what exposing it means.

The browser is Debian's Chromium driven by Playwright (its Python package; no browser download):
`.ci/run` installs both. The page draws the terminal on a canvas (xterm.js), so what the console
shows is read where the browser receives it: the websocket frames of the terminal's output.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tasktui.commands.serve import is_loopback
from tasktui.demo import broker
from tests.retry_helpers import reject

CHROMIUM = "/usr/bin/chromium"
# As the machine notes say: no sandbox as root, no GPU, and no calls home (the network is closed).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = os.environ.get("TASKTUI_SERVE_SCREENSHOT")  # where to keep a screenshot (README)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[str], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {within}s")


@pytest.fixture
def serve(live_dsn: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # no config file of the machine's
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasktui", "serve", "--dsn", live_dsn, "--port", str(port), "--label", "browser-test"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_for_port(port, proc)
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _browser_available() -> str:
    """Why the browser test cannot run here ('' when it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not shutil.which(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    return ""


async def _tasks(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        tenant = await broker.default_tenant(conn)
        await broker.enqueue(conn, "authentik.browser.waiting_task", tenant_id=tenant, uid="in-browser")
        await reject(conn, "authentik.browser.rejected_task", uid="in-browser")


async def test_the_console_in_a_real_browser_shows_the_tasks_and_takes_keys(
    live_dsn: str, serve: tuple[subprocess.Popen[str], int]
) -> None:
    reason = _browser_available()
    if reason:
        pytest.skip(reason)
    await _tasks(live_dsn)
    _, port = serve

    # Playwright's sync API runs a loop of its own: off this test's.
    received = await asyncio.to_thread(_drive_browser, port)
    assert "authentik.browser.waiting_task" in received["before"]
    assert "authentik.browser.rejected_task" in received["before"]
    assert "browser-test" in received["before"]  # the header names the database by --label
    # `?` typed into the page reached the console: its help screen came back.
    assert "Search actor, uid or message id" in received["after"]
    assert "Search actor, uid or message id" not in received["before"]


def _drive_browser(port: int) -> dict[str, str]:
    from playwright.sync_api import sync_playwright

    frames: list[bytes] = []

    def on_websocket(ws) -> None:  # type: ignore[no-untyped-def]
        ws.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, bytes) else b""))

    def text() -> str:
        return b"".join(frames).decode("utf-8", "replace")

    def wait_for(needle: str, since: int = 0, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if needle in b"".join(frames[since:]).decode("utf-8", "replace"):
                return
            page.wait_for_timeout(100)
        raise AssertionError(f"{needle!r} not received within {within}s; got {len(frames)} frames")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.on("websocket", on_websocket)
            response = page.goto(f"http://localhost:{port}/")
            assert response is not None and response.status == 200
            assert "tasktui" in page.content()  # the intro dialog names the app until it draws
            wait_for("authentik.browser.rejected_task")
            wait_for("authentik.browser.waiting_task")
            page.wait_for_timeout(500)
            before = text()
            mark = len(frames)
            page.locator(".textual-terminal").click()
            page.keyboard.type("?")
            wait_for("Search actor, uid or message id", since=mark)
            if SCREENSHOT:
                page.keyboard.press("Escape")
                page.wait_for_timeout(1000)
                page.screenshot(path=SCREENSHOT)
            return {"before": before, "after": b"".join(frames[mark:]).decode("utf-8", "replace")}
        finally:
            browser.close()


def test_it_listens_on_localhost_only_and_says_so(serve: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = serve
    # What the kernel says the port is bound to: loopback addresses only (iproute2's ss, where present).
    if shutil.which("ss"):
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True)
        addresses = {line.split()[3].rsplit(":", 1)[0] for line in listening.stdout.splitlines()}
        assert addresses and addresses <= {"127.0.0.1", "[::1]"}, listening.stdout
    proc.terminate()
    out, err = proc.communicate(timeout=15)
    assert f"tasktui: serving the console on http://localhost:{port} — this machine only" in out
    assert "warning" not in err and "Traceback" not in out + err


def test_another_address_needs_the_flag_and_gets_a_warning(live_dsn: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasktui", "serve", "--dsn", live_dsn, "--host", "0.0.0.0", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_for_port(port, proc)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert (
        f"tasktui: warning: serving the console on 0.0.0.0:{port}, reachable from other machines, with no"
        " authentication (textual-serve has none) — and it can retry tasks" in " ".join(err.split())
    )


def test_loopback_addresses() -> None:
    assert is_loopback("localhost") and is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("::")
