"""Bulk writes for `patron import`: whole batches of new customers in one transaction each.

Rows go in with `Database.bulk_insert` (COPY on PostgreSQL, one INSERT ... SELECT FROM json_each
per table on SQLite, on a worker thread), skipping the per-customer statements of the API's write
path. The import service has already checked every row; the unique indexes still guard the
database against a concurrent write.

`prepare` sets the import's connections up for bulk work (docs/import.md, "Speed"): on PostgreSQL
batches skip the foreign-key checks where the role may (`session_replication_role = replica`);
on SQLite statement journals stay in memory and the WAL is checkpointed less often.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from patron.domain.customers import CustomerDraft, IntegrationId, email_key
from patron.domain.enums import CustomerStatus
from patron.domain.ids import new_ids
from patron.storage.customers import editable_values
from patron.storage.database import BulkRows, Database

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
_TABLES = ("customers", "contacts", "aliases", "integration_ids", "customer_properties")

# Pages (4 KiB) of WAL before SQLite copies them back into the database file. The default, 1,000,
# checkpoints every few batches, rewriting the same index pages each time, and each checkpoint ends
# in an fsync that the write waits for; 64,000 (256 MiB) lets a page changed by many batches be
# copied back once (16,000 cost a 1M import ~6 s more: docs/performance.md, "Session 8: import").
_SQLITE_CHECKPOINT_PAGES = 64_000


@dataclass(slots=True)  # one per imported row: not frozen, which costs 4 times as much to make
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
        self._replica = False

    async def prepare(self) -> None:
        """Once, before the first batch."""
        if self._db.dialect.name == "sqlite":
            async with self._db.read() as conn:
                # A statement that fires a trigger (the count triggers) keeps a statement journal;
                # in a file, that was a third of the import's CPU time (system calls).
                await conn.execute("PRAGMA temp_store=MEMORY")
                await conn.execute(f"PRAGMA wal_autocheckpoint={_SQLITE_CHECKPOINT_PAGES}")
            return
        self._replica = await self._may_skip_foreign_keys()

    async def _may_skip_foreign_keys(self) -> bool:
        """Whether batches may run in the replica role, where PostgreSQL skips the foreign-key
        checks (a batch's rows hang off customers and an account of the same transaction, so
        they hold by construction) and every trigger not set to fire ALWAYS. So: only when the
        role may set it (superuser, or granted SET on the parameter, PostgreSQL 15+) and every
        trigger on the tables written is ALWAYS (migration 0009), or counts would go wrong."""
        async with self._db.read() as conn:
            if await conn.fetchval("SELECT current_setting('is_superuser')") != "on":
                version = await conn.fetchval("SELECT current_setting('server_version_num')")
                if int(version) < 150000 or not await conn.fetchval(
                    "SELECT has_parameter_privilege('session_replication_role', 'SET')"
                ):
                    return False
            not_always = await conn.fetchval(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'A'"
                " AND tgrelid = ANY(SELECT to_regclass(t) FROM unnest($1::text[]) AS t)",
                list(_TABLES),
            )
        return bool(not_always == 0)

    @property
    def batches_in_flight(self) -> int:
        """How many batches may be on their way at once, each written in its own transaction
        (docs/import.md, "Speed"): on PostgreSQL two, on two connections, so that one batch's
        rows are built and sent while the server indexes the other's. SQLite has one writer and
        one connection: one, while the importer prepares the next batch (its look-ups run
        between two writes)."""
        return 1 if self._db.dialect.name == "sqlite" else 2

    @property
    def skips_foreign_keys(self) -> bool:
        return self._replica

    async def id_holders(self, ids: Sequence[str]) -> dict[str, Holder]:
        """Customers with these ids, in any account (ids are unique across the instance)."""
        if not ids:
            return {}
        async with self._db.read_beside() as conn:
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
        async with self._db.read_beside() as conn:
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
            # Midway, only the tables the look-ups read; at the end every table, for the API.
            sql = "ANALYZE " + (", ".join(_TABLES) if final else "customers, aliases")
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
        await self.write(self.rows(customers, at))

    async def write(self, rows: Sequence[BulkRows]) -> None:
        """Rows made by `rows`, in one transaction, or none (UniqueViolation on a clash)."""
        await self._db.bulk_insert(
            rows, setup=["SET LOCAL session_replication_role = replica"] if self._replica else []
        )

    def rows(self, customers: Sequence[NewCustomer], at: int) -> list[BulkRows]:
        """The rows of each table that make `customers`, created at `at`. Made apart from the
        write so that the importer builds a batch's rows while the one before is written."""
        account = self._account
        customer_rows: list[tuple[Any, ...]] = []
        contacts: list[tuple[Any, ...]] = []
        aliases: list[tuple[Any, ...]] = []
        integration_ids: list[tuple[Any, ...]] = []
        properties: list[tuple[Any, ...]] = []
        ids = iter(
            new_ids(sum(len(c.draft.contacts) + len(c.draft.aliases or ()) for c in customers))
        )
        active = CustomerStatus.ACTIVE.value
        for c in customers:
            d, cid = c.draft, c.id
            customer_rows.append(
                (
                    cid,
                    account,
                    at,
                    at,
                    1,
                    *editable_values(d),
                    d.status.value if d.status else active,
                )
            )
            for x in d.contacts:
                contacts.append(
                    (next(ids), account, cid, x.name, x.email, email_key(x.email),
                     x.billing_preference.value, at, at)
                )  # fmt: skip
            # Loops rather than comprehensions: a comprehension is a call of its own, and most
            # customers have one alias and a few properties.
            for v in d.aliases or ():
                aliases.append((next(ids), account, cid, v, at))
            if c.integration_ids:
                integration_ids += [
                    (account, cid, i, x.service.value, x.external_id, x.is_pending, x.last_synced)
                    for i, x in enumerate(c.integration_ids)
                ]
            if d.custom_properties:
                for k, v in d.custom_properties.items():
                    properties.append((account, cid, k, v))
        return [
            ("customers", _CUSTOMERS, customer_rows),
            ("contacts", _CONTACTS, contacts),
            ("aliases", _ALIASES, aliases),
            ("integration_ids", _INTEGRATION_IDS, integration_ids),
            ("customer_properties", _PROPERTIES, properties),
        ]
