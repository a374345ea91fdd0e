"""Migration 0011 backfills `label_counts` from the customers already stored, and its triggers
count from there on. Runs on a database of its own (a new SQLite file, or a new PostgreSQL
database on the suite's server), migrated to 0010 first, whichever engine the suite targets."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from patron.domain.customers import Address, ContactDraft, CustomerDraft
from patron.domain.enums import BillingPreference, TaxStatus
from patron.domain.ids import new_id, now_micros
from patron.services.credentials import CredentialService
from patron.storage import open_database
from patron.storage.accounts import AccountStore
from patron.storage.bulk import BulkStore, NewCustomer
from patron.storage.database import Database
from patron.storage.migrate import migrate

pytestmark = pytest.mark.asyncio


def labelled(label: str | None) -> NewCustomer:
    draft = CustomerDraft(
        legal_name="Backfill Ltd",
        address=Address(line1="1 Main St", town="Leeds", postcode="LS1 1AA", country="GB"),
        tax_status=TaxStatus.TAXED,
        contacts=[
            ContactDraft("Ann", f"{uuid.uuid4().hex}@example.com", BillingPreference.PRIMARY)
        ],
        label=label,
    )
    return NewCustomer(new_id(), draft, [])


async def by_label(db: Database, sql: str) -> dict[tuple[str, str], tuple[int, int]]:
    async with db.read() as conn:
        rows = await conn.fetch(sql)
    return {
        (r["account_id"], r["label_key"]): (int(r["live"]), int(r["total"]))
        for r in rows
        if r["total"]
    }


COUNTED = (
    "SELECT account_id, label_key, SUM(live) AS live, SUM(total) AS total FROM label_counts"
    " GROUP BY account_id, label_key"
)
ACTUAL = (
    "SELECT account_id, label_key, SUM(CASE WHEN archived_at IS NULL THEN 1 ELSE 0 END) AS live,"
    " COUNT(*) AS total FROM customers WHERE label_key IS NOT NULL GROUP BY account_id, label_key"
)


async def test_upgrade_counts_existing_customers_then_triggers_follow(fresh_url: str) -> None:
    await asyncio.to_thread(migrate, fresh_url, "0010")
    db = await open_database(fresh_url, pool_min=1, pool_max=2)
    try:
        accounts = []
        for name in ("backfill-a", "backfill-b"):
            issued = await CredentialService(AccountStore(db)).create(name)
            accounts.append(issued.credential.account_id)
        first = [labelled(label) for label in ("Gold", "GOLD", "gold", "Silver", None)]
        await BulkStore(db, accounts[0]).insert(first, now_micros())
        await BulkStore(db, accounts[1]).insert([labelled("gold")], now_micros())
        async with db.transaction() as conn:
            await conn.execute("UPDATE customers SET archived_at = 1 WHERE id = $1", first[1].id)
    finally:
        await db.close()

    await asyncio.to_thread(migrate, fresh_url)
    db = await open_database(fresh_url, pool_min=1, pool_max=2)
    try:
        expected = {
            (accounts[0], "gold"): (2, 3),
            (accounts[0], "silver"): (1, 1),
            (accounts[1], "gold"): (1, 1),
        }
        assert await by_label(db, ACTUAL) == expected
        assert await by_label(db, COUNTED) == expected
        # From here on the triggers keep them: an import batch, then a restore.
        store = BulkStore(db, accounts[0])
        await store.prepare()
        await store.insert([labelled("SILVER"), labelled("Bronze")], now_micros())
        async with db.transaction() as conn:
            await conn.execute("UPDATE customers SET archived_at = NULL WHERE id = $1", first[1].id)
        assert await by_label(db, COUNTED) == await by_label(db, ACTUAL)
        assert (await by_label(db, COUNTED))[(accounts[0], "gold")] == (3, 3)
    finally:
        await db.close()
