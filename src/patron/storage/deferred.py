"""A unit's connection that holds back inserts of new rows and sends them together.

A write costs what its round trips cost: a create used to send the customer, its contacts, its
custom properties and its events one statement each. Repositories `defer` inserts that nothing
else in the unit needs to see straight away; they go out in one batch (`Dialect.combined`: one
statement on PostgreSQL) just before the unit's next statement, or with its events when the unit
ends (`Unit.finish`). Any other statement sends the batch first, so every read sees the unit's
own writes, as it would if they had gone out one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from patron.storage.database import Connection, Dialect, Row, Statement


class DeferringConnection:
    def __init__(self, conn: Connection, dialect: Dialect) -> None:
        self._conn = conn
        self._dialect = dialect
        self._held: list[Statement] = []

    def defer(self, sql: str, *args: Any) -> None:
        """Send this insert later, with the next batch. Only for rows no other statement of the
        batch depends on: PostgreSQL runs the batch as one statement, whose parts cannot see
        each other's rows (a unique or foreign-key error still fails the unit)."""
        self._held.append((sql, args))

    async def flush(self, last: Statement | None = None) -> list[Row]:
        """Send what is held, and `last` with it; answers `last`'s rows."""
        statements = self._held + ([last] if last is not None else [])
        self._held = []
        if not statements:
            return []
        *before, (sql, args) = self._dialect.combined(statements)
        for earlier_sql, earlier_args in before:
            await self._conn.execute(earlier_sql, *earlier_args)
        return await self._conn.fetch(sql, *args)

    @property
    def untouched(self) -> bool:
        """Whether the unit's transaction has sent nothing yet (see `Connection.untouched`)."""
        return self._conn.untouched

    async def fetch_last(self, sql: str, *args: Any) -> list[Row]:
        """What is held and this, as the transaction's last statement (`Connection.fetch_last`:
        on PostgreSQL one statement, sent alone when nothing went before). What is held stays
        held if it fails, so that the unit may send it again in a transaction."""
        *before, (last_sql, last_args) = self._dialect.combined([*self._held, (sql, args)])
        for earlier_sql, earlier_args in before:
            await self._conn.execute(earlier_sql, *earlier_args)
        rows = await self._conn.fetch_last(last_sql, *last_args)
        self._held = []
        return rows

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        await self.flush()
        return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        await self.flush()
        return await self._conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        await self.flush()
        return await self._conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        await self.flush()
        return await self._conn.execute(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.flush()
        await self._conn.executemany(sql, rows)
