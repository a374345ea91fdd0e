"""PostgreSQL transactions begin with their first statement, and one whose only statement is its
last (`fetch_last`) sends it alone, without BEGIN and COMMIT (docs/performance.md, "Session 5")."""

from __future__ import annotations

import pytest

from patron.storage.database import Database

# Allowed only inside a transaction block (BEGIN ... COMMIT).
_IN_A_BLOCK_ONLY = "SAVEPOINT probe"


# SQLite transactions cost no round trips; nothing is sent alone there (deselected on SQLite).
pytestmark = pytest.mark.postgres_only


async def test_a_lone_last_statement_is_its_own_transaction(db: Database) -> None:
    async with db.transaction() as conn:
        assert conn.untouched
        with pytest.raises(Exception, match="can only be used in transaction blocks"):
            await conn.fetch_last(_IN_A_BLOCK_ONLY)  # no BEGIN went before it
        assert (await conn.fetch_last("SELECT 1 AS one"))[0]["one"] == 1
        assert not conn.untouched
        with pytest.raises(RuntimeError):
            await conn.fetch("SELECT 1")


async def test_after_another_statement_the_last_is_inside_the_transaction(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.fetch("SELECT 1")
        assert await conn.fetch_last(_IN_A_BLOCK_ONLY) == []


async def test_a_failed_lone_statement_leaves_the_transaction_usable(db: Database) -> None:
    table = "lone_statement_probe"
    await _drop(db, table)
    try:
        async with db.transaction() as conn:
            await conn.execute(f"CREATE TABLE {table} (n INTEGER PRIMARY KEY)")
        async with db.transaction() as conn:
            with pytest.raises(Exception, match="division by zero"):
                await conn.fetch_last(f"INSERT INTO {table} VALUES (1), (1 / 0) RETURNING n")
            assert conn.untouched  # nothing of it stayed; a transaction may follow
            await conn.execute(f"INSERT INTO {table} VALUES (2)")
        async with db.transaction() as conn:
            assert await conn.fetchval(f"SELECT array_agg(n) FROM {table}") == [2]
    finally:
        await _drop(db, table)


async def _drop(db: Database, table: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
