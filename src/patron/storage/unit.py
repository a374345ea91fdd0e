"""A unit of work: the repositories of one account, sharing one connection (and transaction)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from patron.storage.aliases import AliasRepo
from patron.storage.contacts import ContactRepo
from patron.storage.customers import CustomerRepo
from patron.storage.database import Connection, Database, Dialect, GuardRefused
from patron.storage.deferred import DeferringConnection
from patron.storage.events import EventRepo
from patron.storage.idempotency import IdempotencyRepo
from patron.storage.notifications import NotificationRepo
from patron.storage.organizations import OrganizationRepo
from patron.storage.payment_settings import PaymentSettingsRepo
from patron.storage.routing import standby_allowed

# The transaction a whole request runs in, when it asked for one (`Store.request_transaction`):
# units opened by the request's services join it instead of opening their own. A context variable
# is per asyncio task, so concurrent requests never see each other's.
_request_transaction: ContextVar[tuple[Database, Connection] | None] = ContextVar(
    "patron_request_transaction", default=None
)
_savepoints = itertools.count(1)


class Unit:
    def __init__(self, conn: Connection, dialect: Dialect, account_id: str) -> None:
        self.account_id = account_id
        conn = self._conn = DeferringConnection(conn, dialect)
        self.customers = CustomerRepo(conn, dialect, account_id)
        self.contacts = ContactRepo(conn, dialect, account_id)
        self.aliases = AliasRepo(conn, dialect, account_id)
        self.organizations = OrganizationRepo(conn, dialect, account_id)
        self.payment_settings = PaymentSettingsRepo(conn, dialect, account_id)
        self.idempotency = IdempotencyRepo(conn, dialect, account_id)
        self.events = EventRepo(conn, dialect, account_id)
        self.notifications = NotificationRepo(conn, dialect, account_id)

    @property
    def connection(self) -> Connection:
        return self._conn

    async def finish(self) -> None:
        """Send what the unit holds back: its deferred inserts and its events, and the webhook
        deliveries they make (docs/webhooks.md). On PostgreSQL the inserts and events are one
        statement, which also reads the live policies when the unit has not read them yet; the
        deliveries are one more, sent only when a policy wants an event. A unit that sent
        nothing before (a create) sends that statement alone, without BEGIN and COMMIT, guarded
        against accounts with live policies (migration 0012); refused, it goes in a transaction
        as any other."""
        events = self.events.take_pending()
        if not events:
            await self._conn.flush()
            return
        guard = self._conn.untouched and self.notifications.no_live_policies_column("$1")
        if guard:
            try:
                sql, args = self.events.insert_statement(events, also=guard)
                await self._conn.fetch_last(sql, *args)
            except GuardRefused:
                self.notifications.refused()
            else:
                self.notifications.none_live()
                return
        policies = self.notifications.live_policies_column("$1")
        rows = await self._conn.flush(self.events.insert_statement(events, also=policies))
        if policies is not None:
            self.notifications.live_policies_from_json(rows[0]["policies"])
        seqs = {r["id"]: int(r["seq"]) for r in rows}
        await self.notifications.enqueue([(e, seqs[e.id]) for e in events])


class Store:
    """Opens units of work. Every unit is bound to one account: no query it runs can leave it.

    `standby`, when given, answers the reads a request marked with `routing.standby_reads`."""

    def __init__(self, db: Database, standby: Database | None = None) -> None:
        self.db = db
        self.standby = standby

    async def close(self) -> None:
        await self.db.close()
        if self.standby is not None:
            await self.standby.close()

    def _joined(self) -> Connection | None:
        current = _request_transaction.get()
        if current is None or current[0] is not self.db:
            return None
        return current[1]

    @asynccontextmanager
    async def reading(self, account_id: str) -> AsyncIterator[Unit]:
        # Inside a request transaction reads use its connection: they see its uncommitted writes.
        conn = self._joined()
        if conn is not None:
            yield Unit(conn, self.db.dialect, account_id)
            return
        source = self.standby if self.standby is not None and standby_allowed() else self.db
        async with source.read() as conn:
            yield Unit(conn, source.dialect, account_id)

    @asynccontextmanager
    async def writing(self, account_id: str) -> AsyncIterator[Unit]:
        """All changes made through the unit commit together when the block ends, or none do.

        Inside a request transaction the unit joins it: its changes commit when the request's do.
        A savepoint keeps "or none do": a block that fails is undone even when its caller catches
        the error and carries on."""
        conn = self._joined()
        if conn is None:
            async with self.db.transaction() as conn:
                unit = Unit(conn, self.db.dialect, account_id)
                yield unit
                await unit.finish()
            return
        savepoint = f"unit_{next(_savepoints)}"
        await conn.execute(f"SAVEPOINT {savepoint}")
        try:
            unit = Unit(conn, self.db.dialect, account_id)
            yield unit
            await unit.finish()
        except Exception:
            await conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
            raise
        await conn.execute(f"RELEASE SAVEPOINT {savepoint}")

    @asynccontextmanager
    async def request_transaction(self, account_id: str) -> AsyncIterator[Unit]:
        """One transaction around a whole request: every unit the request's services open inside
        the block joins it, so their changes and what the caller writes through the yielded unit
        commit together when the block ends, or none do."""
        if self._joined() is not None:
            raise RuntimeError("a request transaction is open already")
        async with self.db.transaction() as conn:
            unit = Unit(conn, self.db.dialect, account_id)
            # Units opened inside send their statements through this unit's connection, so
            # whatever it holds back goes out before them.
            token = _request_transaction.set((self.db, unit.connection))
            try:
                yield unit
                await unit.finish()
            finally:
                _request_transaction.reset(token)
