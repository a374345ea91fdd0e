"""The PostgreSQL pool's settings that a deployment depends on (docs/deploy.md)."""

from __future__ import annotations

import asyncio

import pytest

from patron.domain.errors import Unavailable
from patron.storage import open_database

pytestmark = pytest.mark.postgres_only


@pytest.mark.parametrize(("cache_size", "kept"), [(100, True), (0, False)])
async def test_statement_cache_size_zero_keeps_no_named_statement(
    database_url: str, cache_size: int, kept: bool
) -> None:
    """Behind PgBouncer in transaction mode a named prepared statement may be looked for on another
    server connection than the one it was prepared on; with the cache at 0 none is left behind."""
    db = await open_database(database_url, pool_min=1, pool_max=1, statement_cache_size=cache_size)
    try:
        async with db.read() as conn:
            await conn.fetchval("SELECT count(*) FROM accounts WHERE id = $1", "nobody")
            named = await conn.fetchval("SELECT count(*) FROM pg_prepared_statements")
        assert (named > 0) is kept
    finally:
        await db.close()


async def test_a_request_waits_for_a_busy_pool_no_longer_than_its_bound(database_url: str) -> None:
    """With every connection taken, a read gives up after the acquire bound (the connect timeout
    plus the command timeout) and answers Unavailable (503), instead of queueing for ever."""
    db = await open_database(database_url, pool_min=1, pool_max=1, connect_timeout=0.2)
    loop = asyncio.get_running_loop()
    try:
        async with db.read():
            started = loop.time()
            with pytest.raises(Unavailable):
                await db.fetchrow("SELECT 1")
            assert 0.2 <= loop.time() - started < 10
        row = await db.fetchrow("SELECT 1 AS one")  # the pool works on after it
        assert row is not None
        assert row["one"] == 1
    finally:
        await db.close()
