"""The console's sessions for on-demand work, one per purpose, beside the feed's own.

Each purpose has one session (workers and task details share "read"; the incident views'
periodic reads run on "incidents"; single retries run their transactions on "retry", bulk runs on
"bulk", so that no read ever runs inside a retry's
transaction and a bulk run does not hold up a single retry). A purpose's session is used by one
caller at a time, under that purpose's lock: it is opened on first use — check, then open, under
the lock, so two callers that arrive together share one connection — and opened again after it
was dropped. Every session is closed by `aclose()`.

A call on a session is bounded on the client as the feed's are (tasktui.core.db.bounded): a hung
server never enforces its own statement timeout, and the console must say so in seconds, not when
TCP gives up. A session whose link failed or hung is dropped at once (closed, not waited for), so
that the next call reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import psycopg

from tasktui.core import db
from tasktui.core.session import Session, open_session
from tasktui.errors import ConnectionFailed, LinkHung, UserFacingError

T = TypeVar("T")

READ = "read"
RETRY = "retry"
BULK = "bulk"
# The incident views' periodic reads (errors grouped, queues, schedules): up to a second each on a
# million tasks, so they never hold up a task's detail on "read".
INCIDENTS = "incidents"


class SessionPool:
    def __init__(
        self,
        target: db.Target,
        *,
        link_timeout: float,
        on_open: Callable[[Session], None] | None = None,
        opener: Callable[[db.Target], Awaitable[Session]] = open_session,
    ) -> None:
        self.target = target
        self.link_timeout = link_timeout
        self.on_open = on_open
        self._opener = opener
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False
        self._closing: set[asyncio.Future[None]] = set()
        self.opened = 0  # sessions opened so far (reconnects included)

    @property
    def open_sessions(self) -> dict[str, Session]:
        """The sessions open now, by purpose."""
        return {purpose: s for purpose, s in self._sessions.items() if not s.conn.closed}

    def _lock(self, purpose: str) -> asyncio.Lock:
        # Made synchronously: two callers cannot each make one.
        return self._locks.setdefault(purpose, asyncio.Lock())

    @contextlib.asynccontextmanager
    async def session(self, purpose: str) -> AsyncIterator[Session]:
        """The purpose's session, for this caller alone until the block ends."""
        async with self._lock(purpose):
            if self._closed:
                raise ConnectionFailed("the console is closing")
            session = self._sessions.get(purpose)
            if session is None or session.conn.closed:
                session = self._sessions[purpose] = await self._open()
            yield session

    async def _open(self) -> Session:
        opening = asyncio.ensure_future(self._opener(self.target))
        try:
            session = await db.bounded(opening, db.STATEMENT_TIMEOUT_MS / 1000 + self.link_timeout, "connecting")
        except LinkHung:
            # Abandoned: should it connect after all, nobody would close it but this.
            opening.add_done_callback(self._close_late_session)
            raise
        self.opened += 1
        if self.on_open is not None:
            self.on_open(session)
        return session

    async def run(
        self, purpose: str, work: Callable[[Session], Awaitable[T]], *, what: str, bound: float | None = None
    ) -> T:
        """`work` on the purpose's session; every driver or link failure comes out as one line
        for a person (UserFacingError), and a session whose link failed is dropped. `bound`
        (seconds, default one statement timeout plus the link timeout) limits the whole call on
        the client; None-bounded work that must not be abandoned (a retry's commit) passes 0."""
        seconds = db.STATEMENT_TIMEOUT_MS / 1000 + self.link_timeout if bound is None else bound
        async with self.session(purpose) as session:
            try:
                if seconds > 0:
                    return await db.bounded(work(session), seconds, what)
                return await work(session)
            except UserFacingError as exc:
                if isinstance(exc, ConnectionFailed):
                    await self._drop(purpose, session)
                raise
            except (psycopg.Error, OSError) as exc:
                if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | OSError) or session.conn.closed:
                    await self._drop(purpose, session)
                raise db.user_error(exc, self.target) from None

    async def _drop(self, purpose: str, session: Session) -> None:
        """Forget a session whose link failed. Closing never waits for the server (libpq drops
        the socket at once): a hung server would not answer a goodbye either."""
        if self._sessions.get(purpose) is session:
            del self._sessions[purpose]
        await session.close()

    async def aclose(self) -> None:
        """Close every session (also those in use: their callers get an error, not a hang)."""
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    def _close_late_session(self, opening: asyncio.Future[Session]) -> None:
        if not opening.cancelled() and opening.exception() is None:
            closing = asyncio.ensure_future(opening.result().close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
