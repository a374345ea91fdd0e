"""Migration 0016 (PostgreSQL): a write of an account with webhooks does not lock its policy's or
recipient's rows, and those rows are permanent (a policy's DELETE is soft)."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic import command

from patron.config import Settings
from patron.storage.migrate import _config, migrate
from tests.conftest import ClientFactory

from .test_account_row_unlocked import HOOK, create_while_locked

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres_only]

MIGRATION = importlib.import_module("patron.storage.migrations.versions.0016_webhook_rows_unlocked")


async def test_a_create_with_webhooks_waits_for_shared_rows_before_0016_and_not_after(
    fresh_url: str, settings: Settings
) -> None:
    await asyncio.to_thread(migrate, fresh_url, "0015")
    assert await create_while_locked(fresh_url, settings, webhook=True) is None
    await asyncio.to_thread(migrate, fresh_url)
    assert await create_while_locked(fresh_url, settings, webhook=True) == 201


@pytest.fixture
async def policy(
    new_client: ClientFactory, database_url: str
) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A live policy's id (made through the API) and a raw connection."""
    client = await new_client()
    created = await client.post(
        "/notifications/policies",
        json={"name": "hooks", "channel": "WEBHOOK", "recipients": [HOOK]},
    )
    assert created.status_code == 201, created.text
    conn = await asyncpg.connect(database_url)
    try:
        yield created.json()["id"], conn
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM notification_policies WHERE id = $1",
        "UPDATE notification_policies SET id = id || '-moved' WHERE id = $1",
        "DELETE FROM notification_recipients WHERE policy_id = $1",
        "UPDATE notification_recipients SET id = id || '-moved' WHERE policy_id = $1",
        "TRUNCATE notification_policies, notification_recipients CASCADE",
    ],
)
async def test_policies_and_recipients_are_never_deleted_or_rekeyed(
    policy: tuple[str, asyncpg.Connection], sql: str
) -> None:
    policy_id, conn = policy
    with pytest.raises(asyncpg.PostgresError, match="rows are permanent") as refused:
        await conn.execute(sql, *([policy_id] if "$1" in sql else []))
    assert refused.value.sqlstate == "PA002"
    kept = await conn.fetchval(
        "SELECT count(*) FROM notification_recipients r JOIN notification_policies p"
        " ON p.id = r.policy_id WHERE p.id = $1",
        policy_id,
    )
    assert kept == 1


async def test_a_policy_is_still_deleted_through_the_api(new_client: ClientFactory) -> None:
    """The API's DELETE is a soft one (`deleted_at`), which the guard lets through."""
    client = await new_client()
    created = await client.post(
        "/notifications/policies",
        json={"name": "hooks", "channel": "WEBHOOK", "recipients": [HOOK]},
    )
    policy_id = created.json()["id"]
    assert (await client.delete(f"/notifications/policies/{policy_id}")).status_code == 200
    assert (await client.get(f"/notifications/policies/{policy_id}")).status_code == 404


async def test_the_downgrade_restores_the_references(fresh_url: str) -> None:
    await asyncio.to_thread(migrate, fresh_url)
    await asyncio.to_thread(command.downgrade, _config(fresh_url), "0015")
    conn = await asyncpg.connect(fresh_url)
    try:
        found = {
            r["d"]
            for r in await conn.fetch(
                "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint"
                " WHERE contype = 'f' AND conrelid = 'webhook_deliveries'::regclass"
            )
        }
        assert found == {
            f"FOREIGN KEY ({column}) REFERENCES {table}(id)"
            for column, table in MIGRATION.REFERENCES
        }
        triggers = await conn.fetchval(
            "SELECT count(*) FROM pg_trigger"
            " WHERE NOT tgisinternal AND tgrelid = ANY($1::regclass[])",
            list(MIGRATION.PERMANENT),
        )
        assert triggers == 0
    finally:
        await conn.close()
