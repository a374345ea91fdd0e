"""The PostgreSQL pool's settings that a deployment depends on (docs/deploy.md)."""

from __future__ import annotations

import pytest

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
