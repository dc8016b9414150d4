"""A naive live console: the reference bench/screen_latency.py measures tasktui against.

What anyone would write first: LISTEN, and for each notification one query for the row and one
DataTable update (a new row is added and the table re-sorted, newest first). It registers with
tasktui's trigger as any console must (version 3 gives each console its own channel) and never
asks for drain mode.

    python bench/naive_console.py --dsn DSN
"""

from __future__ import annotations

import argparse
import json
import socket
import uuid

import psycopg
from textual.app import App, ComposeResult
from textual.widgets import DataTable

COLUMNS = ("actor", "state", "retries", "changed")
ROW = "SELECT message_id::text, actor_name, state, retries, mtime FROM authentik_tasks_task WHERE message_id = %s"
UNFINISHED = ROW.replace("message_id = %s", "state NOT IN ('done', 'rejected') ORDER BY mtime DESC LIMIT 1000")


class NaiveConsole(App[None]):
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self.dsn = dsn
        self.console_id = str(uuid.uuid4())

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    async def on_mount(self) -> None:
        self.listen = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        self.reads = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        register = "SELECT tasktui_register(%s, 'tasktui', %s)"
        await self.listen.execute(register, (self.console_id, socket.gethostname()))
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        for row in await (await self.reads.execute(UNFINISHED)).fetchall():
            table.add_row(*row[1:], key=row[0])
        self.run_worker(self.follow())

    async def follow(self) -> None:
        table = self.query_one(DataTable)
        while True:
            async for notify in self.listen.notifies(timeout=5.0):
                change = json.loads(notify.payload)
                if change.get("table") != "task":
                    continue
                row = await (await self.reads.execute(ROW, (change["id"],))).fetchone()
                if row is None:
                    if change["id"] in table.rows:
                        table.remove_row(change["id"])
                elif row[0] in table.rows:
                    for column, value in zip(COLUMNS, row[1:], strict=True):
                        table.update_cell(row[0], column, value)
                else:
                    table.add_row(*row[1:], key=row[0])
                    table.sort("changed", reverse=True)
            await self.listen.execute("SELECT tasktui_heartbeat(%s)", (self.console_id,))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--dsn", required=True)
    NaiveConsole(parser.parse_args().dsn).run()
