"""A TCP proxy in front of the test server that can stop forwarding without closing anything —
what a hung server, a cut cable or a stateful firewall that dropped its entry looks like to a
client: the socket stays open, writes are accepted, nothing ever comes back.

The console connects to the proxy over TCP; the proxy connects to the test server the way the
test DSN says (a Unix socket folder or a TCP host), so it works with every server the harness
finds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class StallingProxy:
    def __init__(self, dsn: str) -> None:
        params = conninfo_to_dict(dsn)
        self._upstream_host = str(params.get("host") or "/var/run/postgresql")
        self._upstream_port = int(params.get("port") or 5432)
        self._params = params
        self._forwarding = asyncio.Event()
        self._forwarding.set()
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def dsn(self) -> str:
        """The test DSN, pointed at the proxy."""
        params = {k: v for k, v in self._params.items() if k not in ("host", "hostaddr", "port")}
        return make_conninfo("", **params, host="127.0.0.1", port=str(self.port))

    def stall(self) -> None:
        """Stop forwarding in both directions; every connection stays open."""
        self._forwarding.clear()

    def resume(self) -> None:
        """Forward again, starting with what was held back."""
        self._forwarding.set()

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._upstream_host.startswith("/"):
            path = Path(self._upstream_host) / f".s.PGSQL.{self._upstream_port}"
            return await asyncio.open_unix_connection(str(path))
        return await asyncio.open_connection(self._upstream_host, self._upstream_port)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._forwarding.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        await self._forwarding.wait()  # a stalled network does not answer new connections either
        try:
            upstream_reader, upstream_writer = await self._open_upstream()
        except OSError:
            client_writer.close()
            return
        self._writers |= {client_writer, upstream_writer}
        for reader, writer in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            task = asyncio.ensure_future(self._pump(reader, writer))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def __aenter__(self) -> StallingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.resume()
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.close()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)


@contextlib.asynccontextmanager
async def stalling_proxy(dsn: str) -> AsyncIterator[StallingProxy]:
    async with StallingProxy(dsn) as proxy:
        yield proxy
