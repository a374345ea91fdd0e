"""The store: one interface (`database.Database`), an engine per database, SQL shared by both."""

from __future__ import annotations

from patron.storage.database import Database
from patron.storage.postgres import PostgresDatabase
from patron.storage.sqlite import SQLiteDatabase, sqlite_path


async def open_database(
    url: str,
    *,
    pool_min: int = 2,
    pool_max: int = 10,
    connect_timeout: float = 5.0,
    command_timeout: float | None = None,
    statement_cache_size: int = 100,
) -> Database:
    """The timeouts and the statement cache apply to PostgreSQL only: SQLite is a file, with no
    server to wait for and nothing between Patron and it."""
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.connect(
            url,
            min_size=pool_min,
            max_size=pool_max,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
            statement_cache_size=statement_cache_size,
        )
    if url.startswith("sqlite:"):
        return SQLiteDatabase(sqlite_path(url))
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
