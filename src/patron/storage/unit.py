"""A unit of work: the repositories of one account, sharing one connection (and transaction)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from patron.storage.aliases import AliasRepo
from patron.storage.contacts import ContactRepo
from patron.storage.customers import CustomerRepo
from patron.storage.database import Connection, Database, Dialect
from patron.storage.events import EventRepo
from patron.storage.organizations import OrganizationRepo
from patron.storage.payment_settings import PaymentSettingsRepo


class Unit:
    def __init__(self, conn: Connection, dialect: Dialect, account_id: str) -> None:
        self.account_id = account_id
        self.customers = CustomerRepo(conn, dialect, account_id)
        self.contacts = ContactRepo(conn, dialect, account_id)
        self.aliases = AliasRepo(conn, dialect, account_id)
        self.organizations = OrganizationRepo(conn, dialect, account_id)
        self.payment_settings = PaymentSettingsRepo(conn, dialect, account_id)
        self.events = EventRepo(conn, dialect, account_id)


class Store:
    """Opens units of work. Every unit is bound to one account: no query it runs can leave it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def reading(self, account_id: str) -> AsyncIterator[Unit]:
        async with self.db.read() as conn:
            yield Unit(conn, self.db.dialect, account_id)

    @asynccontextmanager
    async def writing(self, account_id: str) -> AsyncIterator[Unit]:
        """All changes made through the unit commit together when the block ends, or none do."""
        async with self.db.transaction() as conn:
            yield Unit(conn, self.db.dialect, account_id)
