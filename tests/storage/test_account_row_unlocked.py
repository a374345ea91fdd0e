"""Migration 0015 (PostgreSQL): a customer write does not lock its account's row, the per-customer
tables reference their customer within the same account, and accounts are permanent."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from alembic import command
from argon2 import PasswordHasher

from patron.app import build_services, create_app
from patron.cli import main
from patron.config import Settings
from patron.services.credentials import CredentialService
from patron.storage.accounts import AccountStore
from patron.storage.database import Database
from patron.storage.migrate import _config, migrate
from tests.conftest import auth_header
from tests.factories import contact, customer_body

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres_only]

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
# Every per-customer table a create writes, and the events.
FULL = {
    "customerAliases": ["crm-1"],
    "customProperties": {"region": "emea", "tier": "gold"},
    "integrationIds": [{"service": "Stripe", "id": "cus_1"}],
    "contacts": [
        contact(email="a@example.com", billingPreference="PRIMARY"),
        contact(email="b@example.com", billingPreference="NONE"),
    ],
}
# Which tables lost their reference to `accounts` (UNREFERENCED), and which reference their
# customer within its account instead (CHILDREN).
MIGRATION = importlib.import_module("patron.storage.migrations.versions.0015_account_row_unlocked")
CHILDREN: tuple[str, ...] = MIGRATION.CHILDREN
UNREFERENCED: tuple[str, ...] = MIGRATION.UNREFERENCED
HOOK = "https://hooks.example.com/in"


async def create_while_locked(url: str, settings: Settings, *, webhook: bool = False) -> int | None:
    """POST a customer (every per-customer part, and an idempotency key) while another
    transaction holds its account's row FOR UPDATE, which conflicts with a foreign-key check's
    KEY SHARE; with `webhook`, the account has a live policy, whose row and recipient's row are
    held too. The status, or None when the create was still waiting after two seconds."""
    services, store = await build_services(settings.but(database_url=url), password_hasher=CHEAP)
    holder = await asyncpg.connect(url)
    try:
        issued = await services.credentials.create(f"locked-{uuid.uuid4().hex[:8]}")
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(services.settings, services=services)),
                base_url="http://testserver/api",
                headers=auth_header(issued),
            ) as client,
            holder.transaction(),
        ):
            held = ["SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE"]
            if webhook:
                policy = {"name": "hooks", "channel": "WEBHOOK", "recipients": [HOOK]}
                created = await client.post("/notifications/policies", json=policy)
                assert created.status_code == 201, created.text
                held += [
                    "SELECT 1 FROM notification_policies WHERE account_id = $1 FOR UPDATE",
                    "SELECT 1 FROM notification_recipients r JOIN notification_policies p"
                    " ON p.id = r.policy_id WHERE p.account_id = $1 FOR UPDATE OF r",
                ]
            for sql in held:
                await holder.execute(sql, issued.credential.account_id)
            try:
                async with asyncio.timeout(2):
                    response = await client.post(
                        "/customers",
                        json=customer_body(**FULL),
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                    )
            except TimeoutError:
                return None
        return response.status_code
    finally:
        await holder.close()
        await store.close()


async def test_a_create_waits_for_the_account_row_before_0015_and_not_after(
    fresh_url: str, settings: Settings
) -> None:
    await asyncio.to_thread(migrate, fresh_url, "0014")
    assert await create_while_locked(fresh_url, settings) is None
    await asyncio.to_thread(migrate, fresh_url, "0015")
    assert await create_while_locked(fresh_url, settings) == 201


@pytest.fixture
async def raw(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def insert_customer(conn: asyncpg.Connection, account: str) -> str:
    """A bare customer row of `account`, written with SQL; its id."""
    customer_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO customers (id, account_id, created_at, updated_at, revision, legal_name,"
        " legal_name_key, line1, town, postcode, country, tax_status, status)"
        " VALUES ($1, $2, 1, 1, 1, 'X Ltd', 'x ltd', '1 St', 'Leeds', 'LS1', 'GB', 'TAXED',"
        " 'ACTIVE')",
        customer_id,
        account,
    )
    return customer_id


async def test_a_part_of_another_accounts_customer_is_refused(
    raw: asyncpg.Connection, account: str, db: Database
) -> None:
    """A contact, custom property, alias or integration id names its customer's account, or is
    refused; deleting the customer still takes its parts along."""
    issued = await CredentialService(AccountStore(db)).create(f"other-{uuid.uuid4().hex[:8]}")
    other = issued.credential.account_id
    customer_id = await insert_customer(raw, account)
    parts = {
        "contacts": "INSERT INTO contacts (id, account_id, customer_id, name, email, email_key,"
        " billing_preference, created_at, updated_at, revision)"
        " VALUES ($3, $1, $2, 'Ann', 'a@x.com', 'a@x.com', 'PRIMARY', 1, 1, 1)",
        "customer_properties": "INSERT INTO customer_properties (account_id, customer_id, key,"
        " value) VALUES ($1, $2, $3, 'v')",
        "aliases": "INSERT INTO aliases (id, account_id, customer_id, value, created_at,"
        " revision) VALUES ($3, $1, $2, $3, 1, 1)",
        "integration_ids": "INSERT INTO integration_ids (account_id, customer_id, position,"
        " service, external_id, is_pending) VALUES ($1, $2, length($3), 'Stripe', $3, false)",
    }
    assert set(parts) == set(CHILDREN)
    for sql in parts.values():
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await raw.execute(sql, other, customer_id, str(uuid.uuid4()))
        await raw.execute(sql, account, customer_id, str(uuid.uuid4()))
    await raw.execute("DELETE FROM customers WHERE id = $1", customer_id)
    for table in parts:
        left = await raw.fetchval(
            f"SELECT count(*) FROM {table} WHERE customer_id = $1", customer_id
        )
        assert left == 0


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM accounts WHERE id = $1",
        "UPDATE accounts SET id = id || '-moved' WHERE id = $1",
    ],
)
async def test_an_account_is_never_deleted_or_renumbered(
    raw: asyncpg.Connection, account: str, sql: str
) -> None:
    with pytest.raises(asyncpg.PostgresError, match="accounts are permanent") as refused:
        await raw.execute(sql, account)
    assert refused.value.sqlstate == "PA002"
    assert await raw.fetchval("SELECT count(*) FROM accounts WHERE id = $1", account) == 1


async def test_accounts_are_never_truncated(raw: asyncpg.Connection, account: str) -> None:
    with pytest.raises(asyncpg.PostgresError, match="accounts are permanent") as refused:
        await raw.execute("TRUNCATE accounts CASCADE")
    assert refused.value.sqlstate == "PA002"
    assert await raw.fetchval("SELECT count(*) FROM accounts WHERE id = $1", account) == 1


async def test_an_account_keeps_its_name_changeable(raw: asyncpg.Connection, account: str) -> None:
    """Only the id is permanent: the guard fires on `UPDATE OF id`, not on every update."""
    renamed = await raw.fetchval(
        "UPDATE accounts SET name = name || '-renamed' WHERE id = $1 RETURNING name", account
    )
    assert renamed.endswith("-renamed")


async def test_the_downgrade_restores_the_references(fresh_url: str) -> None:
    await asyncio.to_thread(migrate, fresh_url, "0015")
    await asyncio.to_thread(command.downgrade, _config(fresh_url), "0014")
    conn = await asyncpg.connect(fresh_url)
    try:
        rows = await conn.fetch(
            "SELECT conrelid::regclass::text AS t, pg_get_constraintdef(oid) AS d"
            " FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY($1)",
            [*CHILDREN, *UNREFERENCED],
        )
        found = {(r["t"], r["d"]) for r in rows}
        for table in UNREFERENCED:
            assert (table, "FOREIGN KEY (account_id) REFERENCES accounts(id)") in found
        for table in CHILDREN:
            assert (table, "FOREIGN KEY (account_id) REFERENCES accounts(id)") in found
            assert (
                table,
                "FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE",
            ) in found
        triggers = await conn.fetchval(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'accounts'::regclass"
            " AND NOT tgisinternal"
        )
        assert triggers == 0
    finally:
        await conn.close()


async def test_the_upgrade_refuses_parts_of_another_accounts_customer_and_changes_nothing(
    fresh_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows the new reference would refuse (written before it existed) stop `patron migrate`
    with a message naming their table and count, and the schema stays at 0014; once they are
    corrected the upgrade goes through."""
    await asyncio.to_thread(migrate, fresh_url, "0014")
    conn = await asyncpg.connect(fresh_url)
    try:
        ours, theirs = str(uuid.uuid4()), str(uuid.uuid4())
        for account in (ours, theirs):
            await conn.execute(
                "INSERT INTO accounts (id, name, created_at) VALUES ($1, $1, 1)", account
            )
        customer_id = await insert_customer(conn, ours)
        await conn.execute(
            "INSERT INTO customer_properties (account_id, customer_id, key, value)"
            " VALUES ($1, $2, 'k', 'v')",
            theirs,
            customer_id,
        )
        code = await asyncio.to_thread(main, ["--database-url", fresh_url, "migrate"])
        err = capsys.readouterr().err
        assert code == 1
        assert "customer_properties: 1" in err
        assert "changed nothing" in err
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == "0014"
        await conn.execute("UPDATE customer_properties SET account_id = $1", ours)
        assert await asyncio.to_thread(main, ["--database-url", fresh_url, "migrate"]) == 0
        assert await conn.fetchval("SELECT version_num FROM alembic_version") != "0014"
    finally:
        await conn.close()
