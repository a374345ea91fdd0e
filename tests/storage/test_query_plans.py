"""SQLite plans without statistics: the reads of one customer must use indexes that pin the
customer, not scan the account. Runs on a fresh SQLite file whichever engine the suite targets."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from patron.api.wire.snapshots import WireSnapshots
from patron.domain.customers import Address, ContactDraft, CustomerDraft
from patron.domain.enums import BillingPreference, SortOrder, TaxStatus
from patron.domain.listing import CustomerFilters, PageRequest, SortKey
from patron.domain.writes import Actor
from patron.services.customers import CustomerService
from patron.services.history import History
from patron.storage.migrate import migrate
from patron.storage.sqlite import SQLiteConnection, SQLiteDatabase, _to_sqlite
from patron.storage.unit import Store

TEST_ACTOR = Actor("test")

pytestmark = pytest.mark.asyncio

CHILD_TABLES = (
    "contacts",
    "aliases",
    "integration_ids",
    "customer_properties",
    "organization_members",
)


async def test_reading_a_customer_pins_it_in_every_child_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plans.db"
    migrate(f"sqlite:///{path}")
    db = SQLiteDatabase(str(path))
    service = CustomerService(Store(db), History(WireSnapshots()))
    account = "acct"
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO accounts (id, name, created_at) VALUES ($1, $1, 0)", account
        )
    draft = CustomerDraft(
        legal_name="Plan Ltd",
        address=Address(line1="1 A St", town="Town", postcode="1", country="GB"),
        tax_status=TaxStatus.TAXED,
        contacts=[ContactDraft("Ann", "ann@example.com", BillingPreference.PRIMARY)],
        aliases=["plan-1"],
        custom_properties={"tier": "gold"},
    )
    created = await service.create(account, actor=TEST_ACTOR, write=draft)

    seen: list[tuple[str, tuple[Any, ...]]] = []
    original = SQLiteConnection._run

    def recording(self: SQLiteConnection, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        seen.append((sql, args))
        return original(self, sql, args)

    monkeypatch.setattr(SQLiteConnection, "_run", recording)
    await service.get(account, created.id)
    monkeypatch.undo()

    raw = sqlite3.connect(path)
    checked = 0
    for sql, args in seen:
        params = tuple(json.dumps(a) if isinstance(a, list | tuple) else a for a in args)
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + _to_sqlite(sql), params)]
        for line in plan:
            table = re.match(r"SEARCH (\w+)", line)
            if table and table.group(1) in CHILD_TABLES:
                checked += 1
                assert "customer_id=?" in line, f"{line}\n  for {sql}"
            assert not re.match(rf"SCAN ({'|'.join(CHILD_TABLES)})\b", line), f"{line}\n  for {sql}"
    raw.close()
    await db.close()
    assert checked >= 3


async def test_a_custom_property_sort_walks_the_property_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every customer holds the key: the page is a walk of customer_properties_account_key in
    value order, each customer looked up by (account, id); no sort of the account."""
    path = tmp_path / "sort.db"
    migrate(f"sqlite:///{path}")
    db = SQLiteDatabase(str(path))
    service = CustomerService(Store(db), History(WireSnapshots()))
    account = "acct"
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO accounts (id, name, created_at) VALUES ($1, $1, 0)", account
        )
    for n in range(5):
        draft = CustomerDraft(
            legal_name=f"Sort {n}",
            address=Address(line1="1 A St", town="Town", postcode="1", country="GB"),
            tax_status=TaxStatus.TAXED,
            contacts=[],
            custom_properties={"score": f"{n * 7 % 5}"},
        )
        await service.create(account, actor=TEST_ACTOR, write=draft)

    seen: list[tuple[str, tuple[Any, ...]]] = []
    original = SQLiteConnection._run

    def recording(self: SQLiteConnection, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        seen.append((sql, args))
        return original(self, sql, args)

    monkeypatch.setattr(SQLiteConnection, "_run", recording)
    page = await service.page(
        account,
        CustomerFilters(),
        PageRequest(sort=SortKey("customProperties", SortOrder.ASC, "score"), limit=2),
    )
    monkeypatch.undo()
    assert [c.custom_properties["score"] for c in page.items] == ["0", "1"]

    raw = sqlite3.connect(path)
    walks = [sql for sql, _ in seen if "customer_properties p CROSS JOIN customers" in sql]
    assert walks
    for sql, args in seen:
        if sql not in walks:
            continue
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + _to_sqlite(sql), args)]
        assert any("customer_properties_account_key" in line for line in plan), plan
        assert any("customers_account_id (account_id=? AND id=?)" in line for line in plan), plan
        assert not any(line.startswith("SCAN") for line in plan), plan
    raw.close()
    await db.close()
