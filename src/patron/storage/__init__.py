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
) -> Database:
    """The timeouts apply to PostgreSQL (SQLite is a file: it has no server to wait for)."""
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.connect(
            url,
            min_size=pool_min,
            max_size=pool_max,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
        )
    if url.startswith("sqlite:"):
        return SQLiteDatabase(sqlite_path(url))
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
