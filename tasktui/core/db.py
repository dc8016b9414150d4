"""Connections to the watched database: libpq conventions, safe session settings, clear errors.

Every connection tasktui opens goes through `connect()`: it is named `tasktui` in
pg_stat_activity, bounds every statement with a timeout, refuses to wait on locks for long and
never idles inside a transaction — tasktui must never hurt the database it watches.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.abc import Params
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tasktui.core.text import lines_of
from tasktui.errors import ConnectionFailed, LinkHung, MissingPrivilege, UserFacingError

T = TypeVar("T")

APPLICATION_NAME = "tasktui"

# Bounded work on the watched server: a console query that takes longer than this is a bug or
# an overloaded server, and either way the console must not pile on.
STATEMENT_TIMEOUT_MS = 5_000
LOCK_TIMEOUT_MS = 2_000
IDLE_IN_TRANSACTION_TIMEOUT_MS = 15_000

_DEFAULT_PARAMS = {
    "connect_timeout": "10",
    # A silent network cut is otherwise noticed only when TCP gives up (minutes).
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    # Data sent and never acknowledged (a cut network) drops the connection after this long
    # instead of TCP's retransmission timeout (~15 minutes). Where the platform has it.
    "tcp_user_timeout": "10000",
}


# libpq's variables that say where to connect (PGPASSWORD and friends only say how).
_WHERE_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGSERVICEFILE")

NO_DATABASE_HINT = (
    "no database was given: pass --dsn postgresql://user@host/dbname (or a libpq string) or --profile NAME"
    " from the config file, or set DATABASE_URL or the PG* variables (PGHOST, PGPORT, PGDATABASE, PGUSER)"
)


@dataclass(frozen=True)
class Target:
    """Where to connect: a libpq connection string (possibly empty: PG* variables, service
    files and ~/.pgpass then apply) and how to name it to a person — never with the password."""

    conninfo: str
    label: str
    # Said after a failure to connect: set when nothing told tasktui where to connect, so that
    # libpq's bare default (a local socket) fails with how to point it at a database.
    hint: str = ""

    @classmethod
    def resolve(cls, dsn: str | None) -> Target:
        """Use `dsn` if given, else $DATABASE_URL, else libpq's own environment and defaults."""
        raw = dsn if dsn is not None else os.environ.get("DATABASE_URL", "")
        unconfigured = not raw and not any(os.environ.get(name) for name in _WHERE_VARIABLES)
        try:
            params = conninfo_to_dict(raw)
        except psycopg.ProgrammingError as exc:
            # libpq's message ends with a newline: keep the error to one line.
            message = " ".join(str(exc).split())
            raise ConnectionFailed(f"invalid connection string: {redact(message, raw)}") from None
        for key, value in _DEFAULT_PARAMS.items():
            params.setdefault(key, value)
        params["application_name"] = APPLICATION_NAME
        hint = NO_DATABASE_HINT if unconfigured else ""
        return cls(conninfo=make_conninfo("", **params), label=_label(params), hint=hint)


def _label(params: Mapping[str, object]) -> str:
    """user@host:port/dbname from the parameters and the PG* environment, as libpq would."""
    env = os.environ

    def pick(key: str, env_key: str) -> str:
        value = params.get(key) or env.get(env_key) or ""
        return str(value)

    service = pick("service", "PGSERVICE")
    host = pick("host", "PGHOST") or pick("hostaddr", "PGHOSTADDR")
    port = pick("port", "PGPORT")
    user = pick("user", "PGUSER")
    dbname = pick("dbname", "PGDATABASE")
    if not host and service:
        return f"service={service}"
    where = host or "local socket"
    if port:
        where = f"{where}:{port}"
    who = f"{user}@" if user else ""
    return f"{who}{where}/{dbname}" if dbname else f"{who}{where}"


def connected_label(conn: psycopg.AsyncConnection | psycopg.Connection) -> str:
    """user@host:port/dbname of a live connection (libpq's view, never the password)."""
    info = conn.info
    host = info.host or "local socket"
    return f"{info.user}@{host}:{info.port}/{info.dbname}"


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
# A value is quoted ('…', with \' and \\ escaped) or runs to the next blank; an unquoted one
# cannot hold a bare quote, so a quote after it is the message's own (`'password=***'`).
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)+)", re.IGNORECASE)


def redact(text: str, conninfo: str = "") -> str:
    """Remove any password that a connection string or a server message could carry."""
    try:
        password = conninfo_to_dict(conninfo).get("password") if conninfo else None
    except psycopg.ProgrammingError:
        password = None
    if password:
        text = text.replace(str(password), "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KEYWORD_PASSWORD.sub(r"\1***", text)


async def connect(target: Target, *, autocommit: bool = True) -> psycopg.AsyncConnection:
    """Open a session on the watched database with tasktui's safety settings applied."""
    try:
        conn = await psycopg.AsyncConnection.connect(target.conninfo, autocommit=autocommit)
    except psycopg.Error as exc:
        raise user_error(exc, target) from None
    try:
        await conn.execute(
            f"SET statement_timeout = {STATEMENT_TIMEOUT_MS};"
            f" SET lock_timeout = {LOCK_TIMEOUT_MS};"
            f" SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_TIMEOUT_MS};"
            # The planner's cost estimates for LIMITed index scans over millions of rows invite
            # JIT, which then spends ~275 ms compiling a query that runs in ~13 ms.
            " SET jit = off"
        )
        if not autocommit:
            await conn.commit()
    except psycopg.Error as exc:
        await conn.close()
        raise user_error(exc, target) from None
    return conn


def user_error(exc: BaseException, target: Target) -> UserFacingError:
    """Turn a driver error into one line a person can act on (never echoing a password)."""
    if isinstance(exc, UserFacingError):
        return exc
    error = _explained(exc, target)
    if target.hint and isinstance(error, ConnectionFailed):
        return type(error)(f"{error}; {target.hint}")
    return error


def _explained(exc: BaseException, target: Target) -> UserFacingError:
    # libpq puts its hint on a line of its own: keep the sentence break when joining lines.
    lines = [" ".join(line.split()) for line in lines_of(str(exc)) if line.strip()]
    message = redact(". ".join(line.rstrip(".") for line in lines), target.conninfo)
    lowered = message.lower()
    where = target.label
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return MissingPrivilege(f"permission denied on {where}: {_server_detail(message)}")
    if isinstance(exc, pg_errors.QueryCanceled):
        return UserFacingError(f"query cancelled on {where}: {_server_detail(message)}")
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return ConnectionFailed(f"authentication failed for {where}: check the user and password (~/.pgpass)")
    if "no password supplied" in lowered or "fe_sendauth" in lowered:
        return ConnectionFailed(f"authentication failed for {where}: the server wants a password and none was given")
    if re.search(r"database \"[^\"]*\" does not exist", lowered):
        return ConnectionFailed(f"cannot open {where}: {_server_detail(message)}")
    if "role" in lowered and "does not exist" in lowered:
        return ConnectionFailed(f"cannot open {where}: {_server_detail(message)}")
    if isinstance(exc, psycopg.OperationalError):
        return ConnectionFailed(f"cannot reach the server at {where}: {_server_detail(message)}")
    if isinstance(exc, psycopg.ProgrammingError) and "invalid" in lowered:
        return ConnectionFailed(f"invalid connection string: {message}")
    return UserFacingError(f"database error on {where}: {_server_detail(message)}")


def without_target(message: str, label: str) -> str:
    """An `explain` message without the database it names ("cannot reach the server at
    user@host:5432/db: …" → "cannot reach the server: …"), for a display that names the
    database already and needs the room for the reason."""
    if not label:
        return message
    return re.sub(rf" (?:at |on |for )?{re.escape(label)}(?=:)", "", message, count=1)


def _server_detail(message: str) -> str:
    """The useful tail of a libpq message ('... failed: FATAL:  xyz' -> 'xyz')."""
    for marker in ("FATAL:", "ERROR:"):
        if marker in message:
            message = message.rsplit(marker, 1)[1]
    return message.strip() or "unknown error"


async def bounded(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """Await `awaitable`, but raise LinkHung if it has not finished within `seconds`.

    A hung server never answers and never closes, so a query on it waits for ever; and
    cancelling a psycopg query sends the server a cancel request first, which waits too (up to
    10 s). So the operation runs as a task of its own that is abandoned, not awaited, when time
    is up: the caller learns at once, and the abandoned task winds down in the background."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(_forget_outcome)
        raise
    if task in done:
        return task.result()
    task.cancel()
    task.add_done_callback(_forget_outcome)
    raise LinkHung(f"the server did not answer ({what}) within {seconds:g}s")


def _forget_outcome(task: asyncio.Future[Any]) -> None:
    """An abandoned operation's error is expected (its connection is being dropped)."""
    if not task.cancelled():
        task.exception()


async def fetch_value(
    conn: psycopg.AsyncConnection[Any], query: str | sql.SQL | sql.Composed, params: Params | None = None
) -> Any:
    """The first column of the first row (None when there is no row)."""
    row = await (await conn.execute(query, params)).fetchone()
    return None if row is None else row[0]
