"""Running a subcommand's coroutine so that Ctrl-C and SIGTERM end it cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_command(coro: Coroutine[Any, Any, T]) -> T | int:
    """Run `coro`; SIGINT or SIGTERM cancel it (its `finally` and `async with` blocks run, so a
    registered console unregisters) and the command exits with status 0 after an interrupt."""

    async def main() -> T | int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            return await coro
        except asyncio.CancelledError:
            return 0

    return asyncio.run(main())
