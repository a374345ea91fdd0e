"""`Store.request_transaction`: units opened inside it join one transaction (idempotency keys)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from patron.api.versions import LATEST
from patron.api.wire.snapshots import WireSnapshots
from patron.domain.errors import Invalid, NotFound
from patron.domain.writes import Actor
from patron.services.credentials import CredentialService
from patron.services.customers import CustomerService
from patron.services.history import History
from patron.storage import open_database
from patron.storage.accounts import AccountStore
from patron.storage.database import Database
from patron.storage.migrate import migrate
from patron.storage.unit import Store
from tests.factories import customer_body

TEST_ACTOR = Actor("test")


def draft(**overrides: Any) -> Any:
    return LATEST.create_write(json.dumps(customer_body(**overrides)).encode())


class TestRequestTransaction:
    async def test_units_inside_commit_together(self, db: Database, account: str) -> None:
        store, customers = Store(db), CustomerService(Store(db), History(WireSnapshots()))
        async with store.request_transaction(account):
            one = await customers.create(account, actor=TEST_ACTOR, write=draft())
            two = await customers.create(account, actor=TEST_ACTOR, write=draft())
            # Reads inside see the request's uncommitted writes.
            assert (await customers.get(account, one.id)).id == one.id
        assert {(await customers.get(account, c.id)).id for c in (one, two)} == {one.id, two.id}

    async def test_an_error_undoes_every_unit(self, db: Database, account: str) -> None:
        store, customers = Store(db), CustomerService(Store(db), History(WireSnapshots()))
        created: list[str] = []

        async def crash_after_a_create() -> None:
            async with store.request_transaction(account):
                created.append(
                    (await customers.create(account, actor=TEST_ACTOR, write=draft())).id
                )
                raise RuntimeError("crash")

        with pytest.raises(RuntimeError):
            await crash_after_a_create()
        with pytest.raises(NotFound):
            await customers.get(account, created[0])

    async def test_a_failed_unit_is_undone_alone_when_its_error_is_caught(
        self, db: Database, account: str
    ) -> None:
        store, customers = Store(db), CustomerService(Store(db), History(WireSnapshots()))
        async with store.request_transaction(account):
            kept = await customers.create(account, actor=TEST_ACTOR, write=draft())
            with pytest.raises(Invalid):
                # Inserts the customer, then finds the parent missing: the savepoint undoes it.
                await customers.create(
                    account,
                    draft(legalName="Orphan", parentId=str(uuid.uuid4())),
                    actor=TEST_ACTOR,
                )
        async with db.read() as conn:
            names = await conn.fetch(
                "SELECT legal_name FROM customers WHERE account_id = $1", account
            )
        assert [r["legal_name"] for r in names] == [kept.legal_name]

    async def test_a_direct_sqlite_transaction_inside_fails_instead_of_hanging(
        self, tmp_path: Path
    ) -> None:
        # SQLite only (PostgreSQL hands out another pooled connection: nothing to hang on), so it
        # runs on its own SQLite file whichever engine the suite targets.
        url = f"sqlite:///{tmp_path / 'guard.db'}"
        migrate(url)
        sqlite = await open_database(url)
        try:
            account = (await CredentialService(AccountStore(sqlite)).create("guard")).credential
            with pytest.raises(RuntimeError, match="holds the SQLite write transaction"):
                async with (
                    Store(sqlite).request_transaction(account.account_id),
                    sqlite.transaction(),
                ):
                    pass
        finally:
            await sqlite.close()
