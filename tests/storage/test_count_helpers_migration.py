"""Migration 0014 turns the count helpers into PL/pgSQL functions (their statement planned once
per connection) and back: the counts stay exact across the upgrade and the downgrade, through
the paths that call the helpers (an insert's customer count, an archive and a restore)."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command

from patron.services.credentials import CredentialService
from patron.storage import open_database
from patron.storage.accounts import AccountStore
from patron.storage.bulk import BulkStore
from patron.storage.database import Database
from patron.storage.migrate import _config, migrate

from .test_label_counts_migration import ACTUAL, COUNTED, by_label, labelled

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres_only]

HELPERS = ("patron_counts_add", "patron_label_counts_add")
CUSTOMERS_COUNTED = "SELECT SUM(live) AS live, SUM(total) AS total FROM customer_counts"
CUSTOMERS_ACTUAL = (
    "SELECT SUM(CASE WHEN archived_at IS NULL THEN 1 ELSE 0 END) AS live, COUNT(*) AS total"
    " FROM customers"
)


async def languages(db: Database) -> dict[str, str]:
    async with db.read() as conn:
        rows = await conn.fetch(
            "SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
            f" WHERE p.proname {db.dialect.any_of('$1', 'text')}",
            list(HELPERS),
        )
    return {r["proname"]: r["lanname"] for r in rows}


async def write_and_count(db: Database, account: str) -> None:
    """An import batch (customer and label counts per statement), then an archive and a restore
    of one customer (each a call of both helpers); the counts must equal the rows."""
    batch = [labelled(label) for label in ("Gold", "gold", None)]
    await BulkStore(db, account).insert(batch, 1)
    for archived_at in (1, None):
        async with db.transaction() as conn:
            await conn.execute(
                "UPDATE customers SET archived_at = $1 WHERE id = $2", archived_at, batch[0].id
            )
        async with db.read() as conn:
            counted = await conn.fetchrow(CUSTOMERS_COUNTED)
            actual = await conn.fetchrow(CUSTOMERS_ACTUAL)
        assert counted is not None
        assert actual is not None
        assert tuple(counted) == tuple(actual)
        assert await by_label(db, COUNTED) == await by_label(db, ACTUAL)


async def test_helpers_are_plpgsql_and_counts_stay_exact_both_ways(fresh_url: str) -> None:
    await asyncio.to_thread(migrate, fresh_url, "0013")
    db = await open_database(fresh_url, pool_min=1, pool_max=2)
    try:
        assert await languages(db) == dict.fromkeys(HELPERS, "sql")
        issued = await CredentialService(AccountStore(db)).create("helpers")
        account = issued.credential.account_id
        await write_and_count(db, account)
    finally:
        await db.close()

    await asyncio.to_thread(migrate, fresh_url)
    db = await open_database(fresh_url, pool_min=1, pool_max=2)
    try:
        assert await languages(db) == dict.fromkeys(HELPERS, "plpgsql")
        await write_and_count(db, account)
    finally:
        await db.close()

    await asyncio.to_thread(command.downgrade, _config(fresh_url), "0013")
    db = await open_database(fresh_url, pool_min=1, pool_max=2)
    try:
        assert await languages(db) == dict.fromkeys(HELPERS, "sql")
        await write_and_count(db, account)
        async with db.read() as conn:
            total = await conn.fetchval("SELECT SUM(total) FROM customer_counts")
        assert total == 9
    finally:
        await db.close()
