"""`BulkStore`: the import's batches, written the fast way, keep the counts and the unique indexes
(on PostgreSQL in the replica role, where foreign keys and ordinary triggers do not fire)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from patron.domain.customers import Address, ContactDraft, CustomerDraft, IntegrationId
from patron.domain.enums import BillingPreference, IntegrationService, TaxStatus
from patron.domain.ids import new_id, now_micros
from patron.storage.bulk import BulkStore, NewCustomer
from patron.storage.database import Database, UniqueViolation
from patron.storage.migrate import migrate
from patron.storage.sqlite import SQLiteDatabase


@pytest.fixture
async def store(db: Database, account: str) -> BulkStore:
    bulk = BulkStore(db, account)
    await bulk.prepare()
    return bulk


def new_customer(*, alias: str | None = None, **properties: str) -> NewCustomer:
    draft = CustomerDraft(
        legal_name="Bulk Ltd",
        address=Address(line1="1 Main St", town="Leeds", postcode="LS1 1AA", country="GB"),
        tax_status=TaxStatus.TAXED,
        contacts=[
            ContactDraft("Ann", f"{uuid.uuid4().hex}@example.com", BillingPreference.PRIMARY)
        ],
        aliases=[alias or f"crm-{uuid.uuid4().hex}"],
        custom_properties=properties,
    )
    return NewCustomer(new_id(), draft, [])


async def counts(db: Database, account: str) -> tuple[int, dict[str, int]]:
    async with db.read() as conn:
        total = await conn.fetchval(
            "SELECT COALESCE(SUM(total), 0) FROM customer_counts WHERE account_id = $1", account
        )
        rows = await conn.fetch(
            "SELECT key, SUM(holders) AS holders FROM property_counts WHERE account_id = $1"
            " GROUP BY key",
            account,
        )
    return int(total), {r["key"]: int(r["holders"]) for r in rows}


class TestPrepare:
    async def test_sets_the_connection_up_for_bulk_work(
        self, engine: str, db: Database, store: BulkStore
    ) -> None:
        if engine == "postgresql":
            # The test role is a superuser and every trigger on the written tables is ALWAYS
            # (migration 0009): a trigger added without it turns this off, and this test red.
            assert store.skips_foreign_keys
            return
        assert not store.skips_foreign_keys
        async with db.read() as conn:
            assert await conn.fetchval("PRAGMA temp_store") == 2  # memory
            assert await conn.fetchval("PRAGMA wal_autocheckpoint") > 1000


class TestInsert:
    async def test_counts_follow_the_batch(
        self, db: Database, account: str, store: BulkStore
    ) -> None:
        batch = [new_customer(region="emea"), new_customer(region="apac"), new_customer(tier="1")]
        await store.insert(batch, now_micros())
        await store.insert([new_customer(region="amer")], now_micros())
        assert await counts(db, account) == (4, {"region": 3, "tier": 1})

    async def test_a_clash_writes_nothing_of_the_batch(
        self, db: Database, account: str, store: BulkStore
    ) -> None:
        await store.insert([new_customer(alias="taken")], now_micros())
        with pytest.raises(UniqueViolation):
            await store.insert(
                [new_customer(region="emea"), new_customer(alias="taken")], now_micros()
            )
        assert await counts(db, account) == (1, {})
        async with db.read() as conn:
            customers = await conn.fetchval(
                "SELECT count(*) FROM customers WHERE account_id = $1", account
            )
        assert customers == 1

    async def test_values_are_stored_as_given(
        self, db: Database, account: str, store: BulkStore
    ) -> None:
        # SQLite writes a table's rows as one JSON array (storage/sqlite.py, bulk_insert): text
        # with quotes, backslashes and non-ASCII, integers, booleans and NULL come back as bound.
        name = 'Ünïcødé "Quoted" \\ Ltd ☃ 😀'
        draft = replace(new_customer(region="a'b\"c\\d").draft, legal_name=name, url=None)
        customer = NewCustomer(
            new_id(),
            draft,
            [
                IntegrationId(IntegrationService.XERO, "x-1"),
                IntegrationId(IntegrationService.SALESFORCE, "", is_pending=True),
            ],
        )
        at = now_micros()
        await store.insert([customer], at)
        async with db.read() as conn:
            row = await conn.fetchrow(
                "SELECT legal_name, url, created_at, revision FROM customers WHERE id = $1",
                customer.id,
            )
            ids = await conn.fetch(
                "SELECT position, service, external_id, is_pending, last_synced"
                " FROM integration_ids WHERE customer_id = $1 ORDER BY position",
                customer.id,
            )
            value = await conn.fetchval(
                "SELECT value FROM customer_properties WHERE customer_id = $1", customer.id
            )
        assert row is not None
        assert (row["legal_name"], row["url"], row["created_at"], row["revision"]) == (
            name,
            None,
            at,
            1,
        )
        assert [tuple(r) for r in ids] == [
            (0, "Xero", "x-1", False, None),
            (1, "Salesforce", "", True, None),
        ]
        assert value == "a'b\"c\\d"


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    """A SQLite file of the test's own, whichever engine the suite runs on."""
    path = tmp_path / "bulk.db"
    migrate(f"sqlite:///{path}")
    db = SQLiteDatabase(str(path))
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def sqlite_store(sqlite_file: SQLiteDatabase) -> BulkStore:
    """A bulk store for account `acct` of `sqlite_file`, prepared."""
    async with sqlite_file.transaction() as conn:
        await conn.execute("INSERT INTO accounts (id, name, created_at) VALUES ($1, $1, 0)", "acct")
    store = BulkStore(sqlite_file, "acct")
    await store.prepare()
    return store


class TestBulkInsert:
    async def test_a_cancelled_write_is_whole_and_leaves_the_database_usable(
        self, db: Database, account: str, store: BulkStore
    ) -> None:
        # Cancelled while the batch is being written (on SQLite, by a worker thread that cannot
        # be stopped): the batch is written whole or not at all, and the next write works.
        batch = [new_customer(region="emea") for _ in range(2000)]
        writing = asyncio.ensure_future(store.insert(batch, now_micros()))
        await asyncio.sleep(0.01)
        writing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writing
        written, _ = await counts(db, account)
        assert written in (0, 2000)
        await store.insert([new_customer(region="apac")], now_micros())
        assert (await counts(db, account))[0] == written + 1

    async def test_sqlite_writes_the_whole_transaction_off_the_event_loop(
        self, sqlite_file: SQLiteDatabase, sqlite_store: BulkStore
    ) -> None:
        # The commit too (which may copy the WAL back into the file) runs on the worker thread,
        # not the loop's.
        db, store = sqlite_file, sqlite_store
        threads: dict[str, set[int]] = {}

        def traced(sql: str) -> None:
            threads.setdefault(sql.split()[0], set()).add(threading.get_ident())

        db._raw.set_trace_callback(traced)
        await store.insert([new_customer(region="emea")], now_micros())
        db._raw.set_trace_callback(None)
        assert (await counts(db, "acct"))[0] == 1
        loop_thread = threading.get_ident()
        for statement in ("BEGIN", "INSERT", "COMMIT"):
            assert threads.get(statement), statement
            assert loop_thread not in threads[statement], statement

    async def test_sqlite_write_starts_while_the_loop_is_busy(
        self, sqlite_file: SQLiteDatabase, sqlite_store: BulkStore
    ) -> None:
        # The importer plans the next batch right after handing a batch over, without awaiting
        # anything for tens of milliseconds: the write must already be on its thread by then.
        db, store = sqlite_file, sqlite_store
        committed = threading.Event()
        db._raw.set_trace_callback(lambda sql: committed.set() if sql == "COMMIT" else None)
        try:
            writing = asyncio.ensure_future(store.insert([new_customer()], now_micros()))
            await asyncio.sleep(0)  # the write task runs up to its first wait
            # The loop's thread now blocks, as a busy importer does, without a turn of the loop.
            assert committed.wait(timeout=10)
            await writing
        finally:
            db._raw.set_trace_callback(None)
        assert (await counts(db, "acct"))[0] == 1

    async def test_sqlite_reads_beside_a_write_wait_for_it_and_see_its_rows(
        self, sqlite_file: SQLiteDatabase
    ) -> None:
        # The import's look-ups for the next batch share SQLite's one connection with the write
        # on its worker thread: they wait for it to commit, never read half of it.
        db = sqlite_file
        query = "SELECT count(*) FROM accounts WHERE id = $1"
        release = asyncio.Event()

        async def write() -> None:
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO accounts (id, name, created_at) VALUES ($1, $1, 0)", "acct"
                )
                await release.wait()

        async def read() -> int:
            async with db.read_beside() as beside:
                return int(await beside.fetchval(query, "acct"))

        writing = asyncio.ensure_future(write())
        await asyncio.sleep(0)
        reading = asyncio.ensure_future(read())
        done, _ = await asyncio.wait([reading], timeout=0.2)
        assert not done  # waits for the open write
        release.set()
        await writing
        assert await reading == 1
