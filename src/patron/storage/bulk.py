"""Bulk writes for `patron import`: whole batches of new customers in one transaction each.

Rows go in with `Connection.copy_records` (COPY on PostgreSQL, one executemany per table on
SQLite), skipping the per-customer statements of the API's write path. The import service has
already checked every row; the unique indexes still guard the database against a concurrent write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from patron.domain.customers import CustomerDraft, IntegrationId, email_key
from patron.domain.enums import CustomerStatus
from patron.domain.ids import new_id
from patron.storage.customers import editable_values
from patron.storage.database import Database

_CUSTOMERS = (
    "id",
    "account_id",
    "created_at",
    "updated_at",
    "revision",
    "legal_name",
    "legal_name_key",
    "line1",
    "line2",
    "town",
    "state",
    "postcode",
    "country",
    "url",
    "domain",
    "label",
    "label_key",
    "telephone",
    "tax_status",
    "status",
)
_CONTACTS = (
    "id",
    "account_id",
    "customer_id",
    "name",
    "email",
    "email_key",
    "billing_preference",
    "created_at",
    "updated_at",
)
_ALIASES = ("id", "account_id", "customer_id", "value", "created_at")
_INTEGRATION_IDS = (
    "account_id",
    "customer_id",
    "position",
    "service",
    "external_id",
    "is_pending",
    "last_synced",
)
_PROPERTIES = ("account_id", "customer_id", "key", "value")


@dataclass(frozen=True, slots=True)
class NewCustomer:
    id: str
    draft: CustomerDraft
    integration_ids: list[IntegrationId]


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds an id or alias value already: a customer, its account and when it was made."""

    customer_id: str
    account_id: str
    created_at: int


class BulkStore:
    def __init__(self, db: Database, account_id: str) -> None:
        self._db = db
        self._any = db.dialect.any_of
        self._account = account_id

    async def id_holders(self, ids: Sequence[str]) -> dict[str, Holder]:
        """Customers with these ids, in any account (ids are unique across the instance)."""
        if not ids:
            return {}
        async with self._db.read() as conn:
            rows = await conn.fetch(
                f"SELECT id, account_id, created_at FROM customers WHERE id {self._any('$1')}",
                list(ids),
            )
        return {r["id"]: Holder(r["id"], r["account_id"], r["created_at"]) for r in rows}

    async def alias_holders(self, values: Sequence[str]) -> dict[str, Holder]:
        """The account's customers holding these values as a live alias or as their id."""
        if not values:
            return {}
        # Two keyed lookups rather than a join: on a table filling up during the import the
        # planner's statistics lag, and a join planned for a small table turns into scans.
        async with self._db.read() as conn:
            rows = await conn.fetch(
                "SELECT value, customer_id FROM aliases WHERE account_id = $1"
                f" AND value {self._any('$2')} AND deleted_at IS NULL",
                self._account,
                list(values),
            )
        holder_of = {r["value"]: r["customer_id"] for r in rows}
        customers = await self.id_holders([*holder_of.values(), *values])
        found = {v: customers[cid] for v, cid in holder_of.items() if cid in customers}
        for value in values:
            holder = customers.get(value)
            if holder is not None and holder.account_id == self._account:
                found.setdefault(value, holder)
        return found

    async def refresh_statistics(self, *, final: bool = False) -> None:
        """PostgreSQL plans the look-ups above from table statistics, which lag while an import
        fills the tables: a plan made for an empty table scans it. Called as the tables grow.
        At the end (`final`) SQLite gets statistics too: without them its planner reads a
        customer's contacts through the account-wide index, a scan of the whole account."""
        if self._db.dialect.name == "postgresql":
            sql = "ANALYZE customers, contacts, aliases, integration_ids, customer_properties"
        elif final:
            sql = "ANALYZE"
        else:
            return
        async with self._db.transaction() as conn:
            if self._db.dialect.name == "sqlite":
                await conn.execute("PRAGMA analysis_limit=1000")  # bounded: samples each index
            await conn.execute(sql)

    async def insert(self, customers: Sequence[NewCustomer], at: int) -> None:
        """All of `customers` in one transaction, or none (UniqueViolation on a clash)."""
        account = self._account
        rows: list[tuple[Any, ...]] = []
        contacts: list[tuple[Any, ...]] = []
        aliases: list[tuple[Any, ...]] = []
        integration_ids: list[tuple[Any, ...]] = []
        properties: list[tuple[Any, ...]] = []
        for c in customers:
            d = c.draft
            status = (d.status or CustomerStatus.ACTIVE).value
            rows.append((c.id, account, at, at, 1, *editable_values(d), status))
            contacts += [
                (
                    new_id(),
                    account,
                    c.id,
                    x.name,
                    x.email,
                    email_key(x.email),
                    x.billing_preference.value,
                    at,
                    at,
                )
                for x in d.contacts
            ]
            aliases += [(new_id(), account, c.id, v, at) for v in d.aliases or ()]
            integration_ids += [
                (account, c.id, i, x.service.value, x.external_id, x.is_pending, x.last_synced)
                for i, x in enumerate(c.integration_ids)
            ]
            properties += [(account, c.id, k, v) for k, v in (d.custom_properties or {}).items()]
        async with self._db.transaction() as conn:
            await conn.copy_records("customers", _CUSTOMERS, rows)
            for table, columns, records in (
                ("contacts", _CONTACTS, contacts),
                ("aliases", _ALIASES, aliases),
                ("integration_ids", _INTEGRATION_IDS, integration_ids),
                ("customer_properties", _PROPERTIES, properties),
            ):
                if records:
                    await conn.copy_records(table, columns, records)
