"""SQLite engine: stdlib sqlite3 on the event loop, WAL, foreign keys on, one writer.

Reads run on the loop directly: a keyed SQLite read takes microseconds, and a hop to a thread costs
more than it saves. Writes are serialised by an asyncio lock and `BEGIN IMMEDIATE`, so a second
process waits on SQLite's busy timeout instead of failing half-way through a transaction.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from patron.domain.errors import Unavailable
from patron.storage.database import BulkRows, Dialect, Row, UniqueViolation

_PLACEHOLDER = re.compile(r"\$(\d+)")
_UNIQUE_INDEX = re.compile(r"UNIQUE constraint failed: (.+)")


# What SQLite says when the file cannot take a write now: another process kept the write lock past
# the busy timeout, the file or its folder is read-only, the disk is full or failing.
_STUCK = ("locked", "busy", "readonly", "read-only", "disk")
# How long a write waits for another process's write lock before giving up.
BUSY_TIMEOUT_MS = 5000


@contextmanager
def _unavailable_when_stuck() -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        if not any(word in str(exc) for word in _STUCK):
            raise
        raise Unavailable("The database cannot take writes right now") from exc


@contextmanager
def _unique_violations() -> Iterator[None]:
    """A clash with a unique index as the engine-neutral UniqueViolation, naming the index."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        match = _UNIQUE_INDEX.search(str(exc))
        if match:
            raise UniqueViolation(match.group(1)) from exc
        raise


@lru_cache(maxsize=1024)
def _to_sqlite(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _params(values: Sequence[Any]) -> list[Any]:
    # Lists travel as JSON text and are unpacked by json_each (see Dialect.any_of). One call per
    # statement, not one per value: this runs for every statement.
    return [json.dumps(list(v)) if isinstance(v, (list, tuple)) else v for v in values]


def sqlite_path(url: str) -> str:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db` or `sqlite://:memory:`."""
    path = url.removeprefix("sqlite://")
    if path.startswith("/"):
        path = path[1:]
    return path or ":memory:"


class SQLiteConnection:
    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def _run(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        # Entered only on an error: a generator's context manager around every statement cost
        # ~4 % of a GET by id's CPU (docs/performance.md, Session 9).
        try:
            return self._raw.execute(_to_sqlite(sql), _params(args))
        except sqlite3.IntegrityError:
            with _unique_violations():
                raise

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return self._run(sql, args).fetchall()

    # A SQLite transaction costs no round trips: nothing to save by sending a statement alone.
    untouched = False
    fetch_last = fetch

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return self._run(sql, args).fetchone()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = self._run(sql, args).fetchone()
        return None if row is None else row[0]

    async def execute(self, sql: str, *args: Any) -> int:
        return self._run(sql, args).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with _unique_violations():
            self._raw.executemany(_to_sqlite(sql), [_params(r) for r in rows])


class SQLiteDatabase:
    dialect = Dialect("sqlite")

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; `transaction()` says BEGIN and COMMIT.
        raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        raw.row_factory = sqlite3.Row
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._raw = raw
        self._connection = SQLiteConnection(raw)
        self._write_lock = asyncio.Lock()
        self._writer: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SQLiteConnection]:
        yield self._connection

    @asynccontextmanager
    async def read_beside(self) -> AsyncIterator[SQLiteConnection]:
        # The one connection, once the write in progress (on a worker thread, `bulk_insert`) is
        # done. A second connection reading beside it cost more than it saved: its page cache is
        # cold after every write, and its read transactions hold back the WAL's checkpoints
        # (docs/performance.md, "Session 7: import").
        async with self._write_lock:
            yield self._connection

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        # Not through the connection's fetchrow: one coroutine fewer on GET by id's read.
        return self._connection._run(sql, args).fetchone()

    @asynccontextmanager
    async def transaction(self, *, best_effort: bool = False) -> AsyncIterator[SQLiteConnection]:
        if self._writer is not None and self._writer is asyncio.current_task():
            # The lock is not re-entrant: waiting would hang the task for good. Inside a request
            # transaction, open units with Store.writing(), which joins it.
            raise RuntimeError("this task holds the SQLite write transaction already")
        if best_effort and self._write_lock.locked():
            raise Unavailable("The database is taking another write")
        async with self._writing():
            with self._transaction(wait=not best_effort):
                yield self._connection

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """This task holds the connection for a write."""
        async with self._write_lock:
            self._writer = asyncio.current_task()
            try:
                yield
            finally:
                self._writer = None

    @contextmanager
    def _transaction(self, *, wait: bool) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the body raises; on whichever thread
        the body runs."""
        with _unavailable_when_stuck():
            self._begin(wait=wait)
        try:
            yield
        except BaseException:
            self._raw.execute("ROLLBACK")
            raise
        with _unavailable_when_stuck():
            self._raw.execute("COMMIT")

    def _begin(self, wait: bool) -> None:
        if wait:
            self._raw.execute("BEGIN IMMEDIATE")
            return
        # Another process's write lock: fail now instead of blocking the event loop for the busy
        # timeout.
        self._raw.execute("PRAGMA busy_timeout=0")
        try:
            self._raw.execute("BEGIN IMMEDIATE")
        finally:
            self._raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    async def bulk_insert(self, tables: Sequence[BulkRows], *, setup: Sequence[str] = ()) -> None:
        # Each table's rows as one JSON array unpacked by json_each, one statement a table (plain
        # values only: text, integers, booleans, NULL, as json_extract gives them back). The whole
        # transaction runs on a worker thread, where sqlite3 lets go of the GIL, so the import
        # decodes its next batch meanwhile; the commit too, which at times copies the WAL back
        # into the database file. `executemany` took the GIL back after every row, and with the
        # loop's thread busy decoding, waited for it each time (12 times slower).
        statements: list[tuple[str, tuple[Any, ...]]] = [(sql, ()) for sql in setup]
        for table, columns, records in tables:
            if records:
                values = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
                insert = (
                    f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM json_each(?)"
                )
                statements.append((insert, (msgspec.json.encode(records),)))
        async with self._writing():
            # Handed to the thread now: `to_thread` would start it only at the caller's next
            # await, and the importer plans its next batch first (tens of milliseconds).
            writing = asyncio.get_running_loop().run_in_executor(None, self._write_all, statements)
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                # The thread cannot be stopped: keep the connection until it is done with it.
                await asyncio.wait([writing])
                raise

    def _write_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        with self._transaction(wait=True), _unique_violations():
            for sql, args in statements:
                self._raw.execute(sql, args)

    async def check_writable(self) -> None:
        async with self.transaction() as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        self._raw.close()
