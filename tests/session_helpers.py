"""Ending a session as a killed worker's ends, for tests that look at what it held."""

from __future__ import annotations

import asyncio

import psycopg


async def close_and_wait(observer: psycopg.AsyncConnection, gone: psycopg.AsyncConnection) -> None:
    """Close `gone` and wait until the server has ended its backend: the server lets go of a
    session's advisory locks a moment after the client closed it, and a test that reads pg_locks
    at once can still see them on a busy machine."""
    pid = gone.info.backend_pid
    await gone.close()
    for _ in range(200):
        cur = await observer.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
        if await cur.fetchone() is None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} still there 10 s after its client closed")
